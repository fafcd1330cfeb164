// The IndexedDB store's reads: the next page of due events (`readDue`, what the flusher
// sends), the next wake-up (`nextAttemptAt`) and the counters. Each read is a readonly
// transaction of its own, outside the write queue; the one exception is the per-destination
// count of an older version's database, counted once from the data in a write.
import { capPerDestination, destinationOf } from '../destination.js';
import { ZERO, byDue } from './admission.js';
import type { StoreContext, Txn } from './context.js';
import type { Counters, QueuedRecord } from './records.js';
import { type ReadTx, type StoreName, getMeta } from './schema.js';
import { readFresh } from './segments.js';

/** What a page leaves out: seqs in flight (`exclude`), destinations (`skip`), and how many of one destination it takes (`share`). */
interface PageFilter {
  exclude?: ReadonlySet<number> | undefined;
  skip?: ReadonlySet<string> | undefined;
  share?: number | undefined;
}

/** Store.readDue: retries due by `at` and fresh events, merged in due order, shared between destinations. */
export async function readDue(ctx: StoreContext, at: number, limit: number, filter: PageFilter): Promise<QueuedRecord[]> {
  if (limit <= 0) return []; // (getAll reads everything for a count of 0)
  const database = await ctx.db();
  const tx = database.transaction(['queue', 'fresh', 'spent'] as StoreName[], 'readonly');
  const [retries, fresh] = await Promise.all([
    readRetries(tx, at, limit, filter),
    readFresh(tx, limit, { take: (createdAt) => createdAt <= at, ...filter }),
  ]);
  await tx.done;
  return capPerDestination([...retries, ...fresh].sort(byDue), filter.share).slice(0, limit);
}

/**
 * Events that failed before, due by `at` (one request for the page: a cursor costs a round
 * trip per record; more asked for while those of `skip` or `exclude` took the room).
 */
async function readRetries(tx: ReadTx, at: number, limit: number, { exclude, skip, share }: PageFilter): Promise<QueuedRecord[]> {
  const wanted = (r: QueuedRecord) => !exclude?.has(r.seq) && !(skip?.size && skip.has(destinationOf(String(r.url))));
  const index = tx.objectStore('queue').index('nextAttemptAt');
  for (let count = limit + (exclude?.size ?? 0); ; count *= 4) {
    const due = await index.getAll(IDBKeyRange.upperBound(at), count);
    // (Capped per destination after the reading stops as without a share: a retry
    // backlog is not read whole to find another destination's retries behind it.)
    const kept = due.filter(wanted);
    if (due.length < count || kept.length >= limit) return capPerDestination(kept, share);
  }
}

/** Store.nextAttemptAt: the earlier of the first retry and the first fresh segment (none of `skip`). */
export async function nextAttemptAt(ctx: StoreContext, skip?: ReadonlySet<string>): Promise<number | undefined> {
  const database = await ctx.db();
  const tx = database.transaction(['queue', 'spent', 'fresh']);
  const skipped = (url: unknown) => !!skip?.size && skip.has(destinationOf(String(url)));
  // The first retry not skipped (after a bounded walk, the one there: a wake-up too early is harmless).
  const retry = async (): Promise<number | undefined> => {
    let cursor = await tx.objectStore('queue').index('nextAttemptAt').openCursor();
    for (let steps = 0; cursor && steps < 1000 && skipped(cursor.value.url); steps++) cursor = await cursor.continue();
    return cursor?.value.nextAttemptAt;
  };
  // A fresh segment is due at its creation, and the first one holds an event still.
  const fresh = async (): Promise<number | undefined> => {
    if (!skip?.size) return (await tx.objectStore('spent').openCursor())?.value.createdAt;
    const [first] = await readFresh(tx, 1, { take: () => true, skip });
    return first?.createdAt;
  };
  const times = (await Promise.all([retry(), fresh()])).filter((t): t is number => t !== undefined);
  return times.length ? Math.min(...times) : undefined;
}

/** Store.counters: as last written, without the per-destination counts and the clock. */
export async function counters(ctx: StoreContext): Promise<Counters> {
  const database = await ctx.db();
  // (Per destination: queuedByDestination.)
  const { destinations: _, clock: __, ...rest } = { ...ZERO, ...(await getMeta(database.transaction('meta').store, 'counters')) };
  return rest;
}

/** Store.queuedByDestination: from the counters; those of an older version: counted once from the data. */
export async function queuedByDestination(ctx: StoreContext): Promise<Record<string, number>> {
  const database = await ctx.db();
  const saved = await getMeta(database.transaction('meta').store, 'counters');
  if (saved?.destinations || !saved?.queued) return { ...saved?.destinations };
  return ctx.write(countByDestination);
}

async function countByDestination(t: Txn): Promise<Record<string, number>> {
  const { tx, counters: current } = t;
  if (current.destinations) return { ...current.destinations };
  const map: Record<string, number> = {};
  const add = (url: string, n = 1) => (map[destinationOf(url)] = (map[destinationOf(url)] ?? 0) + n);
  let cursor = await tx.objectStore('queue').openCursor();
  for (; cursor; cursor = await cursor.continue()) add(String(cursor.value.url));
  let spent = await tx.objectStore('spent').openCursor();
  for (; spent; spent = await spent.continue()) {
    const { seg, n, gone, dest } = spent.value;
    if (dest !== undefined) add(dest, n - gone.length);
    else {
      const segment = await tx.objectStore('fresh').get(seg);
      const left = new Set(gone);
      for (const [i, e] of (segment?.events ?? []).entries()) if (i < n && !left.has(i)) add(e.url);
    }
  }
  current.destinations = map;
  return { ...map };
}
