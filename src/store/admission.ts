// The rules of what a queue admits and keeps, pure, written once for both stores (the
// IndexedDB store and the memory store call them; admission.test.ts tests them alone):
// - overflow: past `maxQueueSize`, 'reject-new' refuses what does not fit (a queue-full
//   error naming the event), 'drop-oldest' evicts the oldest queued events and, when one
//   batch is larger than the whole queue, keeps that batch's newest;
// - the dead-letter bound: beyond `maxDeadLetters` the oldest (lowest seq) go, counted as dropped;
// - the counters: what each move into, out of and back into the queue counts, never
//   below zero (a record written by other code may not have been counted);
// - the order of a page of due events (`byDue`).
import { destinationOf } from '../destination.js';
import { OutboxError } from '../errors.js';
import type { DiscardOutcome, EnqueueLimits, EnqueueOutcome, RequeueOutcome } from './api.js';
import type { Counters, QueuedRecord } from './records.js';

/** The counters of an empty store that never did anything. */
export const ZERO: Counters = { queued: 0, deadLettered: 0, delivered: 0, dropped: 0, retried: 0 };

/** Dead letters kept when the options do not say. */
export const DEFAULT_MAX_DEAD_LETTERS = 1000;

/** The order of a page of due events: the earliest due first, then insertion order. */
export const byDue = (a: QueuedRecord, b: QueuedRecord): number => a.nextAttemptAt - b.nextAttemptAt || a.seq - b.seq;

/** The order expiry takes events in: the oldest created first, then insertion order. */
export const byCreation = (a: QueuedRecord, b: QueuedRecord): number => a.createdAt - b.createdAt || a.seq - b.seq;

// --- overflow --------------------------------------------------------------------------

/**
 * Step one of admitting `incoming` new events (not duplicates) into a queue of `queued`:
 * how many of the oldest queued events 'drop-oldest' evicts first (none when they fit,
 * none under 'reject-new', never more than are queued).
 */
export function toEvict(queued: number, incoming: number, limits: EnqueueLimits): number {
  const overBy = queued + incoming - limits.maxQueueSize;
  return overBy > 0 && limits.overflow !== 'reject-new' ? Math.min(overBy, queued) : 0;
}

/**
 * Step two, once the evicted are gone (`queued` counts what is left): which of `incoming`
 * are stored. Past the limit, 'reject-new' refuses those that do not fit (the latest),
 * and 'drop-oldest' drops the earliest of the batch (one larger than the queue keeps its
 * newest events).
 */
export function admit<R>(queued: number, incoming: R[], limits: EnqueueLimits): { accepted: R[]; refused: R[]; dropped: R[] } {
  const over = queued + incoming.length - limits.maxQueueSize;
  if (over <= 0) return { accepted: incoming, refused: [], dropped: [] };
  if (limits.overflow === 'reject-new') {
    const room = Math.max(0, limits.maxQueueSize - queued);
    return { accepted: incoming.slice(0, room), refused: incoming.slice(room), dropped: [] };
  }
  return { accepted: incoming.slice(over), refused: [], dropped: incoming.slice(0, over) };
}

/**
 * Step two as both stores take it: `evictedIds` (step one's) gone from the count, the
 * events admitted, those refused marked with queue-full in `results`, the dropped counted.
 * Resolves to the events to store and the ids dropped (evicted, then of this batch).
 */
export function applyOverflow<R extends { id: string }>(
  counters: Counters,
  results: EnqueueOutcome[],
  incoming: R[],
  evictedIds: string[],
  limits: EnqueueLimits,
): { accepted: R[]; droppedIds: string[] } {
  counters.queued -= evictedIds.length;
  const { accepted, refused, dropped } = admit(counters.queued, incoming, limits);
  markOutcomes(results, new Set(refused.map((r) => r.id)), (id) => ({ id, ok: false, error: queueFull(id, limits) }));
  const droppedIds = [...evictedIds, ...dropped.map((r) => r.id)];
  counters.dropped += droppedIds.length;
  return { accepted, droppedIds };
}

/** The error of an event refused by a full queue under 'reject-new'. */
export function queueFull(id: string, limits: EnqueueLimits): OutboxError {
  return new OutboxError(
    'queue-full',
    `queue is full (maxQueueSize ${limits.maxQueueSize}, overflow "reject-new"); event ${id} was not queued`,
  );
}

/** Replaces the outcome of each event of `ids` still counted as added (not a duplicate, not refused). */
export function markOutcomes(results: EnqueueOutcome[], ids: ReadonlySet<string>, outcome: (id: string) => EnqueueOutcome): void {
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    if (ids.has(r.id) && r.ok && !r.duplicate) results[i] = outcome(r.id);
  }
}

/** The outcome of an event found to be a duplicate. */
export const duplicateOutcome = (id: string): EnqueueOutcome => ({ id, ok: true, duplicate: true });

// --- the dead-letter bound --------------------------------------------------------------

/** How many dead letters the bound drops now (the oldest first). */
export function overDeadLetterBound(counters: Counters, maxDeadLetters: number): number {
  return Math.max(0, counters.deadLettered - maxDeadLetters);
}

/** Counts `n` dead letters dropped by the bound. */
export function countDeadDropped(counters: Counters, n: number): void {
  counters.deadLettered -= n;
  counters.dropped += n;
}

// --- counting ---------------------------------------------------------------------------

/** Counts `delta` queued events more (or fewer) for the destination of `url`, never below zero. */
export function countQueued(counters: Counters, url: string, delta: number): void {
  const map = (counters.destinations ??= {});
  const key = destinationOf(url);
  const n = Math.max(0, (map[key] ?? 0) + delta);
  if (n === 0) delete map[key];
  else map[key] = n;
}

/** Counts a queued event (of `url`) leaving the queue, delivered or dead-lettered. */
export function countLeaving(counters: Counters, url: string, as: 'delivered' | 'deadLettered'): void {
  counters.queued = Math.max(0, counters.queued - 1);
  countQueued(counters, url, -1);
  counters[as]++;
}

/** Counts `n` dead letters put back in the queue. */
export function countRequeued(counters: Counters, n: number): void {
  counters.queued += n;
  counters.deadLettered = Math.max(0, counters.deadLettered - n);
  if (n) counters.requeued = (counters.requeued ?? 0) + n;
}

/** Counts `n` dead letters deleted on request. */
export function countDiscarded(counters: Counters, n: number): void {
  counters.deadLettered = Math.max(0, counters.deadLettered - n);
  if (n) counters.discarded = (counters.discarded ?? 0) + n;
}

/** A requeue's outcome before it requeues anything. */
export function requeueOutcome(notFound: string[], last: number | undefined): RequeueOutcome {
  return { requeued: [], alreadyQueued: [], queueFull: [], notFound, ...(last !== undefined ? { last } : {}) };
}

/** A discard's outcome: the ids of the dead letters deleted (each once). */
export function discardOutcome(found: { id: string }[], notFound: string[], last: number | undefined): DiscardOutcome {
  return { discarded: [...new Set(found.map((r) => r.id))], notFound, ...(last !== undefined ? { last } : {}) };
}
