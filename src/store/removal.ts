// Events leaving the IndexedDB store undelivered, wherever they are queued (a fresh
// segment or `queue`): the oldest evicted by 'drop-oldest' (enqueue.ts), and those past
// maxAgeMs moved to the dead letters as expired (`expire`), and all of them at once (`clear`).
import { byCreation, countLeaving, countQueued } from './admission.js';
import type { Txn } from './context.js';
import { boundDeadLetters } from './dead-letters.js';
import { rememberDelivered } from './delivered-keys.js';
import { type QueuedRecord, deadRecord } from './records.js';
import type { WriteTx } from './schema.js';
import { loadSpent, markGone, readFresh, saveSpent, stillIn } from './segments.js';

/**
 * The first `count` by `order` of the queued events `fromQueue` reads (from `queue`) and
 * of the fresh ones in the segments `keepFresh` accepts (by creation, in seq order).
 */
async function oldest(
  tx: WriteTx,
  count: number,
  fromQueue: () => Promise<QueuedRecord[]>,
  keepFresh: (createdAt: number) => boolean,
  order: (a: QueuedRecord, b: QueuedRecord) => number,
): Promise<QueuedRecord[]> {
  const [queued, fresh] = await Promise.all([fromQueue(), readFresh(tx, count, { take: keepFresh })]);
  return [...queued, ...fresh].sort(order).slice(0, count);
}

/** Removes these events (read with `oldest`) from wherever they are queued. */
async function removeQueued(t: Txn, records: QueuedRecord[]): Promise<void> {
  const { tx } = t;
  const spent = await loadSpent(
    tx,
    records.map((r) => r.seq),
  );
  const writes: Promise<unknown>[] = [];
  for (const r of records) {
    const st = stillIn(spent, r.seq);
    if (st) markGone(st, r.seq);
    else writes.push(tx.objectStore('queue').delete(r.seq));
  }
  const left = saveSpent(tx, spent);
  writes.push(left.done);
  if (left.delivered.length) writes.push(rememberDelivered(t, left.delivered));
  await Promise.all(writes);
}

/** Deletes the `count` oldest queued events (by insertion, whatever their schedule); returns their ids. */
export async function evictOldest(t: Txn, count: number): Promise<string[]> {
  const { tx, counters } = t;
  const victims = await oldest(
    tx,
    count,
    () => tx.objectStore('queue').getAll(undefined, count),
    () => true,
    (a, b) => a.seq - b.seq,
  );
  await removeQueued(t, victims);
  for (const r of victims) countQueued(counters, r.url, -1);
  return victims.map((r) => r.id);
}

/** Store.expire: up to `limit` events created before `createdBefore`, oldest first, to the dead letters. */
export async function expire(t: Txn, createdBefore: number, limit: number): Promise<{ expiredIds: string[]; droppedIds: string[] }> {
  const { tx, counters } = t;
  const dead = tx.objectStore('dead');
  const expired = await oldest(
    tx,
    limit,
    () => tx.objectStore('queue').index('createdAt').getAll(IDBKeyRange.upperBound(createdBefore, true), limit),
    (createdAt) => createdAt < createdBefore,
    byCreation,
  );
  await removeQueued(t, expired);
  await Promise.all(expired.map((record) => dead.put(deadRecord(record, { reason: 'expired', status: 0, tries: record.tries }, t.now()))));
  for (const r of expired) countLeaving(counters, r.url, 'deadLettered');
  return { expiredIds: expired.map((r) => r.id), droppedIds: await boundDeadLetters(t) };
}

/** Store.clear: the queue and the dead letters emptied (sign-out). Counters of history stay; the keys of delivered events go (they are in `fresh`). */
export async function clear(t: Txn): Promise<void> {
  const { tx, counters } = t;
  await tx.objectStore('queue').clear();
  await tx.objectStore('fresh').clear();
  await tx.objectStore('spent').clear();
  await tx.objectStore('dead').clear();
  counters.queued = 0;
  counters.destinations = {};
  counters.deadLettered = 0;
}
