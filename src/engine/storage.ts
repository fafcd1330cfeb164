// What the browser says about this origin's storage, for stats(): `persisted()` and
// `estimate()` of the StorageManager. Both are exposed in workers (service and
// dedicated); `persist()` is not (Storage Standard: `[Exposed=Window]`), so only a page
// can ask for persistence: see the dispatcher's `persistStorage()`.
// - Absent (not a secure context, an old browser, Safari before 17 for `estimate`):
//   null, never an exception.
// - A call that fails: null for that figure. A query that has not answered within
//   `waitMs`: the last answer (null before the first), so a slow quota manager holds
//   stats() (and the worker's sync handler, which reads it) for a second at most; the
//   query goes on, and its answer is the last one for the next call.
// - Calls while a query runs share it (stats are asked for often while events move).
// No DOM or worker types: the host hands its `navigator.storage` in.
import type { Stats } from '../protocol.js';

/** The storage fields of Stats. */
export type StorageFacts = Pick<Stats, 'persisted' | 'storage'>;

/** The part of StorageManager read here. */
export interface StorageManagerLike {
  persisted?(): Promise<boolean>;
  estimate?(): Promise<{ usage?: number; quota?: number }>;
}

/** How long stats() waits for the storage figures before it answers with the last ones. */
export const STORAGE_WAIT_MS = 1000;

const UNKNOWN: StorageFacts = { persisted: null, storage: null };

const bytes = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;

/** A function answering the storage fields of Stats, for the StorageManager `manager` (undefined: none). */
export function createStorageProbe(manager: StorageManagerLike | undefined, waitMs = STORAGE_WAIT_MS): () => Promise<StorageFacts> {
  if (!manager) return () => Promise.resolve(UNKNOWN);
  let last = UNKNOWN;
  let query: Promise<StorageFacts> | undefined;
  // Each call inside its own try: a method that throws instead of rejecting is a failure too.
  const call = <T>(f: (() => Promise<T>) | undefined): Promise<T | undefined> =>
    new Promise<T | undefined>((resolve) => resolve(f?.call(manager))).catch(() => undefined);
  const ask = async (): Promise<StorageFacts> => {
    const [persisted, estimate] = await Promise.all([call(manager.persisted), call(manager.estimate)]);
    last = {
      persisted: typeof persisted === 'boolean' ? persisted : null,
      storage: estimate && bytes(estimate.usage) && bytes(estimate.quota) ? { usage: estimate.usage, quota: estimate.quota } : null,
    };
    return last;
  };
  return () => {
    query ??= ask().finally(() => {
      query = undefined;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<StorageFacts>((resolve) => {
      timer = setTimeout(() => resolve(last), waitMs);
    });
    return Promise.race([query, late]).finally(() => clearTimeout(timer));
  };
}
