// The same Store as store.ts, kept in memory: the degraded mode for a page where
// IndexedDB is blocked (some private modes, storage disabled by policy). Events live as
// long as the page does; every rule of the queue is the same. It mirrors the IndexedDB
// store's semantics exactly, including its orderings (both run the same unit tests):
// - the queue is in insertion order (seq); readDue orders by nextAttemptAt, then seq;
// - dead letters are kept in seq order (the dead store's key), and the bound drops the
//   lowest seq first;
// - settle applies its settlements in order; one for an event no longer queued (settled
//   earlier, even in the same call) is a no-op.
// Every method settles asynchronously and returns copies, as IndexedDB does.
import { type AgeSkew, CLOCK_TOLERANCE_MS, NO_SKEW, movedBack } from '../clock.js';
import { OutboxError } from '../errors.js';
import { type DestinationHold, capPerDestination, destinationOf } from '../destination.js';
import {
  type Counters,
  type DeadRecord,
  type DeadSelection,
  type EnqueueOutcome,
  type NewRecord,
  type QueuedRecord,
  type RequeueOutcome,
  type Store,
  type StoreOptions,
  countQueued,
  recordMovedBack,
} from './store.js';

const ZERO: Counters = { queued: 0, deadLettered: 0, delivered: 0, dropped: 0, retried: 0 };

export function openMemoryStore(options: StoreOptions = {}): Store {
  const maxDeadLetters = options.maxDeadLetters ?? 1000;
  const now = options.now ?? Date.now;

  // The queue iterates in seq order: a Map iterates in insertion order, seq only grows,
  // and a retry replaces a record with `set`, which keeps its position. Dead letters
  // arrive in any seq order, so they are sorted when read.
  const queue = new Map<number, QueuedRecord>();
  const dead = new Map<number, DeadRecord>();
  const deadBySeq = () => [...dead.values()].sort((a, b) => a.seq - b.seq);
  /** Keys of delivered events → when they were delivered. */
  const seen = new Map<string, number>();
  const counters: Counters = { ...ZERO };
  let lastSeq = 0;
  let holds: Record<string, DestinationHold> = {};
  /** The latest time a write ended, and the skew saved (as StoreClock in store.ts). */
  let clockAt: number | undefined;
  let skew: AgeSkew = NO_SKEW;

  const byDue = (a: QueuedRecord, b: QueuedRecord) => a.nextAttemptAt - b.nextAttemptAt || a.seq - b.seq;

  // Keeps the dead letters within maxDeadLetters, dropping the lowest seq first.
  function boundDeadLetters(): string[] {
    const droppedIds: string[] = [];
    for (const record of deadBySeq()) {
      if (counters.deadLettered <= maxDeadLetters) break;
      droppedIds.push(record.id);
      dead.delete(record.seq);
      counters.deadLettered--;
      counters.dropped++;
    }
    return droppedIds;
  }

  function toDead(record: QueuedRecord, fields: Pick<DeadRecord, 'reason' | 'status' | 'tries'> & { detail?: string }): void {
    queue.delete(record.seq);
    const { detail, ...rest } = fields;
    dead.set(record.seq, { ...record, ...rest, deadAt: now(), ...(detail ? { detail } : {}) });
    counters.queued = Math.max(0, counters.queued - 1);
    countQueued(counters, record.url, -1);
    counters.deadLettered++;
  }

  // The dead letters a selection names (in seq order), the ids not found, and the highest seq looked at.
  function selectDead(selection: DeadSelection): { found: DeadRecord[]; notFound: string[]; last?: number } {
    if ('ids' in selection) {
      const ids = new Set(selection.ids);
      const found = deadBySeq().filter((r) => ids.has(r.id));
      const seen = new Set(found.map((r) => r.id));
      return { found, notFound: [...ids].filter((id) => !seen.has(id)) };
    }
    const { after, through, limit } = selection;
    const found = deadBySeq()
      .filter((r) => r.seq > after && r.seq <= through)
      .slice(0, Math.max(0, limit));
    return { found, notFound: [], ...(found.length ? { last: found[found.length - 1]!.seq } : {}) };
  }

  // Runs synchronously (so atomically), settles like an IndexedDB request would.
  const run = <T>(op: () => T): Promise<T> => Promise.resolve().then(op);
  // A write looks at the clock first, as the IndexedDB store's transactions do: went back
  // since the last write, the times still ahead move back with it.
  const write = <T>(op: () => T): Promise<T> =>
    run(() => {
      const at = now();
      if (clockAt !== undefined && at < clockAt - CLOCK_TOLERANCE_MS) moveBack(clockAt - at, at);
      const result = op();
      clockAt = Math.max(at, now());
      return result;
    });

  function moveBack(by: number, at: number): void {
    for (const [seq, r] of queue) if (r.nextAttemptAt > at) queue.set(seq, recordMovedBack(r, by, at));
    for (const [key, h] of Object.entries(holds)) holds[key] = { ...h, until: movedBack(h.until, by, at, true) };
    skew = { ...skew, since: movedBack(skew.since, by, at) };
  }

  return {
    enqueue(records, limits) {
      return write(() => {
        const window = limits.dedupeWindowMs ?? 0;
        const keysOf = (r: NewRecord): string[] | undefined => (window > 0 && r.keys?.length ? r.keys : undefined);
        const at = now();
        const queuedIds = new Set<string>();
        const queuedKeys = new Set<string>();
        for (const r of queue.values()) {
          queuedIds.add(r.id);
          for (const k of r.keys ?? []) queuedKeys.add(k);
        }

        const batchIds = new Set<string>();
        const batchKeys = new Set<string>();
        const fresh: NewRecord[] = [];
        const results: EnqueueOutcome[] = records.map((r) => {
          const keys = keysOf(r);
          const known = (k: string) => {
            const deliveredAt = seen.get(k);
            return queuedKeys.has(k) || batchKeys.has(k) || (deliveredAt !== undefined && deliveredAt > at - window);
          };
          // By content: a duplicate when every key is known.
          const duplicate = queuedIds.has(r.id) || batchIds.has(r.id) || (keys !== undefined && keys.every(known));
          batchIds.add(r.id);
          for (const k of keys ?? []) batchKeys.add(k);
          if (!duplicate) fresh.push(r);
          return { id: r.id, ok: true, duplicate };
        });

        let droppedIds: string[] = [];
        let accepted = fresh;
        const overBy = counters.queued + fresh.length - limits.maxQueueSize;
        if (overBy > 0) {
          if (limits.overflow === 'reject-new') {
            const room = Math.max(0, limits.maxQueueSize - counters.queued);
            accepted = fresh.slice(0, room);
            const refused = new Set(fresh.slice(room).map((r) => r.id));
            for (const [i, result] of results.entries()) {
              if (result.ok && !result.duplicate && refused.has(result.id)) {
                results[i] = {
                  id: result.id,
                  ok: false,
                  error: new OutboxError(
                    'queue-full',
                    `queue is full (maxQueueSize ${limits.maxQueueSize}, overflow "reject-new"); event ${result.id} was not queued`,
                  ),
                };
              }
            }
          } else {
            // The oldest by insertion, whatever their schedule.
            const evict = Math.min(overBy, counters.queued);
            for (const [seq, record] of queue) {
              if (droppedIds.length >= evict) break;
              droppedIds.push(record.id);
              queue.delete(seq);
              countQueued(counters, record.url, -1);
            }
            counters.queued -= droppedIds.length;
            // A single batch larger than the whole queue keeps its newest events.
            const stillOver = counters.queued + fresh.length - limits.maxQueueSize;
            if (stillOver > 0) {
              droppedIds = [...droppedIds, ...fresh.slice(0, stillOver).map((r) => r.id)];
              accepted = fresh.slice(stillOver);
            }
            counters.dropped += droppedIds.length;
          }
        }

        for (const r of accepted) {
          const seq = ++lastSeq;
          const keys = keysOf(r);
          queue.set(seq, {
            id: r.id,
            url: r.url,
            body: r.body,
            ...(keys !== undefined ? { keys } : {}),
            seq,
            createdAt: at,
            nextAttemptAt: at,
            attempts: 0,
            tries: 0,
          });
          countQueued(counters, r.url, 1);
        }
        counters.queued += accepted.length;
        return { results, droppedIds };
      });
    },

    readDue(at, limit, exclude, skip, share) {
      return run(() =>
        capPerDestination(
          [...queue.values()].filter((r) => r.nextAttemptAt <= at && !exclude?.has(r.seq) && !skip?.has(destinationOf(r.url))).sort(byDue),
          share,
        )
          .slice(0, Math.max(0, limit))
          .map((r) => ({ ...r })),
      );
    },

    settle(settlements) {
      return write(() => {
        let applied = 0;
        for (const s of settlements) {
          const record = queue.get(s.seq);
          // Already gone (delivered by an earlier pass or just above, cleared): nothing to do.
          if (!record) continue;
          applied++;
          if (s.kind === 'delivered') {
            queue.delete(s.seq);
            for (const k of record.keys ?? []) seen.set(k, now());
            counters.queued = Math.max(0, counters.queued - 1);
            countQueued(counters, record.url, -1);
            counters.delivered++;
          } else if (s.kind === 'retry') {
            queue.set(s.seq, {
              ...record,
              attempts: s.attempts,
              tries: s.tries,
              nextAttemptAt: s.nextAttemptAt,
              hold: s.hold,
              lastStatus: s.status,
              firstAttemptAt: record.firstAttemptAt ?? now(),
              lastAttemptAt: now(),
            });
            counters.retried++;
          } else {
            toDead(record, { tries: s.tries, reason: s.reason, status: s.status, ...(s.detail ? { detail: s.detail } : {}) });
          }
        }
        return { applied, droppedIds: boundDeadLetters() };
      });
    },

    release(holds, at) {
      return write(() => {
        let released = 0;
        for (const hold of holds) {
          for (const record of queue.values()) {
            if (record.hold === hold && record.nextAttemptAt > at) {
              record.nextAttemptAt = at;
              released++;
            }
          }
        }
        return released;
      });
    },

    expire(createdBefore, limit) {
      return write(() => {
        const old = [...queue.values()]
          .filter((r) => r.createdAt < createdBefore)
          .sort((a, b) => a.createdAt - b.createdAt || a.seq - b.seq)
          .slice(0, Math.max(0, limit));
        for (const record of old) toDead(record, { tries: record.tries, reason: 'expired', status: 0 });
        return { expiredIds: old.map((r) => r.id), droppedIds: boundDeadLetters() };
      });
    },

    lease() {
      // One page's memory: nobody else can flush it.
      return run(() => true);
    },

    rebase(maxWaitMs, next) {
      return write(() => {
        const cap = now() + Math.max(0, maxWaitMs);
        for (const r of queue.values()) if (r.nextAttemptAt > cap) r.nextAttemptAt = cap;
        if (next) skew = { ...next };
        return { ...skew };
      });
    },

    forget(before, limit) {
      return write(() => {
        const old = [...seen.entries()]
          .filter(([, at]) => at < before)
          .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
          .slice(0, Math.max(0, limit));
        for (const [key] of old) seen.delete(key);
        return old.length;
      });
    },

    nextAttemptAt(skip) {
      return run(() => {
        let earliest: number | undefined;
        for (const r of queue.values()) {
          if (skip?.has(destinationOf(r.url))) continue;
          if (earliest === undefined || r.nextAttemptAt < earliest) earliest = r.nextAttemptAt;
        }
        return earliest;
      });
    },

    queuedByDestination() {
      return run(() => ({ ...counters.destinations }));
    },

    destinationHolds() {
      return run(() => ({ ...holds }));
    },

    saveDestinationHolds(next) {
      return write(() => {
        holds = { ...next };
      });
    },

    counters() {
      return run(() => {
        const { destinations: _, ...rest } = counters;
        return rest;
      });
    },

    readDead(limit, before) {
      return run(() =>
        deadBySeq()
          .filter((r) => before === undefined || r.seq < before)
          .reverse()
          .slice(0, Math.max(0, limit))
          .map((r) => ({ ...r })),
      );
    },

    requeue(selection, maxQueueSize) {
      return write(() => {
        const { found, notFound, last } = selectDead(selection);
        const out: RequeueOutcome = { requeued: [], alreadyQueued: [], queueFull: [], notFound, ...(last !== undefined ? { last } : {}) };
        const queuedIds = new Set<string>();
        const queuedKeys = new Set<string>();
        for (const r of queue.values()) {
          queuedIds.add(r.id);
          for (const k of r.keys ?? []) queuedKeys.add(k);
        }
        const at = now();
        for (const r of found) {
          // Queued already (by id, or every key; delivered keys do not count: this send is asked for).
          const keys = r.keys?.filter((k) => !queuedKeys.has(k));
          if (queuedIds.has(r.id) || (r.keys?.length && !keys?.length)) {
            out.alreadyQueued.push(r.id);
            continue;
          }
          if (counters.queued >= maxQueueSize) {
            out.queueFull.push(r.id);
            continue;
          }
          const seq = ++lastSeq;
          queue.set(seq, {
            id: r.id,
            url: r.url,
            body: r.body,
            ...(keys?.length ? { keys } : {}),
            seq,
            createdAt: at,
            nextAttemptAt: at,
            attempts: 0,
            tries: 0,
          });
          queuedIds.add(r.id);
          for (const k of keys ?? []) queuedKeys.add(k);
          dead.delete(r.seq);
          counters.queued++;
          counters.deadLettered = Math.max(0, counters.deadLettered - 1);
          counters.requeued = (counters.requeued ?? 0) + 1;
          countQueued(counters, r.url, 1);
          out.requeued.push(r.id);
        }
        return out;
      });
    },

    discard(selection) {
      return write(() => {
        const { found, notFound, last } = selectDead(selection);
        for (const r of found) dead.delete(r.seq);
        counters.deadLettered = Math.max(0, counters.deadLettered - found.length);
        if (found.length) counters.discarded = (counters.discarded ?? 0) + found.length;
        return { discarded: [...new Set(found.map((r) => r.id))], notFound, ...(last !== undefined ? { last } : {}) };
      });
    },

    deadLetters(limit = 100) {
      // As IndexedDB's getAll: a count of 0 means all.
      return run(() =>
        deadBySeq()
          .slice(0, limit > 0 ? limit : undefined)
          .map((r) => ({ ...r })),
      );
    },

    clear() {
      return write(() => {
        queue.clear();
        dead.clear();
        seen.clear();
        counters.queued = 0;
        counters.destinations = {};
        counters.deadLettered = 0;
      });
    },

    close() {
      // Nothing to release; the events stay for as long as this object lives.
    },
  };
}
