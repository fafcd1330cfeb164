// The dead letters of the IndexedDB store (`dead`, in seq order): the bound that keeps
// them within maxDeadLetters (run by every write that adds some), the pages read for
// inspection, and the two things one can do with them: requeue and discard.
import {
  countDeadDropped,
  countDiscarded,
  countQueued,
  countRequeued,
  discardOutcome,
  overDeadLetterBound,
  requeueOutcome,
} from './admission.js';
import type { DeadSelection, DiscardOutcome, RequeueOutcome } from './api.js';
import type { StoreContext, Txn } from './context.js';
import { againstQueued } from './queued-duplicates.js';
import type { DeadRecord } from './records.js';
import type { WriteTx } from './schema.js';
import { addToQueue } from './segments.js';

/** Keeps the dead-letter store within maxDeadLetters, dropping the oldest; returns the ids it dropped. */
export async function boundDeadLetters(t: Txn): Promise<string[]> {
  const over = overDeadLetterBound(t.counters, t.maxDeadLetters);
  const droppedIds: string[] = [];
  if (over === 0) return droppedIds;
  let cursor = await t.tx.objectStore('dead').openCursor();
  while (cursor && droppedIds.length < over) {
    droppedIds.push(cursor.value.id);
    await cursor.delete();
    cursor = await cursor.continue();
  }
  countDeadDropped(t.counters, droppedIds.length);
  return droppedIds;
}

/** The dead letters a selection names (in seq order), the ids not found, and the highest seq looked at. */
async function selectDead(tx: WriteTx, selection: DeadSelection): Promise<{ found: DeadRecord[]; notFound: string[]; last?: number }> {
  const dead = tx.objectStore('dead');
  if ('ids' in selection) {
    const ids = [...new Set(selection.ids)];
    const byId = await Promise.all(ids.map((id) => dead.index('id').getAll(id)));
    return {
      found: byId.flat().sort((a, b) => a.seq - b.seq),
      notFound: ids.filter((_, i) => byId[i]!.length === 0),
    };
  }
  if (selection.limit <= 0 || selection.after >= selection.through) return { found: [], notFound: [] };
  const found = await dead.getAll(IDBKeyRange.bound(selection.after, selection.through, true, false), selection.limit);
  return { found, notFound: [], ...(found.length ? { last: found[found.length - 1]!.seq } : {}) };
}

/** Store.requeue: the selected dead letters back in the queue, as new events, unless queued or no room. */
export async function requeue(t: Txn, selection: DeadSelection, maxQueueSize: number): Promise<RequeueOutcome> {
  const { tx, counters } = t;
  const { found, notFound, last } = await selectDead(tx, selection);
  const out = requeueOutcome(notFound, last);
  if (found.length === 0) return out;
  // Queued already (by id, or every key; delivered keys do not count: this send is asked for).
  const { duplicates, keys } = await againstQueued(tx, found, Number.POSITIVE_INFINITY, true);
  const room = Math.max(0, maxQueueSize - counters.queued);
  const candidates: DeadRecord[] = [];
  for (const r of found) {
    if (duplicates.has(r.id)) out.alreadyQueued.push(r.id);
    else if (candidates.length < room) candidates.push(r);
    else out.queueFull.push(r.id);
  }
  const refused = new Set(
    await addToQueue(
      tx,
      candidates.map((r) => {
        const k = r.keys ? keys.get(r.id) : undefined;
        return { id: r.id, url: r.url, body: r.body, ...(k?.length ? { keys: k } : {}) };
      }),
      t.now(),
    ),
  );
  const dead = tx.objectStore('dead');
  for (const r of candidates) {
    // (A unique index of `queue` refused it: the same id or key twice among these.)
    if (refused.has(r.id)) {
      out.alreadyQueued.push(r.id);
      continue;
    }
    void dead.delete(r.seq);
    out.requeued.push(r.id);
    countQueued(counters, r.url, 1);
  }
  countRequeued(counters, out.requeued.length);
  return out;
}

/** Store.discard: the selected dead letters deleted. */
export async function discard(t: Txn, selection: DeadSelection): Promise<DiscardOutcome> {
  const { found, notFound, last } = await selectDead(t.tx, selection);
  const dead = t.tx.objectStore('dead');
  await Promise.all(found.map((r) => dead.delete(r.seq)));
  countDiscarded(t.counters, found.length);
  return discardOutcome(found, notFound, last);
}

/** Store.readDead: one page, newest first, read with a cursor. */
export async function readDead(ctx: StoreContext, limit: number, before?: number): Promise<DeadRecord[]> {
  const records: DeadRecord[] = [];
  if (limit <= 0) return records;
  const database = await ctx.db();
  const tx = database.transaction('dead');
  let cursor = await tx.store.openCursor(before === undefined ? null : IDBKeyRange.upperBound(before, true), 'prev');
  while (cursor) {
    records.push(cursor.value);
    cursor = records.length < limit ? await cursor.continue() : null;
  }
  await tx.done;
  return records;
}

/** Store.deadLetters: the oldest `limit`. */
export async function deadLetters(ctx: StoreContext, limit = 100): Promise<DeadRecord[]> {
  if (limit <= 0) return []; // (getAll reads everything for a count of 0)
  const database = await ctx.db();
  return database.getAll('dead', undefined, limit);
}
