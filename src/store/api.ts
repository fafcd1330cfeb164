// What a store offers (the `Store` interface) and the shapes its operations take and give.
// Two stores implement it, with the same rules and orderings (both run the same tests,
// through both-stores.fixture.ts): the IndexedDB one (store.ts) and the memory one for a
// page where IndexedDB is blocked (memory.ts). Delivery and the engine see only this.
import type { AgeSkew } from '../clock.js';
import type { DestinationHold, Hold } from '../destination.js';
import type { OutboxError } from '../errors.js';
import type { DiscardResult, RequeueResult } from '../protocol.js';
import type { Counters, DeadRecord, Death, NewRecord, QueuedRecord, RetrySchedule } from './records.js';

/**
 * An outcome to write. `record`, when given, is the record as read (the flusher has it):
 * the store then only checks that it is still queued instead of reading it again.
 */
export type Settlement = { seq: number; record?: QueuedRecord } & (
  | { kind: 'delivered' }
  | ({ kind: 'retry' } & RetrySchedule)
  | ({ kind: 'dead' } & Death)
);

export type EnqueueOutcome = { id: string; ok: true; duplicate: boolean } | { id: string; ok: false; error: OutboxError };

/**
 * Which dead letters a requeue or discard takes: those with these ids, or the `limit`
 * oldest (lowest seq) with a seq above `after` and at most `through`.
 */
export type DeadSelection = { ids: string[] } | { after: number; through: number; limit: number };
/** One requeue transaction's outcome; `last`: the highest seq it looked at (selection by seq), undefined if none. */
export type RequeueOutcome = RequeueResult & { last?: number };
/** One discard transaction's outcome; `last` as for RequeueOutcome. */
export type DiscardOutcome = DiscardResult & { last?: number };

export interface EnqueueLimits {
  maxQueueSize: number;
  overflow: 'drop-oldest' | 'reject-new';
  /** A record with `keys` is a duplicate if each is queued, or was delivered less than this long ago. @default 0 */
  dedupeWindowMs?: number;
}

export interface StoreOptions {
  name?: string;
  /** Dead letters kept; the oldest are dropped (and counted) beyond this. @default 1000 */
  maxDeadLetters?: number;
  now?: () => number;
}

export interface Store {
  /**
   * Adds events unless their id is already queued (or their key is queued or was
   * delivered within the window). Resolves after the commit.
   */
  enqueue(records: NewRecord[], limits: EnqueueLimits): Promise<{ results: EnqueueOutcome[]; droppedIds: string[] }>;
  /**
   * Up to `limit` events due at `now`, oldest due first, then in insertion order; none of
   * `exclude` (seqs), so that the next page can be read while one is in flight, and none
   * for the destinations of `skip` (held back, or with events enough in hand): their
   * segments are not even read; at most `share` per destination (a page shared by the
   * destinations that have events due, so one's backlog does not fill it).
   */
  readDue(now: number, limit: number, exclude?: ReadonlySet<number>, skip?: ReadonlySet<string>, share?: number): Promise<QueuedRecord[]>;
  /** Applies delivery outcomes. Resolves to how many applied, and the ids dropped from the dead-letter store. */
  settle(settlements: Settlement[]): Promise<{ applied: number; droppedIds: string[] }>;
  /** Makes events held for these reasons due at `now`. Returns how many. */
  release(holds: Hold[], now: number): Promise<number>;
  /**
   * Moves up to `limit` events created before `createdBefore` to the dead-letter store as
   * expired, whatever their schedule. Returns their ids and those dropped by the bound.
   */
  expire(createdBefore: number, limit: number): Promise<{ expiredIds: string[]; droppedIds: string[] }>;
  /**
   * A lease on flushing, for contexts without Web Locks (a page that is not a secure
   * context): true if `owner` holds it until `now + ttlMs` (it was free, expired or
   * already theirs). IndexedDB serialises the read-and-write, so one owner wins.
   */
  lease(owner: string, now: number, ttlMs: number): Promise<boolean>;
  /** Forgets up to `limit` keys of delivered events seen before `before`. Returns how many. */
  forget(before: number, limit: number): Promise<number>;
  /** Earliest `nextAttemptAt` of any queued event (none of the destinations of `skip`). */
  nextAttemptAt(skip?: ReadonlySet<string>): Promise<number | undefined>;
  /**
   * Keeps stored times in step with the wall clock (see src/clock.ts). Every write
   * transaction starts with a look at the clock: behind the latest time written by more
   * than CLOCK_TOLERANCE_MS (it went back), every stored time still ahead of it (event
   * schedules and creation times, destination holds, the lease) first moves back by that
   * much. This call is such a write, and then brings any schedule beyond `now +
   * maxWaitMs` (the longest wait the outbox sets) back to that; `skew`, when given, is
   * saved. Resolves to the skew saved (none: zero).
   */
  rebase(maxWaitMs: number, skew?: AgeSkew): Promise<AgeSkew>;
  /** Queued events per destination. */
  queuedByDestination(): Promise<Record<string, number>>;
  /** The destinations held back, as last saved. */
  destinationHolds(): Promise<Record<string, DestinationHold>>;
  saveDestinationHolds(holds: Record<string, DestinationHold>): Promise<void>;
  counters(): Promise<Counters>;
  /** Up to `limit` dead letters (default 100), oldest first (lowest seq first). */
  deadLetters(limit?: number): Promise<DeadRecord[]>;
  /**
   * Up to `limit` dead letters, newest first (highest seq first), those with a seq below
   * `before` when given: one page, read with a cursor.
   */
  readDead(limit: number, before?: number): Promise<DeadRecord[]>;
  /**
   * Puts the selected dead letters back in the queue, in one transaction: each as a new
   * queued record (a new seq, at the end of the queue) with the same id, url, body and
   * keys, due now, attempts reset, created now (its maxAgeMs starts again). Those whose
   * id (or every key) is queued stay dead letters (`alreadyQueued`); so do those beyond
   * `maxQueueSize` (`queueFull`: a dead letter never evicts a queued event).
   */
  requeue(selection: DeadSelection, maxQueueSize: number): Promise<RequeueOutcome>;
  /** Deletes the selected dead letters, in one transaction. */
  discard(selection: DeadSelection): Promise<DiscardOutcome>;
  /** Empties the queue and the dead-letter store (sign-out). Counters of history stay. */
  clear(): Promise<void>;
  close(): void;
}
