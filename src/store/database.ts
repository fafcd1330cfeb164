// The connection to the database: the one module that opens it (with schema.ts's
// upgrades) and that imports `idb` for more than types. Also what IndexedDB errors become
// (a typed OutboxError: quota-exceeded or storage-error), and the one request that idb's
// promises cannot express: an add whose ConstraintError is an answer, not a failure.
import { type IDBPObjectStore, openDB, unwrap } from 'idb';
import { OutboxError } from '../errors.js';
import { type Database, type OutboxSchema, type StoreName, DB_VERSION, upgrade } from './schema.js';

export interface Connection {
  /** The open database (opened on the first call, and again after the browser closed it). */
  get(): Promise<Database>;
  close(): void;
}

/**
 * Caches the *promise* of the connection, and forgets it when the browser closes the
 * connection on its own (Safari does; so does a newer worker asking to upgrade).
 */
export function connect(name: string): Connection {
  let dbPromise: Promise<Database> | undefined;
  const get = (): Promise<Database> => {
    dbPromise ??= openDB<OutboxSchema>(name, DB_VERSION, {
      upgrade(database, oldVersion, _newVersion, transaction) {
        upgrade(database, oldVersion, transaction);
      },
      blocking() {
        // A newer schema wants to open: step aside, the next call reopens.
        void dbPromise?.then((d) => d.close());
        dbPromise = undefined;
      },
      terminated() {
        dbPromise = undefined;
      },
    }).catch((cause: unknown) => {
      dbPromise = undefined;
      throw storageError(cause, `opening IndexedDB "${name}"`);
    });
    return dbPromise;
  };
  return {
    get,
    close() {
      void dbPromise?.then((d) => d.close());
      dbPromise = undefined;
    },
  };
}

/**
 * Adds `value` unless a unique index (id, key) already holds it: resolves false then,
 * and the transaction goes on (the failed request's error is handled, not bubbled).
 */
export function addUnlessDuplicate<N extends 'fresh' | 'queue'>(
  store: IDBPObjectStore<OutboxSchema, StoreName[], N, 'readwrite'>,
  value: OutboxSchema[N]['value'],
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const request = unwrap(store).add(value);
    request.onsuccess = () => resolve(true);
    request.onerror = (event) => {
      if (request.error?.name !== 'ConstraintError') return reject(request.error);
      event.preventDefault();
      event.stopPropagation();
      resolve(false);
    };
  });
}

/** What an IndexedDB failure while `doing` something becomes. */
export function storageError(cause: unknown, doing: string): OutboxError {
  if (cause instanceof OutboxError) return cause;
  const name = cause instanceof Error || cause instanceof DOMException ? cause.name : '';
  const detail = cause instanceof Error || cause instanceof DOMException ? cause.message : String(cause);
  if (name === 'QuotaExceededError') {
    return new OutboxError('quota-exceeded', `storage quota exceeded while ${doing}: ${detail}`, { cause });
  }
  return new OutboxError('storage-error', `IndexedDB failed while ${doing}: ${name ? `${name}: ` : ''}${detail}`, { cause });
}
