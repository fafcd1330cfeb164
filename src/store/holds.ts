// What holds sending back, as the IndexedDB store keeps it: events held for a reason
// (`release` makes them due), destinations held back by delivery (saved, read back by a
// restarted worker), and the flushing lease for contexts without Web Locks.
import type { DestinationHold, Hold } from '../destination.js';
import type { StoreContext, Txn } from './context.js';
import { getMeta, putMeta } from './schema.js';

/** Store.release: events held for one of `holds`, scheduled after `at`, due at `at`. Returns how many. */
export async function release(t: Txn, holds: Hold[], at: number): Promise<number> {
  const index = t.tx.objectStore('queue').index('hold');
  let released = 0;
  for (const hold of holds) {
    let cursor = await index.openCursor(hold);
    while (cursor) {
      if (cursor.value.nextAttemptAt > at) {
        await cursor.update({ ...cursor.value, nextAttemptAt: at });
        released++;
      }
      cursor = await cursor.continue();
    }
  }
  return released;
}

/** Store.destinationHolds: as last saved. */
export async function destinationHolds(ctx: StoreContext): Promise<Record<string, DestinationHold>> {
  const database = await ctx.db();
  return { ...(await getMeta(database.transaction('meta').store, 'holds')) };
}

export async function saveDestinationHolds(t: Txn, holds: Record<string, DestinationHold>): Promise<void> {
  await putMeta(t.tx.objectStore('meta'), 'holds', { ...holds });
}

/** Store.lease: true if `owner` holds the lease until `at + ttlMs`. */
export async function lease(t: Txn, owner: string, at: number, ttlMs: number): Promise<boolean> {
  const meta = t.tx.objectStore('meta');
  const current = await getMeta(meta, 'lease');
  // (A lease never lasts longer than its ttl: one beyond it was written before the clock went back.)
  if (current && current.owner !== owner && current.until > at && current.until <= at + ttlMs) return false;
  await putMeta(meta, 'lease', { owner, until: at + ttlMs });
  return true;
}
