// The records every store keeps (the IndexedDB store and the memory store alike): an event
// as the engine hands it in, as it waits in the queue, as a dead letter; the counters. And
// the pure makers of those records, so that both stores write them field for field the same.
// (How the IndexedDB store lays them out on disk, in segments, is schema.ts and segments.ts.)
import { type AgeSkew, movedBack } from '../clock.js';
import type { Hold } from '../destination.js';
import type { DeadLetterReason } from '../protocol.js';

export interface NewRecord {
  id: string;
  url: string;
  body: string;
  /**
   * Content de-duplication keys (an Optimizely body's event uuids): the record is a
   * duplicate, and not stored, when every one of them is queued or was delivered within
   * the window.
   */
  keys?: string[];
}

export interface QueuedRecord extends NewRecord {
  /** Insertion order: unique, only grows (see segments.ts for how the IndexedDB store gives it). */
  seq: number;
  createdAt: number;
  /** Epoch ms when this event may next be sent. Persisted: timers die with the worker. */
  nextAttemptAt: number;
  /** Failures that grow the backoff. */
  attempts: number;
  /** Every attempt made. */
  tries: number;
  hold?: Hold;
  lastStatus?: number;
  /** Epoch ms of its first and last failed attempt (written by the retry settlements; absent before the first). */
  firstAttemptAt?: number;
  lastAttemptAt?: number;
}

export interface DeadRecord extends QueuedRecord {
  deadAt: number;
  reason: DeadLetterReason;
  /** Why, in words, when the status alone does not say. */
  detail?: string;
  status: number;
}

export interface Counters {
  queued: number;
  deadLettered: number;
  delivered: number;
  dropped: number;
  retried: number;
  /** Queued events per destination (an origin: see destination.ts). Absent in counters of older versions. */
  destinations?: Record<string, number>;
  /** Dead letters put back in the queue (absent until the first). */
  requeued?: number;
  /** Dead letters deleted on request (absent until the first). */
  discarded?: number;
  /** The clock as this store saw it (internal: counters() leaves it out). Absent before the first write of this version. */
  clock?: StoreClock;
}

/** What the store knows of the clock (see src/clock.ts). */
export interface StoreClock {
  /** The latest time a write transaction ended (epoch ms): a clock behind it went back. */
  at: number;
  /** Forward jumps left out of events' age, as the flusher last saved them. */
  skew?: AgeSkew;
}

/** `r` queued as `seq`, created `at`: due at once, never tried. Keys only when it has some. */
export function queuedRecord(seq: number, r: NewRecord, at: number): QueuedRecord {
  return {
    seq,
    id: r.id,
    url: r.url,
    body: r.body,
    ...(r.keys?.length ? { keys: r.keys } : {}),
    createdAt: at,
    nextAttemptAt: at,
    attempts: 0,
    tries: 0,
  };
}

/** The schedule a retry settlement writes (see delivery/policy.ts for how it is chosen). */
export interface RetrySchedule {
  attempts: number;
  tries: number;
  nextAttemptAt: number;
  hold: Hold;
  status: number;
}

/** `record` after a failed attempt `at` that is to be retried on `schedule`. */
export function retriedRecord(record: QueuedRecord, schedule: RetrySchedule, at: number): QueuedRecord {
  const { attempts, tries, nextAttemptAt, hold, status } = schedule;
  return {
    ...record,
    attempts,
    tries,
    nextAttemptAt,
    hold,
    lastStatus: status,
    firstAttemptAt: record.firstAttemptAt ?? at,
    lastAttemptAt: at,
  };
}

/** What a dead letter says besides the record: why it died, and its last try. */
export interface Death {
  reason: DeadLetterReason;
  status: number;
  tries: number;
  detail?: string;
}

/** `record` as a dead letter since `at`. A `detail` only when there is one. */
export function deadRecord(record: QueuedRecord, death: Death, at: number): DeadRecord {
  const { reason, status, tries, detail } = death;
  return { ...record, tries, deadAt: at, reason, status, ...(detail ? { detail } : {}) };
}

/** A queued record after the clock went back `by` ms, read at `at`: its times ahead of `at` move back (its schedule not before `at`). */
export function recordMovedBack(r: QueuedRecord, by: number, at: number): QueuedRecord {
  const moved: QueuedRecord = { ...r, createdAt: movedBack(r.createdAt, by, at), nextAttemptAt: movedBack(r.nextAttemptAt, by, at, true) };
  if (r.firstAttemptAt !== undefined) moved.firstAttemptAt = movedBack(r.firstAttemptAt, by, at);
  if (r.lastAttemptAt !== undefined) moved.lastAttemptAt = movedBack(r.lastAttemptAt, by, at);
  return moved;
}
