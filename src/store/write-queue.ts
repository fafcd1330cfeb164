// The write queue (group commit): every write of the IndexedDB store goes through it.
// Invariants:
// - One write transaction at a time, over every store (schema.ts: WRITE_STORES). The writes
//   that arrive while one is open are run together in the next one, in their order.
// - Each caller's promise settles only after *its* transaction's `complete` event; if any
//   write of a batch fails, the whole batch is rolled back and every caller of it rejects
//   with the same storage error (database.ts: storageError).
// - The counters are read once at the start and written once at the end of a transaction,
//   so they cannot drift from the records they count.
// - Nothing here awaits anything but IndexedDB requests of the open transaction (an `await
//   fetch()` would let the transaction auto-commit under us).
import { ZERO } from './admission.js';
import type { StoreConfig, Txn, WriteOp } from './context.js';
import { type Connection, storageError } from './database.js';
import { type WriteTx, WRITE_STORES, getMeta, putMeta } from './schema.js';

/** What every transaction does first (after reading the counters) and last (before writing them). */
export interface TransactionHooks {
  begin(t: Txn): Promise<void>;
  end(t: Txn): void;
}

interface Pending {
  op: WriteOp<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export interface WriteQueue {
  write<T>(op: WriteOp<T>): Promise<T>;
}

export function createWriteQueue(connection: Connection, config: StoreConfig, hooks: TransactionHooks): WriteQueue {
  const state = { pending: [] as Pending[], writing: false };
  return {
    write<T>(op: WriteOp<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        state.pending.push({ op, resolve: resolve as (v: unknown) => void, reject });
        if (!state.writing) void drain(state, connection, config, hooks);
      });
    },
  };
}

/** Runs the pending writes, a batch a transaction, until none are left. */
async function drain(
  state: { pending: Pending[]; writing: boolean },
  connection: Connection,
  config: StoreConfig,
  hooks: TransactionHooks,
): Promise<void> {
  state.writing = true;
  while (state.pending.length > 0) {
    const batch = state.pending;
    state.pending = [];
    await commit(batch, connection, config, hooks);
  }
  state.writing = false;
}

/** One transaction for `batch`: each write in turn, then the counters; answers each caller after the commit. */
async function commit(batch: Pending[], connection: Connection, config: StoreConfig, hooks: TransactionHooks): Promise<void> {
  let tx: WriteTx | undefined;
  try {
    const database = await connection.get();
    tx = database.transaction(WRITE_STORES, 'readwrite');
    const meta = tx.objectStore('meta');
    const counters = { ...ZERO, ...(await getMeta(meta, 'counters')) };
    const t: Txn = { ...config, tx, counters, startedAt: config.now() };
    await hooks.begin(t);
    const results: unknown[] = [];
    for (const item of batch) results.push(await item.op(t));
    hooks.end(t);
    await putMeta(meta, 'counters', t.counters);
    await tx.done;
    for (const [i, item] of batch.entries()) item.resolve(results[i]);
  } catch (cause) {
    if (tx) {
      // Roll back whatever part of the batch ran; tx.done then rejects, which we own.
      tx.done.catch(() => {});
      try {
        tx.abort();
      } catch {
        // Already finished or aborted.
      }
    }
    const error = storageError(cause, 'writing to IndexedDB');
    for (const item of batch) item.reject(error);
  }
}
