// The keys of delivered events, kept for the de-duplication window: records of `fresh`
// under negative keys (-1, -2, ... in the order they were written), with no events, only
// keys. The unique `keys` index of `fresh` then refuses a re-send of a delivered event
// exactly as it refuses a queued duplicate (schema.ts, version 4). `forget` drops them
// once the window has passed.
import { addUnlessDuplicate } from './database.js';
import type { Txn } from './context.js';
import { type Segment, getMeta, putMeta } from './schema.js';

/** In `fresh`, segments have keys ≥ 1; the keys of delivered events, keys < 0. (Made when used: IDBKeyRange may be missing.) */
const DELIVERED = () => IDBKeyRange.upperBound(0, true);

/** Keeps the keys of events delivered now, for the de-duplication window. */
export async function rememberDelivered(t: Pick<Txn, 'tx' | 'now'>, keys: string[]): Promise<void> {
  const { tx } = t;
  const meta = tx.objectStore('meta');
  const n = ((await getMeta(meta, 'delivered-keys')) ?? 0) + 1;
  void putMeta(meta, 'delivered-keys', n);
  const fresh = tx.objectStore('fresh');
  const record: Segment = { seg: -n, createdAt: t.now(), events: [], ids: [], keys: [...new Set(keys)] };
  if (await addUnlessDuplicate(fresh, record)) return;
  // Some are kept already (delivered twice): the others are.
  const held = await Promise.all(record.keys.map((k) => fresh.index('keys').getKey(k)));
  record.keys = record.keys.filter((_, i) => held[i] === undefined);
  if (record.keys.length) await fresh.add(record);
}

/** Forgets up to `limit` keys of delivered events seen before `before` (oldest first). Returns how many. */
export async function forgetDelivered(t: Txn, before: number, limit: number): Promise<number> {
  let forgotten = 0;
  // Oldest first: -1, -2, ...
  let cursor = await t.tx.objectStore('fresh').openCursor(DELIVERED(), 'prev');
  while (cursor && forgotten < limit && cursor.value.createdAt < before) {
    forgotten += cursor.value.keys.length;
    await cursor.delete();
    cursor = await cursor.continue();
  }
  return forgotten;
}
