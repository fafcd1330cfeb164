// The same Store as store.ts, kept in memory: the degraded mode for a page where
// IndexedDB is blocked (some private modes, storage disabled by policy). Events live as
// long as the page does; every rule of the queue is the same (admission.ts holds the
// rules both stores share; records.ts the records both write). It mirrors the IndexedDB
// store's semantics exactly, including its orderings (both run the same unit tests):
// - the queue is in insertion order (seq); readDue orders by nextAttemptAt, then seq;
// - dead letters are kept in seq order (the dead store's key), and the bound drops the
//   lowest seq first;
// - settle applies its settlements in order; one for an event no longer queued (settled
//   earlier, even in the same call) is a no-op.
// Every method settles asynchronously and returns copies, as IndexedDB does. Each
// operation is a top-level function on the store's state (`Memory`, memory-state.ts);
// those of the dead letters are in memory-dead-letters.ts.
import type { AgeSkew } from '../clock.js';
import { type Hold, capPerDestination, destinationOf } from '../destination.js';
import { applyOverflow, byCreation, byDue, countLeaving, countQueued, toEvict } from './admission.js';
import type { EnqueueLimits, EnqueueOutcome, Settlement, Store, StoreOptions } from './api.js';
import { boundDeadLetters, discard, readDead, requeue, toDead } from './memory-dead-letters.js';
import { type Memory, add, copies, deadBySeq, newMemory, queuedIdsAndKeys, run, write } from './memory-state.js';
import { type NewRecord, type QueuedRecord, retriedRecord } from './records.js';

export function openMemoryStore(options: StoreOptions = {}): Store {
  const m = newMemory(options);
  return {
    enqueue: (records, limits) => write(m, () => enqueue(m, records, limits)),
    readDue: (at, limit, exclude, skip, share) => run(() => readDue(m, at, limit, exclude, skip, share)),
    settle: (settlements) => write(m, () => settle(m, settlements)),
    release: (holds, at) => write(m, () => release(m, holds, at)),
    expire: (createdBefore, limit) => write(m, () => expire(m, createdBefore, limit)),
    // One page's memory: nobody else can flush it.
    lease: () => run(() => true),
    rebase: (maxWaitMs, skew) => write(m, () => rebase(m, maxWaitMs, skew)),
    forget: (before, limit) => write(m, () => forget(m, before, limit)),
    nextAttemptAt: (skip) => run(() => nextAttemptAt(m, skip)),
    queuedByDestination: () => run(() => ({ ...m.counters.destinations })),
    destinationHolds: () => run(() => ({ ...m.holds })),
    saveDestinationHolds: (holds) =>
      write(m, () => {
        m.holds = { ...holds };
      }),
    counters: () =>
      run(() => {
        const { destinations: _, ...rest } = m.counters;
        return rest;
      }),
    readDead: (limit, before) => run(() => readDead(m, limit, before)),
    requeue: (selection, maxQueueSize) => write(m, () => requeue(m, selection, maxQueueSize)),
    discard: (selection) => write(m, () => discard(m, selection)),
    // As IndexedDB's getAll: a count of 0 means all.
    deadLetters: (limit = 100) => run(() => copies(deadBySeq(m).slice(0, limit > 0 ? limit : undefined))),
    clear: () => write(m, () => clear(m)),
    close() {
      // Nothing to release; the events stay for as long as this object lives.
    },
  };
}

function enqueue(m: Memory, records: NewRecord[], limits: EnqueueLimits): { results: EnqueueOutcome[]; droppedIds: string[] } {
  const window = limits.dedupeWindowMs ?? 0;
  const keysOf = (r: NewRecord): string[] | undefined => (window > 0 && r.keys?.length ? r.keys : undefined);
  const at = m.now();
  const queued = queuedIdsAndKeys(m);
  const batchIds = new Set<string>();
  const batchKeys = new Set<string>();
  const known = (k: string) => {
    const deliveredAt = m.seen.get(k);
    return queued.keys.has(k) || batchKeys.has(k) || (deliveredAt !== undefined && deliveredAt > at - window);
  };
  const fresh: NewRecord[] = [];
  const results: EnqueueOutcome[] = records.map((r) => {
    const keys = keysOf(r);
    // By content: a duplicate when every key is known.
    const duplicate = queued.ids.has(r.id) || batchIds.has(r.id) || !!keys?.every(known);
    batchIds.add(r.id);
    for (const k of keys ?? []) batchKeys.add(k);
    if (!duplicate) fresh.push(r);
    return { id: r.id, ok: true, duplicate };
  });
  const evicted = evictOldest(m, toEvict(m.counters.queued, fresh.length, limits));
  const { accepted, droppedIds } = applyOverflow(m.counters, results, fresh, evicted, limits);
  for (const r of accepted) {
    const keys = keysOf(r);
    add(m, { id: r.id, url: r.url, body: r.body, ...(keys !== undefined ? { keys } : {}) }, at);
  }
  m.counters.queued += accepted.length;
  return { results, droppedIds };
}

/** Deletes the `count` oldest queued events (by insertion, whatever their schedule); returns their ids. */
function evictOldest(m: Memory, count: number): string[] {
  const ids: string[] = [];
  for (const [seq, record] of m.queue) {
    if (ids.length >= count) break;
    ids.push(record.id);
    m.queue.delete(seq);
    countQueued(m.counters, record.url, -1);
  }
  return ids;
}

function readDue(
  m: Memory,
  at: number,
  limit: number,
  exclude?: ReadonlySet<number>,
  skip?: ReadonlySet<string>,
  share?: number,
): QueuedRecord[] {
  const due = [...m.queue.values()].filter((r) => r.nextAttemptAt <= at && !exclude?.has(r.seq) && !skip?.has(destinationOf(r.url)));
  return copies(capPerDestination(due.sort(byDue), share).slice(0, Math.max(0, limit)));
}

function settle(m: Memory, settlements: Settlement[]): { applied: number; droppedIds: string[] } {
  let applied = 0;
  for (const s of settlements) {
    const record = m.queue.get(s.seq);
    // Already gone (delivered by an earlier pass or just above, cleared): nothing to do.
    if (!record) continue;
    applied++;
    if (s.kind === 'delivered') {
      m.queue.delete(s.seq);
      for (const k of record.keys ?? []) m.seen.set(k, m.now());
      countLeaving(m.counters, record.url, 'delivered');
    } else if (s.kind === 'retry') {
      m.queue.set(s.seq, retriedRecord(record, s, m.now()));
      m.counters.retried++;
    } else toDead(m, record, s);
  }
  return { applied, droppedIds: boundDeadLetters(m) };
}

function release(m: Memory, holds: Hold[], at: number): number {
  let released = 0;
  for (const hold of holds) {
    for (const record of m.queue.values()) {
      if (record.hold === hold && record.nextAttemptAt > at) {
        record.nextAttemptAt = at;
        released++;
      }
    }
  }
  return released;
}

function expire(m: Memory, createdBefore: number, limit: number): { expiredIds: string[]; droppedIds: string[] } {
  const old = [...m.queue.values()]
    .filter((r) => r.createdAt < createdBefore)
    .sort(byCreation)
    .slice(0, Math.max(0, limit));
  for (const record of old) toDead(m, record, { tries: record.tries, reason: 'expired', status: 0 });
  return { expiredIds: old.map((r) => r.id), droppedIds: boundDeadLetters(m) };
}

function rebase(m: Memory, maxWaitMs: number, next?: AgeSkew): AgeSkew {
  const cap = m.now() + Math.max(0, maxWaitMs);
  for (const r of m.queue.values()) if (r.nextAttemptAt > cap) r.nextAttemptAt = cap;
  if (next) m.skew = { ...next };
  return { ...m.skew };
}

/** Forgets up to `limit` delivered keys seen before `before`, oldest first (then by key). */
function forget(m: Memory, before: number, limit: number): number {
  const old = [...m.seen.entries()]
    .filter(([, at]) => at < before)
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, Math.max(0, limit));
  for (const [key] of old) m.seen.delete(key);
  return old.length;
}

function nextAttemptAt(m: Memory, skip?: ReadonlySet<string>): number | undefined {
  let earliest: number | undefined;
  for (const r of m.queue.values()) {
    if (skip?.has(destinationOf(r.url))) continue;
    if (earliest === undefined || r.nextAttemptAt < earliest) earliest = r.nextAttemptAt;
  }
  return earliest;
}

function clear(m: Memory): void {
  m.queue.clear();
  m.dead.clear();
  m.seen.clear();
  m.counters.queued = 0;
  m.counters.destinations = {};
  m.counters.deadLettered = 0;
}
