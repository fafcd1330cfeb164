// The only module that touches IndexedDB. Schema, name, version and upgrades live here;
// everything else sees queue semantics.
//
// Invariants:
// - Every write goes through one write queue: callers that arrive while a transaction
//   is open are committed together in the next one (group commit), and each caller's
//   promise settles only after *its* transaction's `complete` event.
// - Nothing here awaits anything but IndexedDB requests inside a transaction (an
//   `await fetch()` would let the transaction auto-commit under us).
// - Counters (queued, delivered, ...) are updated in the same transaction as the records
//   they count, so they cannot drift from the data.
import { openDB, unwrap, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb';
import type { Hold } from '../delivery/policy.js';
import { OutboxError } from '../errors.js';
import type { DeadLetterReason } from '../protocol.js';

export const DB_NAME = 'sw-outbox';
/**
 * Schema versions:
 * 1. queue (seq; indexes id, nextAttemptAt, hold), dead (seq; index id), meta (counters).
 * 2. queue index createdAt, so events past maxAgeMs are found without reading the queue;
 *    counters recounted from the data (they could drift from records other code wrote).
 * 3. queue index keys (content de-duplication keys; multi-entry, unique, sparse) and a `seen`
 *    store of the keys of delivered events, one record per delivered batch (multi-entry
 *    index keys, index at), kept for the de-duplication window.
 * A fixture of version 1 lives in schema-v1.fixture.ts; the upgrade is tested from it.
 */
export const DB_VERSION = 3;

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
  /** Auto-increment key: insertion order. */
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
}

interface OutboxSchema extends DBSchema {
  queue: {
    key: number;
    value: QueuedRecord;
    indexes: { id: string; nextAttemptAt: number; hold: string; createdAt: number; keys: string };
  };
  seen: {
    key: number;
    value: { keys: string[]; at: number };
    indexes: { keys: string; at: number };
  };
  dead: {
    key: number;
    value: DeadRecord;
    indexes: { id: string };
  };
  meta: {
    key: string;
    value: Counters;
  };
}

type WriteTx = IDBPTransaction<OutboxSchema, ('queue' | 'dead' | 'meta' | 'seen')[], 'readwrite'>;
const WRITE_STORES: ('queue' | 'dead' | 'meta' | 'seen')[] = ['queue', 'dead', 'meta', 'seen'];

/**
 * An outcome to write. `record`, when given, is the record as read (the flusher has it):
 * the store then only checks that it is still queued instead of reading it again.
 */
export type Settlement = { seq: number; record?: QueuedRecord } & (
  | { kind: 'delivered' }
  | { kind: 'retry'; attempts: number; tries: number; nextAttemptAt: number; hold: Hold; status: number }
  | { kind: 'dead'; status: number; reason: DeadLetterReason; tries: number; detail?: string }
);

export type EnqueueOutcome = { id: string; ok: true; duplicate: boolean } | { id: string; ok: false; error: OutboxError };

export interface EnqueueLimits {
  maxQueueSize: number;
  overflow: 'drop-oldest' | 'reject-new';
  /** A record with `keys` is a duplicate if each is queued, or was delivered less than this long ago. @default 0 */
  dedupeWindowMs?: number;
}

export interface StoreOptions {
  name?: string;
  /** Dead letters kept; the oldest are dropped (and counted) beyond this. */
  maxDeadLetters?: number;
  now?: () => number;
}

export interface Store {
  /**
   * Adds events unless their id is already queued (or their key is queued or was
   * delivered within the window). Resolves after the commit.
   */
  enqueue(records: NewRecord[], limits: EnqueueLimits): Promise<{ results: EnqueueOutcome[]; droppedIds: string[] }>;
  /** Up to `limit` events due at `now`, oldest due first, then in insertion order. */
  readDue(now: number, limit: number): Promise<QueuedRecord[]>;
  /** Applies delivery outcomes. Resolves to ids dropped from the dead-letter store. */
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
  /** Earliest `nextAttemptAt` of any queued event. */
  nextAttemptAt(): Promise<number | undefined>;
  counters(): Promise<Counters>;
  deadLetters(limit?: number): Promise<DeadRecord[]>;
  /** Empties the queue and the dead-letter store (sign-out). Counters of history stay. */
  clear(): Promise<void>;
  close(): void;
}

const ZERO: Counters = { queued: 0, deadLettered: 0, delivered: 0, dropped: 0, retried: 0 };

export function openStore(options: StoreOptions = {}): Store {
  const name = options.name ?? DB_NAME;
  const maxDeadLetters = options.maxDeadLetters ?? 1000;
  const now = options.now ?? Date.now;

  // Cache the *promise* of the connection, and forget it when the browser closes the
  // connection on its own (Safari does; so does a newer worker asking to upgrade).
  let dbPromise: Promise<IDBPDatabase<OutboxSchema>> | undefined;
  const db = (): Promise<IDBPDatabase<OutboxSchema>> => {
    dbPromise ??= openDB<OutboxSchema>(name, DB_VERSION, {
      upgrade(database, oldVersion, _newVersion, transaction) {
        // One step per version; a database at version N runs every step after N.
        if (oldVersion < 1) {
          const queue = database.createObjectStore('queue', { keyPath: 'seq', autoIncrement: true });
          queue.createIndex('id', 'id', { unique: true });
          queue.createIndex('nextAttemptAt', 'nextAttemptAt');
          // Sparse: only events held by a failure are indexed.
          queue.createIndex('hold', 'hold');
          const dead = database.createObjectStore('dead', { keyPath: 'seq' });
          dead.createIndex('id', 'id');
          database.createObjectStore('meta');
        }
        if (oldVersion < 2) {
          const queue = transaction.objectStore('queue');
          queue.createIndex('createdAt', 'createdAt');
          const meta = transaction.objectStore('meta');
          // Requests on the upgrade transaction only: it stays open until they are done.
          void Promise.all([queue.count(), transaction.objectStore('dead').count(), meta.get('counters')]).then(
            ([queued, deadLettered, counters]) => meta.put({ ...ZERO, ...counters, queued, deadLettered }, 'counters'),
          );
        }
        if (oldVersion < 3) {
          transaction.objectStore('queue').createIndex('keys', 'keys', { multiEntry: true, unique: true });
          const seen = database.createObjectStore('seen', { autoIncrement: true });
          seen.createIndex('keys', 'keys', { multiEntry: true });
          seen.createIndex('at', 'at');
        }
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

  // --- the write queue (group commit) ---------------------------------------------
  type Op = (tx: WriteTx, counters: Counters) => Promise<unknown>;
  interface Pending {
    op: Op;
    resolve(value: unknown): void;
    reject(error: unknown): void;
  }
  let pending: Pending[] = [];
  let writing = false;

  function write<T>(op: (tx: WriteTx, counters: Counters) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      pending.push({ op, resolve: resolve as (v: unknown) => void, reject });
      if (!writing) void drainWrites();
    });
  }

  async function drainWrites(): Promise<void> {
    writing = true;
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      let tx: WriteTx | undefined;
      try {
        const database = await db();
        tx = database.transaction(WRITE_STORES, 'readwrite');
        const meta = tx.objectStore('meta');
        const counters: Counters = { ...ZERO, ...(await meta.get('counters')) };
        const results: unknown[] = [];
        for (const item of batch) results.push(await item.op(tx, counters));
        await meta.put(counters, 'counters');
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
    writing = false;
  }

  // Keeps the dead-letter store within maxDeadLetters; returns the ids it dropped.
  async function boundDeadLetters(tx: WriteTx, counters: Counters): Promise<string[]> {
    const droppedIds: string[] = [];
    if (counters.deadLettered <= maxDeadLetters) return droppedIds;
    let cursor = await tx.objectStore('dead').openCursor();
    while (cursor && counters.deadLettered > maxDeadLetters) {
      droppedIds.push(cursor.value.id);
      await cursor.delete();
      counters.deadLettered--;
      counters.dropped++;
      cursor = await cursor.continue();
    }
    return droppedIds;
  }

  // --- settling outcomes -------------------------------------------------------------
  interface SettleCall {
    settlements: Settlement[];
    resolve(result: { applied: number; droppedIds: string[] }): void;
    reject(error: unknown): void;
  }
  const settling: SettleCall[] = [];

  async function applySettlements(
    tx: WriteTx,
    counters: Counters,
    calls: SettleCall[],
  ): Promise<{ applied: number; droppedIds: string[] }[]> {
    {
      const queue = tx.objectStore('queue');
      const all = calls.flatMap((c) => c.settlements);
      const seqs = all.map((s) => s.seq);
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const seq of seqs) {
        if (seq < min) min = seq;
        if (seq > max) max = seq;
      }
      // Which are still queued (a record already gone was delivered by an earlier
      // instance, or cleared: nothing to do). One read of the keys in the span when it is
      // dense (then every key of the span is known), else one per settlement.
      const dense = max - min < 4 * all.length + 64;
      const present = new Set<number>(
        dense
          ? await queue.getAllKeys(IDBKeyRange.bound(min, max))
          : (await Promise.all(seqs.map((seq) => queue.getKey(seq)))).filter((k): k is number => k !== undefined),
      );
      const records = await Promise.all(
        all.map((s) => (present.has(s.seq) ? (s.record && s.record.seq === s.seq ? s.record : queue.get(s.seq)) : undefined)),
      );
      const writes: Promise<unknown>[] = [];
      const delivered = new Set<number>();
      const deliveredKeys: string[] = [];
      const applied = new Set<Settlement>();
      // The first outcome written for a record wins (the same event twice counts once).
      const settled = new Set<number>();
      all.forEach((s, i) => {
        const record = records[i];
        if (!record || settled.has(s.seq)) return;
        settled.add(s.seq);
        applied.add(s);
        if (s.kind === 'delivered') {
          delivered.add(s.seq);
          if (record.keys) deliveredKeys.push(...record.keys);
          // Never below zero: a record written by other code may not have been counted.
          counters.queued = Math.max(0, counters.queued - 1);
          counters.delivered++;
        } else if (s.kind === 'retry') {
          const { seq: _, record: __, kind: ___, status, ...schedule } = s;
          writes.push(queue.put({ ...record, ...schedule, lastStatus: status }));
          counters.retried++;
        } else {
          writes.push(queue.delete(s.seq));
          writes.push(
            tx.objectStore('dead').put({
              ...record,
              tries: s.tries,
              deadAt: now(),
              reason: s.reason,
              status: s.status,
              ...(s.detail ? { detail: s.detail } : {}),
            }),
          );
          counters.queued = Math.max(0, counters.queued - 1);
          counters.deadLettered++;
        }
      });
      // Delivered records go in runs: a run of consecutive keys of the span that are all
      // delivered is one range delete.
      const runs: [number, number][] = [];
      if (dense) {
        let run: [number, number] | undefined;
        for (const key of [...present].sort((a, b) => a - b)) {
          if (delivered.has(key)) {
            if (run) run[1] = key;
            else runs.push((run = [key, key]));
          } else run = undefined;
        }
      } else for (const seq of delivered) runs.push([seq, seq]);
      for (const [from, to] of runs) writes.push(queue.delete(from === to ? from : IDBKeyRange.bound(from, to)));
      // Remembered for the de-duplication window: a re-send of these is not queued again.
      if (deliveredKeys.length) writes.push(tx.objectStore('seen').add({ keys: deliveredKeys, at: now() }));
      await Promise.all(writes);
      const droppedIds = await boundDeadLetters(tx, counters);
      return calls.map((c, i) => ({ applied: c.settlements.filter((s) => applied.has(s)).length, droppedIds: i === 0 ? droppedIds : [] }));
    }
  }

  // Deletes the oldest queued records; returns their ids.
  async function evictOldest(tx: WriteTx, count: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor = await tx.objectStore('queue').openCursor();
    while (cursor && ids.length < count) {
      ids.push(cursor.value.id);
      await cursor.delete();
      cursor = await cursor.continue();
    }
    return ids;
  }

  return {
    enqueue(records, limits) {
      return write(async (tx, counters) => {
        const queue = tx.objectStore('queue');
        const window = limits.dedupeWindowMs ?? 0;
        const keyed = (r: NewRecord): r is NewRecord & { keys: string[] } => window > 0 && !!r.keys?.length;
        const at = now();
        // Each key: delivered less than `window` ago? (One read per key; whether it is
        // queued, the unique index says when the record is added.)
        const known = new Map<string, boolean>();
        await Promise.all(
          [...new Set(records.flatMap((r) => (keyed(r) ? r.keys : [])))].map(async (k) => {
            known.set(
              k,
              (await tx.objectStore('seen').index('keys').getAll(k)).some((s) => s.at > at - window),
            );
          }),
        );
        // Duplicates of a queued event are refused by the unique indexes (id, keys) as they
        // are added; by content, when every key is known or came earlier in this batch.
        const inBatch = new Set<string>();
        const candidates: NewRecord[] = [];
        const results: EnqueueOutcome[] = records.map((r) => {
          const duplicate = inBatch.has(r.id) || (keyed(r) && r.keys.every((k) => known.get(k) || inBatch.has(`key:${k}`)));
          inBatch.add(r.id);
          if (keyed(r)) for (const k of r.keys) inBatch.add(`key:${k}`);
          if (!duplicate) candidates.push(r);
          return { id: r.id, ok: true, duplicate };
        });
        const toRecord = (r: NewRecord, keys = keyed(r) ? r.keys : undefined): QueuedRecord =>
          ({
            id: r.id,
            url: r.url,
            body: r.body,
            ...(keys?.length ? { keys } : {}),
            createdAt: at,
            nextAttemptAt: at,
            attempts: 0,
            tries: 0,
          }) as QueuedRecord;
        const mark = (ids: Set<string>, outcome: (id: string) => EnqueueOutcome) => {
          for (let i = 0; i < results.length; i++) {
            const r = results[i]!;
            if (ids.has(r.id) && r.ok && !r.duplicate) results[i] = outcome(r.id);
          }
        };

        // Adds a record; false if it is a duplicate of a queued one. A batch (several keys)
        // that shares only some of its events with queued ones is stored all the same (it
        // cannot be trimmed), holding the keys no other record holds.
        const add = async (r: NewRecord): Promise<boolean> => {
          if (await addUnlessDuplicate(queue, toRecord(r))) return true;
          if (!keyed(r) || r.keys.length < 2) return false; // its id, or its one key, is queued
          if ((await queue.index('id').getKey(r.id)) !== undefined) return false;
          const queued = await Promise.all(r.keys.map((k) => queue.index('keys').getKey(k)));
          const fresh = r.keys.filter((k, i) => queued[i] === undefined && !known.get(k));
          if (fresh.length === 0) return false;
          return (await addUnlessDuplicate(queue, toRecord(r, fresh))) || addUnlessDuplicate(queue, toRecord(r, []));
        };

        let droppedIds: string[] = [];
        if (counters.queued + candidates.length <= limits.maxQueueSize) {
          // Room for all (the usual case): add them all at once, one request each.
          const added = await Promise.all(candidates.map(add));
          const duplicates = new Set(candidates.filter((_, j) => !added[j]).map((r) => r.id));
          mark(duplicates, (id) => ({ id, ok: true, duplicate: true }));
          counters.queued += candidates.length - duplicates.size;
          return { results, droppedIds };
        }

        // Near full: find the duplicates of queued events first, so that the room left is
        // spent on events really new.
        const [byId, byKeys] = await Promise.all([
          Promise.all(candidates.map((r) => queue.index('id').getKey(r.id))),
          Promise.all(candidates.map((r) => (keyed(r) ? Promise.all(r.keys.map((k) => queue.index('keys').getKey(k))) : []))),
        ]);
        const queuedDuplicates = new Set(
          candidates
            .filter((r, j) => byId[j] !== undefined || (keyed(r) && r.keys.every((k, n) => byKeys[j]![n] !== undefined || known.get(k))))
            .map((r) => r.id),
        );
        mark(queuedDuplicates, (id) => ({ id, ok: true, duplicate: true }));
        const fresh = candidates.filter((r) => !queuedDuplicates.has(r.id));
        let accepted = fresh;
        const overBy = counters.queued + fresh.length - limits.maxQueueSize;
        if (overBy > 0) {
          if (limits.overflow === 'reject-new') {
            const room = Math.max(0, limits.maxQueueSize - counters.queued);
            accepted = fresh.slice(0, room);
            mark(new Set(fresh.slice(room).map((r) => r.id)), (id) => ({
              id,
              ok: false,
              error: new OutboxError(
                'queue-full',
                `queue is full (maxQueueSize ${limits.maxQueueSize}, overflow "reject-new"); event ${id} was not queued`,
              ),
            }));
          } else {
            droppedIds = await evictOldest(tx, Math.min(overBy, counters.queued));
            counters.queued -= droppedIds.length;
            // A single batch larger than the whole queue keeps its newest events.
            const stillOver = counters.queued + fresh.length - limits.maxQueueSize;
            if (stillOver > 0) {
              droppedIds.push(...fresh.slice(0, stillOver).map((r) => r.id));
              accepted = fresh.slice(stillOver);
            }
            counters.dropped += droppedIds.length;
          }
        }
        const stored = await Promise.all(accepted.map(add));
        counters.queued += stored.filter(Boolean).length;
        return { results, droppedIds };
      });
    },

    async readDue(at, limit) {
      if (limit <= 0) return []; // (getAll reads everything for a count of 0)
      const database = await db();
      const tx = database.transaction('queue', 'readonly');
      // One request for the page (a cursor costs a round trip per record).
      const records = await tx.store.index('nextAttemptAt').getAll(IDBKeyRange.upperBound(at), limit);
      await tx.done;
      return records;
    },

    settle(settlements) {
      if (settlements.length === 0) return Promise.resolve({ applied: 0, droppedIds: [] });
      // Settlements that arrive while a transaction is open are written together.
      return new Promise((resolve, reject) => {
        settling.push({ settlements, resolve, reject });
        if (settling.length === 1) {
          // Taken when the transaction starts, so that later arrivals join it; answered after its commit.
          let calls: SettleCall[] = [];
          write((tx, counters) => applySettlements(tx, counters, (calls = settling.splice(0)))).then(
            (results) => {
              for (const [i, c] of calls.entries()) c.resolve(results[i]!);
            },
            (error: unknown) => {
              for (const c of calls) c.reject(error);
            },
          );
        }
      });
    },

    expire(createdBefore, limit) {
      return write(async (tx, counters) => {
        const expiredIds: string[] = [];
        const dead = tx.objectStore('dead');
        let cursor = await tx.objectStore('queue').index('createdAt').openCursor(IDBKeyRange.upperBound(createdBefore, true));
        while (cursor && expiredIds.length < limit) {
          const record = cursor.value;
          expiredIds.push(record.id);
          await dead.put({ ...record, deadAt: now(), reason: 'expired', status: 0 });
          await cursor.delete();
          counters.queued = Math.max(0, counters.queued - 1);
          counters.deadLettered++;
          cursor = await cursor.continue();
        }
        return { expiredIds, droppedIds: await boundDeadLetters(tx, counters) };
      });
    },

    lease(owner, at, ttlMs) {
      return write(async (tx) => {
        const meta = tx.objectStore('meta') as unknown as {
          get(k: string): Promise<unknown>;
          put(v: unknown, k: string): Promise<unknown>;
        };
        const current = (await meta.get('lease')) as { owner: string; until: number } | undefined;
        if (current && current.owner !== owner && current.until > at) return false;
        await meta.put({ owner, until: at + ttlMs }, 'lease');
        return true;
      });
    },

    forget(before, limit) {
      return write(async (tx) => {
        let forgotten = 0;
        let cursor = await tx.objectStore('seen').index('at').openCursor(IDBKeyRange.upperBound(before, true));
        while (cursor && forgotten < limit) {
          forgotten += cursor.value.keys.length;
          await cursor.delete();
          cursor = await cursor.continue();
        }
        return forgotten;
      });
    },

    release(holds, at) {
      return write(async (tx) => {
        const index = tx.objectStore('queue').index('hold');
        let released = 0;
        for (const hold of holds) {
          let cursor = await index.openCursor(hold);
          while (cursor) {
            if (cursor.value.nextAttemptAt > at) {
              await cursor.update({ ...cursor.value, nextAttemptAt: at });
              released++;
            }
            cursor = await cursor.continue();
          }
        }
        return released;
      });
    },

    async nextAttemptAt() {
      const database = await db();
      const cursor = await database.transaction('queue').store.index('nextAttemptAt').openCursor();
      return cursor?.value.nextAttemptAt;
    },

    async counters() {
      const database = await db();
      return { ...ZERO, ...(await database.get('meta', 'counters')) };
    },

    async deadLetters(limit = 100) {
      if (limit <= 0) return []; // (getAll reads everything for a count of 0)
      const database = await db();
      return database.getAll('dead', undefined, limit);
    },

    clear() {
      return write(async (tx, counters) => {
        await tx.objectStore('queue').clear();
        await tx.objectStore('dead').clear();
        await tx.objectStore('seen').clear();
        counters.queued = 0;
        counters.deadLettered = 0;
      });
    },

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
function addUnlessDuplicate(store: { add(value: QueuedRecord): unknown }, value: QueuedRecord): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const request = (unwrap(store as never) as unknown as IDBObjectStore).add(value);
    request.onsuccess = () => resolve(true);
    request.onerror = (event) => {
      if (request.error?.name !== 'ConstraintError') return reject(request.error);
      event.preventDefault();
      event.stopPropagation();
      resolve(false);
    };
  });
}

function storageError(cause: unknown, doing: string): OutboxError {
  if (cause instanceof OutboxError) return cause;
  const name = cause instanceof Error || cause instanceof DOMException ? cause.name : '';
  const detail = cause instanceof Error || cause instanceof DOMException ? cause.message : String(cause);
  if (name === 'QuotaExceededError') {
    return new OutboxError('quota-exceeded', `storage quota exceeded while ${doing}: ${detail}`, { cause });
  }
  return new OutboxError('storage-error', `IndexedDB failed while ${doing}: ${name ? `${name}: ` : ''}${detail}`, { cause });
}
