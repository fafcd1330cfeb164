// The memory store's state and its two ways in: `run` (a read) and `write` (which
// follows the wall clock first, as every IndexedDB write transaction does: clock-moves.ts).
// Everything runs synchronously inside a microtask, so atomically; it settles
// asynchronously, like an IndexedDB request.
import { type AgeSkew, CLOCK_TOLERANCE_MS, NO_SKEW, movedBack } from '../clock.js';
import type { DestinationHold } from '../destination.js';
import { DEFAULT_MAX_DEAD_LETTERS, ZERO, countQueued } from './admission.js';
import type { StoreOptions } from './api.js';
import { type Counters, type DeadRecord, type NewRecord, type QueuedRecord, queuedRecord, recordMovedBack } from './records.js';

/** A memory store's state. */
export interface Memory {
  now: () => number;
  maxDeadLetters: number;
  /**
   * In seq order: a Map iterates in insertion order, seq only grows, and a retry replaces
   * a record with `set`, which keeps its position.
   */
  queue: Map<number, QueuedRecord>;
  /** Dead letters arrive in any seq order: sorted when read (deadBySeq). */
  dead: Map<number, DeadRecord>;
  /** Keys of delivered events → when they were delivered. */
  seen: Map<string, number>;
  counters: Counters;
  lastSeq: number;
  holds: Record<string, DestinationHold>;
  /** The latest time a write ended, and the skew saved (as StoreClock in records.ts). */
  clockAt: number | undefined;
  skew: AgeSkew;
}

export function newMemory(options: StoreOptions): Memory {
  return {
    now: options.now ?? Date.now,
    maxDeadLetters: options.maxDeadLetters ?? DEFAULT_MAX_DEAD_LETTERS,
    queue: new Map(),
    dead: new Map(),
    seen: new Map(),
    counters: { ...ZERO },
    lastSeq: 0,
    holds: {},
    clockAt: undefined,
    skew: NO_SKEW,
  };
}

/** Runs `op` synchronously (so atomically), settling like an IndexedDB request would. */
export const run = <T>(op: () => T): Promise<T> => Promise.resolve().then(op);

/**
 * A write: looks at the clock first, as the IndexedDB store's transactions do (went back
 * since the last write: the times still ahead move back with it), and stamps it last.
 */
export function write<T>(m: Memory, op: () => T): Promise<T> {
  return run(() => {
    const at = m.now();
    if (m.clockAt !== undefined && at < m.clockAt - CLOCK_TOLERANCE_MS) moveBack(m, m.clockAt - at, at);
    const result = op();
    m.clockAt = Math.max(at, m.now());
    return result;
  });
}

function moveBack(m: Memory, by: number, at: number): void {
  for (const [seq, r] of m.queue) if (r.nextAttemptAt > at) m.queue.set(seq, recordMovedBack(r, by, at));
  for (const [key, h] of Object.entries(m.holds)) m.holds[key] = { ...h, until: movedBack(h.until, by, at, true) };
  m.skew = { ...m.skew, since: movedBack(m.skew.since, by, at) };
}

export const copies = <R>(records: R[]): R[] => records.map((r) => ({ ...r }));
export const deadBySeq = (m: Memory) => [...m.dead.values()].sort((a, b) => a.seq - b.seq);

/** The ids and keys queued. */
export function queuedIdsAndKeys(m: Memory): { ids: Set<string>; keys: Set<string> } {
  const ids = new Set<string>();
  const keys = new Set<string>();
  for (const r of m.queue.values()) {
    ids.add(r.id);
    for (const k of r.keys ?? []) keys.add(k);
  }
  return { ids, keys };
}

/** Queues `r` (its keys as given) as the next seq, created `at`. */
export function add(m: Memory, r: NewRecord, at: number): void {
  const seq = ++m.lastSeq;
  m.queue.set(seq, queuedRecord(seq, r, at));
  countQueued(m.counters, r.url, 1);
}
