// The memory store's dead letters (as dead-letters.ts for the IndexedDB store): the bound,
// the pages read, requeue and discard; and the move of a queued event into them.
import {
  countDeadDropped,
  countDiscarded,
  countLeaving,
  countRequeued,
  discardOutcome,
  overDeadLetterBound,
  requeueOutcome,
} from './admission.js';
import type { DeadSelection, DiscardOutcome, RequeueOutcome } from './api.js';
import { type Memory, add, copies, deadBySeq, queuedIdsAndKeys } from './memory-state.js';
import { type DeadRecord, type Death, type QueuedRecord, deadRecord } from './records.js';

export function toDead(m: Memory, record: QueuedRecord, death: Death): void {
  m.queue.delete(record.seq);
  m.dead.set(record.seq, deadRecord(record, death, m.now()));
  countLeaving(m.counters, record.url, 'deadLettered');
}

/** Keeps the dead letters within maxDeadLetters, dropping the lowest seq first. */
export function boundDeadLetters(m: Memory): string[] {
  const victims = deadBySeq(m).slice(0, overDeadLetterBound(m.counters, m.maxDeadLetters));
  for (const record of victims) m.dead.delete(record.seq);
  countDeadDropped(m.counters, victims.length);
  return victims.map((r) => r.id);
}

export function readDead(m: Memory, limit: number, before?: number): DeadRecord[] {
  const older = deadBySeq(m).filter((r) => before === undefined || r.seq < before);
  return copies(older.reverse().slice(0, Math.max(0, limit)));
}

/** The dead letters a selection names (in seq order), the ids not found, and the highest seq looked at. */
function selectDead(m: Memory, selection: DeadSelection): { found: DeadRecord[]; notFound: string[]; last?: number } {
  if ('ids' in selection) {
    const ids = new Set(selection.ids);
    const found = deadBySeq(m).filter((r) => ids.has(r.id));
    const seen = new Set(found.map((r) => r.id));
    return { found, notFound: [...ids].filter((id) => !seen.has(id)) };
  }
  const { after, through, limit } = selection;
  const found = deadBySeq(m)
    .filter((r) => r.seq > after && r.seq <= through)
    .slice(0, Math.max(0, limit));
  return { found, notFound: [], ...(found.length ? { last: found[found.length - 1]!.seq } : {}) };
}

export function requeue(m: Memory, selection: DeadSelection, maxQueueSize: number): RequeueOutcome {
  const { found, notFound, last } = selectDead(m, selection);
  const out = requeueOutcome(notFound, last);
  const queued = queuedIdsAndKeys(m);
  const at = m.now();
  for (const r of found) {
    // Queued already (by id, or every key; delivered keys do not count: this send is asked for).
    const keys = r.keys?.filter((k) => !queued.keys.has(k));
    if (queued.ids.has(r.id) || (r.keys?.length && !keys?.length)) {
      out.alreadyQueued.push(r.id);
      continue;
    }
    if (m.counters.queued >= maxQueueSize) {
      out.queueFull.push(r.id);
      continue;
    }
    add(m, { id: r.id, url: r.url, body: r.body, ...(keys?.length ? { keys } : {}) }, at);
    queued.ids.add(r.id);
    for (const k of keys ?? []) queued.keys.add(k);
    m.dead.delete(r.seq);
    countRequeued(m.counters, 1);
    out.requeued.push(r.id);
  }
  return out;
}

export function discard(m: Memory, selection: DeadSelection): DiscardOutcome {
  const { found, notFound, last } = selectDead(m, selection);
  for (const r of found) m.dead.delete(r.seq);
  countDiscarded(m.counters, found.length);
  return discardOutcome(found, notFound, last);
}
