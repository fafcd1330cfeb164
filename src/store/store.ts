// The IndexedDB store: `openStore` composes the rooms of this folder into a `Store`
// (api.ts), and this file re-exports what delivery, the engine and the worker use.
// The rooms, each a file with its own tests:
// - schema.ts        the database: name, version, typed records, upgrades v1 → v4
// - database.ts      the connection (the one module that opens IndexedDB), storage errors
// - write-queue.ts   group commit: one write transaction at a time, callers answered after its commit
// - clock-moves.ts   every write follows the wall clock back; rebase
// - segments.ts      fresh events in segments of SEGMENT, spent records, seq numbering
// - delivered-keys.ts keys of delivered events, for the de-duplication window
// - admission.ts     the pure rules shared with the memory store (overflow, dead-letter bound, counters)
// - enqueue.ts, queued-duplicates.ts, read.ts, settle.ts, removal.ts, dead-letters.ts, holds.ts:
//   the operations, one top-level function each, given a StoreContext or, inside a write, a Txn (context.ts).
// Invariants: every write goes through the write queue; nothing awaits anything but
// IndexedDB inside a transaction; counters change in the transaction of the records they count.
import { DEFAULT_MAX_DEAD_LETTERS } from './admission.js';
import type { Store, StoreOptions } from './api.js';
import { followClock, rebase, stampClock } from './clock-moves.js';
import type { StoreConfig, StoreContext } from './context.js';
import { connect } from './database.js';
import { deadLetters, discard, readDead, requeue } from './dead-letters.js';
import { forgetDelivered } from './delivered-keys.js';
import { enqueue } from './enqueue.js';
import { destinationHolds, lease, release, saveDestinationHolds } from './holds.js';
import { counters, nextAttemptAt, queuedByDestination, readDue } from './read.js';
import { clear, expire } from './removal.js';
import { DB_NAME } from './schema.js';
import { settler } from './settle.js';
import { createWriteQueue } from './write-queue.js';

export { countQueued } from './admission.js';
export type {
  DeadSelection,
  DiscardOutcome,
  EnqueueLimits,
  EnqueueOutcome,
  RequeueOutcome,
  Settlement,
  Store,
  StoreOptions,
} from './api.js';
export { type Counters, type DeadRecord, type NewRecord, type QueuedRecord, type StoreClock, recordMovedBack } from './records.js';
export { DB_NAME, DB_VERSION } from './schema.js';
export { SEGMENT } from './segments.js';

export function openStore(options: StoreOptions = {}): Store {
  const config: StoreConfig = { now: options.now ?? Date.now, maxDeadLetters: options.maxDeadLetters ?? DEFAULT_MAX_DEAD_LETTERS };
  const connection = connect(options.name ?? DB_NAME);
  // Every write transaction follows the clock first and stamps it last.
  const writes = createWriteQueue(connection, config, { begin: followClock, end: stampClock });
  const ctx: StoreContext = { ...config, db: connection.get, write: writes.write };
  const { write } = ctx;
  return {
    enqueue: (records, limits) => write((t) => enqueue(t, records, limits)),
    readDue: (at, limit, exclude, skip, share) => readDue(ctx, at, limit, { exclude, skip, share }),
    settle: settler(ctx),
    expire: (createdBefore, limit) => write((t) => expire(t, createdBefore, limit)),
    lease: (owner, at, ttlMs) => write((t) => lease(t, owner, at, ttlMs)),
    forget: (before, limit) => write((t) => forgetDelivered(t, before, limit)),
    release: (holds, at) => write((t) => release(t, holds, at)),
    nextAttemptAt: (skip) => nextAttemptAt(ctx, skip),
    rebase: (maxWaitMs, skew) => write((t) => rebase(t, maxWaitMs, skew)),
    queuedByDestination: () => queuedByDestination(ctx),
    destinationHolds: () => destinationHolds(ctx),
    saveDestinationHolds: (holds) => write((t) => saveDestinationHolds(t, holds)),
    counters: () => counters(ctx),
    readDead: (limit, before) => readDead(ctx, limit, before),
    requeue: (selection, maxQueueSize) => write((t) => requeue(t, selection, maxQueueSize)),
    discard: (selection) => write((t) => discard(t, selection)),
    deadLetters: (limit) => deadLetters(ctx, limit),
    clear: () => write(clear),
    close: connection.close,
  };
}
