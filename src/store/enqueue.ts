// Store.enqueue in the IndexedDB store: new events in, duplicates out, the overflow rule
// applied (admission.ts), all in one write transaction.
// The usual case (room for all, no event has failed) reads nothing per event: the events
// go into fresh segments at once and the unique indexes of `fresh` refuse duplicates of
// queued or delivered events (segments.ts); a segment refused is then looked at event by
// event (queued-duplicates.ts). Near a full queue, or once events have failed (`queue`
// holds some), duplicates are found first, so that the room left is spent on events
// really new.
import { applyOverflow, countQueued, duplicateOutcome, markOutcomes, toEvict } from './admission.js';
import type { EnqueueLimits, EnqueueOutcome } from './api.js';
import type { Txn } from './context.js';
import { againstQueued } from './queued-duplicates.js';
import type { NewRecord } from './records.js';
import { evictOldest } from './removal.js';
import { addSegments, addToQueue } from './segments.js';

/** One enqueue call inside its transaction: the outcomes it gives, as they are decided. */
interface Enqueueing {
  t: Txn;
  results: EnqueueOutcome[];
  /** When its events are created. */
  at: number;
  /** The de-duplication window (0: keys are not looked at). */
  window: number;
  /** `queue` holds events (that failed): its indexes are asked too. */
  retries: boolean;
}

export async function enqueue(
  t: Txn,
  records: NewRecord[],
  limits: EnqueueLimits,
): Promise<{ results: EnqueueOutcome[]; droppedIds: string[] }> {
  const window = limits.dedupeWindowMs ?? 0;
  const at = t.now();
  const { results, candidates } = withinBatch(records, window);
  // Does `queue` hold anything (events that failed)? Read once: it gains records in this
  // transaction only after the last look below (addToQueue).
  const retries = (await t.tx.objectStore('queue').openKeyCursor()) !== null;
  const e: Enqueueing = { t, results, at, window, retries };
  const { counters } = t;
  // Room for all, and no event has failed (the usual case): added at once, the unique
  // indexes of `fresh` refusing duplicates. (Those of `queue` are not asked.)
  if (!retries && counters.queued + candidates.length <= limits.maxQueueSize) {
    counters.queued += await storeNew(e, candidates);
    return { results, droppedIds: [] };
  }
  const fresh = await withoutQueued(e, candidates);
  const evict = toEvict(counters.queued, fresh.length, limits);
  const evicted = evict > 0 ? await evictOldest(t, evict) : [];
  const { accepted, droppedIds } = applyOverflow(counters, results, fresh, evicted, limits);
  counters.queued += await storeNew(e, accepted);
  return { results, droppedIds };
}

/**
 * Duplicates within the batch (an id, or every key, earlier in it). The others keep the
 * keys no earlier event holds: a batch (several keys) that shares only some of its events
 * with others is stored all the same (it cannot be trimmed), holding the keys no other
 * record holds. Keys count only with a window.
 */
function withinBatch(records: NewRecord[], window: number): { results: EnqueueOutcome[]; candidates: NewRecord[] } {
  const keyed = (r: NewRecord): r is NewRecord & { keys: string[] } => window > 0 && !!r.keys?.length;
  const inBatch = new Set<string>();
  const candidates: NewRecord[] = [];
  const results: EnqueueOutcome[] = records.map((r) => {
    const fresh = keyed(r) ? r.keys.filter((k) => !inBatch.has(`key:${k}`)) : undefined;
    const duplicate = inBatch.has(r.id) || fresh?.length === 0;
    inBatch.add(r.id);
    if (keyed(r)) for (const k of r.keys) inBatch.add(`key:${k}`);
    if (!duplicate) candidates.push({ id: r.id, url: r.url, body: r.body, ...(fresh ? { keys: fresh } : {}) });
    return { id: r.id, ok: true, duplicate };
  });
  return { results, candidates };
}

/** Drops the duplicates of queued or delivered events from `list` (marking them), trimming the keys of the rest. */
async function withoutQueued(e: Enqueueing, list: NewRecord[]): Promise<NewRecord[]> {
  const { duplicates, keys } = await againstQueued(e.t.tx, list, e.at - e.window, e.retries);
  markOutcomes(e.results, duplicates, duplicateOutcome);
  return list.filter((r) => !duplicates.has(r.id)).map((r) => (r.keys ? { ...r, keys: keys.get(r.id) } : r));
}

/**
 * Adds `list`; the events of a segment a unique index refused are checked one by one, and
 * those not queued go to `queue` (the segment's indexes may hold their id or key for an
 * event that is gone). Counts what was stored, per destination too; resolves to how many.
 */
async function storeNew(e: Enqueueing, list: NewRecord[]): Promise<number> {
  const { tx, counters } = e.t;
  const refused = new Set(await addSegments(tx, list, e.at));
  const left = refused.size ? await withoutQueued(e, [...refused]) : [];
  const duplicates = new Set(await addToQueue(tx, left, e.at));
  markOutcomes(e.results, duplicates, duplicateOutcome);
  let n = 0;
  for (const r of [...list.filter((r) => !refused.has(r)), ...left.filter((r) => !duplicates.has(r.id))]) {
    countQueued(counters, r.url, 1);
    n++;
  }
  return n;
}
