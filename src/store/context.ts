// What the IndexedDB store's operations are given: the typed context of the store (its
// configuration, the connection for reads, the write queue for writes) and, inside a write,
// the transaction with the counters it carries. Types only. Every operation is a top-level
// function taking one of these, so that its path can be followed by name (store.ts lists them).
import type { Counters } from './records.js';
import type { Database, WriteTx } from './schema.js';

export interface StoreConfig {
  /** The wall clock (injected in tests). */
  now: () => number;
  /** Dead letters kept; the oldest are dropped (and counted) beyond this. */
  maxDeadLetters: number;
}

/** One write transaction, as every write operation sees it. */
export interface Txn extends StoreConfig {
  tx: WriteTx;
  /** Read at the start of the transaction, written back at its end (so they count what it wrote). */
  counters: Counters;
  /** The time the transaction started (`now()` once the counters were read). */
  startedAt: number;
}

/** A write: runs inside a transaction shared with the writes queued with it (write-queue.ts). */
export type WriteOp<T> = (t: Txn) => Promise<T>;

export interface StoreContext extends StoreConfig {
  /** The open database, for reads (each in a transaction of its own). */
  db(): Promise<Database>;
  /** Queues `op` for the next write transaction; resolves after that transaction's commit. */
  write<T>(op: WriteOp<T>): Promise<T>;
}
