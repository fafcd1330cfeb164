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
import { urlTag } from './content-keys.js';
import { type AgeSkew, CLOCK_TOLERANCE_MS, NO_SKEW, movedBack } from '../clock.js';
import { type DestinationHold, type Hold, capPerDestination, destinationOf } from '../destination.js';
import { OutboxError } from '../errors.js';
import type { DeadLetterReason, DiscardResult, RequeueResult } from '../protocol.js';

export const DB_NAME = 'sw-outbox';
/**
 * Schema versions:
 * 1. queue (seq; indexes id, nextAttemptAt, hold), dead (seq; index id), meta (counters).
 * 2. queue index createdAt, so events past maxAgeMs are found without reading the queue;
 *    counters recounted from the data (they could drift from records other code wrote).
 * 3. queue index keys (content de-duplication keys; multi-entry, unique, sparse) and a `seen`
 *    store of the keys of delivered events, one record per delivered batch (multi-entry
 *    index keys, index at), kept for the de-duplication window.
 * 4. `fresh`: events never tried yet, in segments of up to SEGMENT events (one record for
 *    many: IndexedDB's cost is per record, so a segment enqueues and drains many times
 *    faster than one record per event), multi-entry unique indexes ids and keys; `spent`:
 *    per segment, which of its events have left it (delivered, retried, dead, evicted),
 *    so a segment is written once and never rewritten. An event that fails moves to
 *    `queue`, keeping its seq; `queue` holds events with a history (and those of older
 *    versions). The keys of delivered events move from `seen` (dropped) into `fresh` too,
 *    as records of no event under negative keys: the one unique index of `fresh` then
 *    refuses a queued duplicate and a re-send of a delivered event alike, so enqueue reads
 *    nothing per event, and looks closer only at a segment it refused.
 * A fixture of version 1 lives in schema-v1.fixture.ts; the upgrade is tested from it.
 */
export const DB_VERSION = 4;

/**
 * Events per fresh segment. An event's seq is `segment * SEGMENT + position`; segments are
 * numbered above every seq `queue` held when the first was written, so seqs stay unique
 * and in insertion order across both stores.
 */
export const SEGMENT = 64;

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

/** What the store knows of the clock (see delivery/clock.ts). */
export interface StoreClock {
  /** The latest time a write transaction ended (epoch ms): a clock behind it went back. */
  at: number;
  /** Forward jumps left out of events' age, as the flusher last saved them. */
  skew?: AgeSkew;
}

/** An event in a fresh segment: its seq is `seg * SEGMENT + position`. */
interface FreshEvent {
  id: string;
  url: string;
  body: string;
  keys?: string[];
}

/**
 * A record of `fresh`: a segment (seg ≥ 1), or the keys of events delivered at `createdAt`
 * (seg < 0, no events), kept for the de-duplication window.
 */
interface Segment {
  seg: number;
  createdAt: number;
  events: FreshEvent[];
  /**
   * The ids of the events without keys, and every key (multi-entry unique indexes:
   * duplicates are refused as they are added). An event with keys is not indexed by id
   * (each index entry costs the drain a write and a delete): an id comes again only with
   * the same event (a page posting a message again), whose keys refuse it all the same.
   */
  ids: string[];
  keys: string[];
}

/** Which events of a segment have left it (positions); the segment goes when all have. */
interface Spent {
  seg: number;
  /** The segment's (so that the first segment's due time is known without reading its events). */
  createdAt: number;
  n: number;
  gone: number[];
  /** The destination of all its events (segments of older versions: absent, mixed). */
  dest?: string;
  /**
   * Keys of its events delivered: its own index holds them until the segment goes, and
   * then they are remembered as delivered keys.
   */
  delivered?: string[];
}

interface OutboxSchema extends DBSchema {
  fresh: {
    key: number;
    value: Segment;
    indexes: { ids: string; keys: string };
  };
  spent: {
    key: number;
    value: Spent;
  };
  queue: {
    key: number;
    value: QueuedRecord;
    indexes: { id: string; nextAttemptAt: number; hold: string; createdAt: number; keys: string };
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

type StoreName = 'queue' | 'dead' | 'meta' | 'fresh' | 'spent';
type WriteTx = IDBPTransaction<OutboxSchema, StoreName[], 'readwrite'>;
type ReadTx = IDBPTransaction<OutboxSchema, StoreName[], 'readonly' | 'readwrite'>;
const WRITE_STORES: StoreName[] = ['queue', 'dead', 'meta', 'fresh', 'spent'];
/** In `fresh`, segments have keys ≥ 1; the keys of delivered events, keys < 0. (Made when used: IDBKeyRange may be missing.) */
const DELIVERED = () => IDBKeyRange.upperBound(0, true);

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
  /**
   * Up to `limit` events due at `now`, oldest due first, then in insertion order; none of
   * `exclude` (seqs), so that the next page can be read while one is in flight, and none
   * for the destinations of `skip` (held back, or with events enough in hand): their
   * segments are not even read; at most `share` per destination (a page shared by the
   * destinations that have events due, so one's backlog does not fill it).
   */
  readDue(now: number, limit: number, exclude?: ReadonlySet<number>, skip?: ReadonlySet<string>, share?: number): Promise<QueuedRecord[]>;
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
  /** Earliest `nextAttemptAt` of any queued event (none of the destinations of `skip`). */
  nextAttemptAt(skip?: ReadonlySet<string>): Promise<number | undefined>;
  /**
   * Keeps stored times in step with the wall clock (see delivery/clock.ts). Every write
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

const ZERO: Counters = { queued: 0, deadLettered: 0, delivered: 0, dropped: 0, retried: 0 };

/** Counts `delta` queued events more (or fewer) for the destination of `url`, never below zero. */
export function countQueued(counters: Counters, url: string, delta: number): void {
  const map = (counters.destinations ??= {});
  const key = destinationOf(url);
  const n = Math.max(0, (map[key] ?? 0) + delta);
  if (n === 0) delete map[key];
  else map[key] = n;
}

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
        }
        if (oldVersion < 4) {
          const fresh = database.createObjectStore('fresh', { keyPath: 'seg' });
          fresh.createIndex('ids', 'ids', { multiEntry: true, unique: true });
          fresh.createIndex('keys', 'keys', { multiEntry: true, unique: true });
          database.createObjectStore('spent', { keyPath: 'seg' });
          // Keys of Optimizely events are shorter from version 4 on (a tag for the URL).
          const short = (key: string) => {
            const old = /^([^\n]*)\nuuid:(.*)$/s.exec(key);
            return old ? `${urlTag(old[1]!)}:${old[2]}` : key;
          };
          void (async () => {
            let cursor = await transaction.objectStore('queue').openCursor();
            while (cursor) {
              const { keys } = cursor.value;
              if (keys?.some((k) => short(k) !== k)) await cursor.update({ ...cursor.value, keys: keys.map(short) });
              cursor = await cursor.continue();
            }
          })();
          // Version 3's `seen` (one record per delivered batch, in delivery order): its keys
          // move into `fresh`, each once, and the store goes.
          const legacy = database as unknown as IDBPDatabase;
          if (legacy.objectStoreNames.contains('seen')) {
            const seen = (transaction as unknown as IDBPTransaction<unknown, string[], 'versionchange'>).objectStore('seen');
            void seen.getAll().then((records: { keys: string[]; at: number }[]) => {
              const moved = new Set<string>();
              let n = 0;
              for (const { keys, at } of records) {
                const left = keys.map(short).filter((k) => !moved.has(k) && !!moved.add(k));
                if (left.length) void fresh.put({ seg: -++n, createdAt: at, events: [], ids: [], keys: left });
              }
              void transaction.objectStore('meta').put(n as unknown as Counters, 'delivered-keys');
              legacy.deleteObjectStore('seen');
            });
          }
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
        // The clock went back since the last write: what was written before moves back
        // with it, before anything this batch writes (so nothing written after the jump moves).
        const at = now();
        if (counters.clock && at < counters.clock.at - CLOCK_TOLERANCE_MS) await moveBack(tx, counters, counters.clock.at - at, at);
        const results: unknown[] = [];
        for (const item of batch) results.push(await item.op(tx, counters));
        counters.clock = { ...counters.clock, at: Math.max(at, now()) };
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

  /**
   * After the clock went back `by` ms (as far as known: the latest time written, less
   * `at`), every stored time still ahead of `at` was written before the jump: it moves
   * back by `by` (a schedule never before `at`). Read with cursors (one record at a time:
   * the queue may be large); a one-off after a jump.
   */
  async function moveBack(tx: WriteTx, counters: Counters, by: number, at: number): Promise<void> {
    // Events with a history: those scheduled ahead (the others are due; their times are left).
    let cursor = await tx.objectStore('queue').index('nextAttemptAt').openCursor(IDBKeyRange.lowerBound(at, true));
    while (cursor) {
      // (Moved back, a record sorts before the cursor: it is not met again.)
      await cursor.update(recordMovedBack(cursor.value, by, at));
      cursor = await cursor.continue();
    }
    // Fresh segments created ahead: due at their creation, they would not be read (nor those after them).
    let spent = await tx.objectStore('spent').openCursor();
    for (; spent; spent = await spent.continue()) {
      if (!(spent.value.createdAt > at)) continue;
      const createdAt = spent.value.createdAt - by;
      await spent.update({ ...spent.value, createdAt });
      const segment = await tx.objectStore('fresh').get(spent.value.seg);
      if (segment) await tx.objectStore('fresh').put({ ...segment, createdAt });
    }
    const meta = metaRecords(tx);
    const holds = (await meta.get('holds')) as Record<string, DestinationHold> | undefined;
    if (holds && Object.values(holds).some((h) => h.until > at)) {
      const moved: Record<string, DestinationHold> = {};
      for (const [key, h] of Object.entries(holds)) moved[key] = { ...h, until: movedBack(h.until, by, at, true) };
      await meta.put(moved, 'holds');
    }
    const lease = (await meta.get('lease')) as { owner: string; until: number } | undefined;
    if (lease && lease.until > at) await meta.put({ ...lease, until: movedBack(lease.until, by, at, true) }, 'lease');
    const skew = counters.clock?.skew;
    if (skew && skew.since > at) counters.clock = { at, skew: { ...skew, since: skew.since - by } };
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
    const queue = tx.objectStore('queue');
    const all = calls.flatMap((c) => c.settlements);
    // Fresh events: their segment's spent record says whether they are still in it. The
    // others are looked up in `queue` (an event that left its segment for a retry is there).
    const spent = await loadSpent(
      tx,
      all.map((s) => s.seq),
    );
    const fresh = (seq: number): boolean => {
      const st = spent.get(Math.floor(seq / SEGMENT));
      return !!st && seq % SEGMENT < st.n && !st.gone.has(seq % SEGMENT);
    };
    const queued = all.filter((s) => !fresh(s.seq)).map((s) => s.seq);
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const seq of queued) {
      if (seq < min) min = seq;
      if (seq > max) max = seq;
    }
    // Which are still queued (a record already gone was delivered by an earlier
    // instance, or cleared: nothing to do). One read of the keys in the span when it is
    // dense (then every key of the span is known), else one per settlement.
    const dense = queued.length > 0 && max - min < 4 * queued.length + 64;
    const present = new Set<number>(
      queued.length === 0
        ? []
        : dense
          ? await queue.getAllKeys(IDBKeyRange.bound(min, max))
          : (await Promise.all(queued.map((seq) => queue.getKey(seq)))).filter((k): k is number => k !== undefined),
    );
    // A fresh event as read by the flusher, else from its segment (read once).
    const segments = new Map<number, Promise<Segment | undefined>>();
    const fromSegment = async (seq: number): Promise<QueuedRecord | undefined> => {
      const seg = Math.floor(seq / SEGMENT);
      if (!segments.has(seg)) segments.set(seg, tx.objectStore('fresh').get(seg));
      const segment = await segments.get(seg);
      return segment && freshRecord(segment, seq % SEGMENT);
    };
    const records = await Promise.all(
      all.map((s) =>
        s.record && s.record.seq === s.seq && (fresh(s.seq) || present.has(s.seq))
          ? s.record
          : fresh(s.seq)
            ? fromSegment(s.seq)
            : present.has(s.seq)
              ? queue.get(s.seq)
              : undefined,
      ),
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
      const inSegment = fresh(s.seq);
      // It leaves its segment whatever the outcome (a retry or a dead letter is written below).
      if (inSegment) spent.get(Math.floor(s.seq / SEGMENT))!.gone.add(s.seq % SEGMENT);
      if (s.kind === 'delivered') {
        if (!inSegment) delivered.add(s.seq);
        if (record.keys) (inSegment ? spent.get(Math.floor(s.seq / SEGMENT))!.delivered : deliveredKeys).push(...record.keys);
        // Never below zero: a record written by other code may not have been counted.
        counters.queued = Math.max(0, counters.queued - 1);
        countQueued(counters, record.url, -1);
        counters.delivered++;
      } else if (s.kind === 'retry') {
        const { seq: _, record: __, kind: ___, status, ...schedule } = s;
        writes.push(
          queue.put({ ...record, ...schedule, lastStatus: status, firstAttemptAt: record.firstAttemptAt ?? now(), lastAttemptAt: now() }),
        );
        counters.retried++;
      } else {
        if (!inSegment) writes.push(queue.delete(s.seq));
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
        countQueued(counters, record.url, -1);
        counters.deadLettered++;
      }
    });
    const left = saveSpent(tx, spent);
    writes.push(left.done);
    // Delivered records of `queue` go in runs: a run of consecutive keys of the span that
    // are all delivered is one range delete.
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
    deliveredKeys.push(...left.delivered);
    if (deliveredKeys.length) writes.push(remember(tx, deliveredKeys));
    await Promise.all(writes);
    const droppedIds = await boundDeadLetters(tx, counters);
    return calls.map((c, i) => ({ applied: c.settlements.filter((s) => applied.has(s)).length, droppedIds: i === 0 ? droppedIds : [] }));
  }

  /**
   * The oldest `count` queued events across both stores (`queue` in seq order, fresh
   * segments in seq order, merged), or those `pick` allows, oldest first by `order`.
   */
  async function oldest(
    tx: WriteTx,
    count: number,
    fromQueue: () => Promise<QueuedRecord[]>,
    keepFresh: (createdAt: number) => boolean,
    order: (a: QueuedRecord, b: QueuedRecord) => number,
  ): Promise<QueuedRecord[]> {
    const [queued, fresh] = await Promise.all([fromQueue(), readFresh(tx, count, keepFresh)]);
    return [...queued, ...fresh].sort(order).slice(0, count);
  }

  /** Removes these events (read with `oldest`) from wherever they are queued. */
  async function removeQueued(tx: WriteTx, records: QueuedRecord[]): Promise<void> {
    const spent = await loadSpent(
      tx,
      records.map((r) => r.seq),
    );
    const writes: Promise<unknown>[] = [];
    for (const r of records) {
      const st = spent.get(Math.floor(r.seq / SEGMENT));
      if (st && r.seq % SEGMENT < st.n && !st.gone.has(r.seq % SEGMENT)) st.gone.add(r.seq % SEGMENT);
      else writes.push(tx.objectStore('queue').delete(r.seq));
    }
    const left = saveSpent(tx, spent);
    writes.push(left.done);
    if (left.delivered.length) writes.push(remember(tx, left.delivered));
    await Promise.all(writes);
  }

  // Deletes the oldest queued records; returns their ids.
  async function evictOldest(tx: WriteTx, counters: Counters, count: number): Promise<string[]> {
    const victims = await oldest(
      tx,
      count,
      () => tx.objectStore('queue').getAll(undefined, count),
      () => true,
      (a, b) => a.seq - b.seq,
    );
    await removeQueued(tx, victims);
    for (const r of victims) countQueued(counters, r.url, -1);
    return victims.map((r) => r.id);
  }

  /** Keeps the keys of events delivered now, for the de-duplication window. */
  async function remember(tx: WriteTx, keys: string[]): Promise<void> {
    const meta = metaRecords(tx);
    const n = (((await meta.get('delivered-keys')) as number | undefined) ?? 0) + 1;
    void meta.put(n, 'delivered-keys');
    const fresh = tx.objectStore('fresh');
    const record: Segment = { seg: -n, createdAt: now(), events: [], ids: [], keys: [...new Set(keys)] };
    if (await addUnlessDuplicate(fresh, record)) return;
    // Some are kept already (delivered twice): the others are.
    const held = await Promise.all(record.keys.map((k) => fresh.index('keys').getKey(k)));
    record.keys = record.keys.filter((_, i) => held[i] === undefined);
    if (record.keys.length) await fresh.add(record);
  }

  /**
   * Which of `records` are duplicates of queued events (an id queued, or every key queued
   * or delivered since `deliveredSince`), and the keys each of the others may hold (those
   * neither queued nor delivered). Reads the indexes of `fresh` (a segment's indexes still hold
   * its events that are gone: those do not count), and those of `queue` when it holds
   * anything (`retries`: only events that failed, usually none). Off the usual path: only for a
   * segment a unique index refused, or near a full queue.
   */
  async function againstQueued(
    tx: WriteTx,
    records: NewRecord[],
    deliveredSince: number,
    retries: boolean,
  ): Promise<{ duplicates: Set<string>; keys: Map<string, string[] | undefined> }> {
    const queue = tx.objectStore('queue');
    const fresh = tx.objectStore('fresh');
    // Still in the segment, or (a key) delivered from it.
    const inSegment = async (segment: Segment | undefined, has: (e: FreshEvent) => boolean, key?: string): Promise<boolean> => {
      if (!segment) return false;
      const st = await tx.objectStore('spent').get(segment.seg);
      const gone = new Set(st?.gone);
      return segment.events.some((e, i) => has(e) && !gone.has(i)) || (key !== undefined && !!st?.delivered?.includes(key));
    };
    const queuedId = async (id: string) =>
      (await inSegment(await fresh.index('ids').get(id), (e) => e.id === id)) ||
      (retries && (await queue.index('id').getKey(id)) !== undefined);
    // Queued, or delivered within the window (kept in `fresh` under a negative key)?
    const queuedKey = async (key: string) => {
      const holder = await fresh.index('keys').get(key);
      if (holder && holder.seg < 0) return holder.createdAt > deliveredSince;
      return (
        (await inSegment(holder, (e) => !!e.keys?.includes(key), key)) || (retries && (await queue.index('keys').getKey(key)) !== undefined)
      );
    };
    const duplicates = new Set<string>();
    const keys = new Map<string, string[] | undefined>();
    await Promise.all(
      records.map(async (r) => {
        const [idQueued, keysQueued] = await Promise.all([queuedId(r.id), Promise.all((r.keys ?? []).map(queuedKey))]);
        const left = r.keys?.filter((_, i) => !keysQueued[i]);
        if (idQueued || (r.keys && left!.length === 0)) duplicates.add(r.id);
        else keys.set(r.id, left);
      }),
    );
    return { duplicates, keys };
  }

  /** The next segment number: above every one given, and every seq `queue` gave (records of older versions). */
  async function nextSegment(tx: WriteTx, count: number): Promise<number> {
    const meta = metaRecords(tx);
    let last = (await meta.get('segment')) as number | undefined;
    if (last === undefined) {
      const cursor = await tx.objectStore('queue').openKeyCursor(null, 'prev');
      last = cursor ? Math.floor(Number(cursor.key) / SEGMENT) : 0;
    }
    await meta.put(last + count, 'segment');
    return last + 1;
  }

  /**
   * Events a segment could not take (their id or key is held by a gone event of a segment
   * still stored), checked not queued: each a record of `queue`, as an event that failed
   * once is. Resolves to how many were added (a unique index of `queue` refuses duplicates).
   */
  async function addToQueue(tx: WriteTx, records: NewRecord[], at: number): Promise<string[]> {
    if (records.length === 0) return [];
    let seq = (await nextSegment(tx, Math.ceil(records.length / SEGMENT))) * SEGMENT;
    const added = await Promise.all(
      records.map((r) =>
        addUnlessDuplicate(tx.objectStore('queue'), {
          seq: seq++,
          id: r.id,
          url: r.url,
          body: r.body,
          ...(r.keys?.length ? { keys: r.keys } : {}),
          createdAt: at,
          nextAttemptAt: at,
          attempts: 0,
          tries: 0,
        }),
      ),
    );
    return records.filter((_, i) => !added[i]).map((r) => r.id);
  }

  /**
   * Writes `records` (checked, not duplicates) as fresh segments of events created `at`.
   * Each segment is written whole or, when a unique index refuses it (an id or key is
   * queued), not at all: those come back as `refused`.
   */
  async function addSegments(tx: WriteTx, records: NewRecord[], at: number): Promise<NewRecord[]> {
    if (records.length === 0) return [];
    // One destination per segment (in their order within it), so that a read can pass over
    // a held destination's segments without reading them.
    const byDest = new Map<string, NewRecord[]>();
    for (const r of records) {
      const dest = destinationOf(r.url);
      const list = byDest.get(dest);
      if (list) list.push(r);
      else byDest.set(dest, [r]);
    }
    const parts: [string, NewRecord[]][] = [];
    for (const [dest, list] of byDest)
      for (let from = 0; from < list.length; from += SEGMENT) parts.push([dest, list.slice(from, from + SEGMENT)]);
    let seg = await nextSegment(tx, parts.length);
    const adds: Promise<NewRecord[]>[] = [];
    for (const [dest, part] of parts) {
      const segNo = seg++;
      const events = part.map(({ id, url, body, keys }) => ({ id, url, body, ...(keys?.length ? { keys } : {}) }));
      const segment: Segment = {
        seg: segNo,
        createdAt: at,
        events,
        ids: events.filter((e) => !e.keys).map((e) => e.id),
        keys: events.flatMap((e) => e.keys ?? []),
      };
      adds.push(
        addUnlessDuplicate(tx.objectStore('fresh'), segment).then(async (added) => {
          if (!added) return part;
          await tx.objectStore('spent').put({ seg: segment.seg, createdAt: at, n: events.length, gone: [], dest });
          return [];
        }),
      );
    }
    return (await Promise.all(adds)).flat();
  }

  /** The dead letters a selection names (in seq order), the ids not found, and the highest seq looked at. */
  async function selectDead(tx: WriteTx, selection: DeadSelection): Promise<{ found: DeadRecord[]; notFound: string[]; last?: number }> {
    const dead = tx.objectStore('dead');
    if ('ids' in selection) {
      const ids = [...new Set(selection.ids)];
      const byId = await Promise.all(ids.map((id) => dead.index('id').getAll(id)));
      return {
        found: byId.flat().sort((a, b) => a.seq - b.seq),
        notFound: ids.filter((_, i) => byId[i]!.length === 0),
      };
    }
    if (selection.limit <= 0 || selection.after >= selection.through) return { found: [], notFound: [] };
    const found = await dead.getAll(IDBKeyRange.bound(selection.after, selection.through, true, false), selection.limit);
    return { found, notFound: [], ...(found.length ? { last: found[found.length - 1]!.seq } : {}) };
  }

  return {
    enqueue(records, limits) {
      return write(async (tx, counters) => {
        const window = limits.dedupeWindowMs ?? 0;
        const keyed = (r: NewRecord): r is NewRecord & { keys: string[] } => window > 0 && !!r.keys?.length;
        const at = now();
        // Duplicates within the batch (an id, or every key, earlier in it). The others keep
        // the keys no earlier event holds: a batch (several keys) that shares only some of
        // its events with others is stored all the same (it cannot be trimmed), holding the
        // keys no other record holds. Duplicates of queued or delivered events: the unique
        // indexes of `fresh` refuse their segment, which is then looked at event by event.
        const inBatch = new Set<string>();
        const candidates: NewRecord[] = [];
        const results: EnqueueOutcome[] = records.map((r) => {
          const fresh = keyed(r) ? r.keys.filter((k) => !inBatch.has(`key:${k}`)) : undefined;
          const duplicate = inBatch.has(r.id) || fresh?.length === 0;
          inBatch.add(r.id);
          if (keyed(r)) for (const k of r.keys) inBatch.add(`key:${k}`);
          if (!duplicate) candidates.push({ id: r.id, url: r.url, body: r.body, ...(fresh ? { keys: fresh } : {}) });
          return { id: r.id, ok: true, duplicate };
        });
        const mark = (ids: Set<string>, outcome: (id: string) => EnqueueOutcome) => {
          for (let i = 0; i < results.length; i++) {
            const r = results[i]!;
            if (ids.has(r.id) && r.ok && !r.duplicate) results[i] = outcome(r.id);
          }
        };
        // Does `queue` hold anything (events that failed)? Read once: it gains records in this
        // transaction only after the last look below (addToQueue).
        const noRetries = (await tx.objectStore('queue').openKeyCursor()) === null;
        // Drops the duplicates of queued or delivered events from `list`, trimming the keys of the rest.
        const withoutQueued = async (list: NewRecord[]): Promise<NewRecord[]> => {
          const { duplicates, keys } = await againstQueued(tx, list, at - window, !noRetries);
          mark(duplicates, (id) => ({ id, ok: true, duplicate: true }));
          return list.filter((r) => !duplicates.has(r.id)).map((r) => (r.keys ? { ...r, keys: keys.get(r.id) } : r));
        };
        // Adds `list`; the events of a segment a unique index refused are checked one by one,
        // and those not queued go to `queue` (the segment's indexes may hold their id or key
        // for an event that is gone).
        // Counts what was stored, per destination too.
        const store = async (list: NewRecord[]): Promise<number> => {
          const refused = new Set(await addSegments(tx, list, at));
          const left = refused.size ? await withoutQueued([...refused]) : [];
          const duplicates = new Set(await addToQueue(tx, left, at));
          mark(duplicates, (id) => ({ id, ok: true, duplicate: true }));
          let n = 0;
          for (const r of [...list.filter((r) => !refused.has(r)), ...left.filter((r) => !duplicates.has(r.id))]) {
            countQueued(counters, r.url, 1);
            n++;
          }
          return n;
        };

        let droppedIds: string[] = [];
        // Room for all, and no event has failed (the usual case): added at once, the unique
        // indexes of `fresh` refusing duplicates. (Those of `queue` are not asked.)
        if (noRetries && counters.queued + candidates.length <= limits.maxQueueSize) {
          counters.queued += await store(candidates);
          return { results, droppedIds };
        }

        // Near full, or events have failed: find the duplicates of queued events first (so
        // that the room left is spent on events really new).
        const fresh = await withoutQueued(candidates);
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
            droppedIds = await evictOldest(tx, counters, Math.min(overBy, counters.queued));
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
        counters.queued += await store(accepted);
        return { results, droppedIds };
      });
    },

    async readDue(at, limit, exclude, skip, share) {
      if (limit <= 0) return []; // (getAll reads everything for a count of 0)
      const database = await db();
      const tx = database.transaction(['queue', 'fresh', 'spent'] as StoreName[], 'readonly');
      const wanted = (r: QueuedRecord) => !exclude?.has(r.seq) && !(skip?.size && skip.has(destinationOf(String(r.url))));
      // Events that failed before, due by now (one request for the page: a cursor costs a
      // round trip per record; more asked for while those of `skip` took the room), and
      // fresh ones (due at once: at their creation).
      const readRetries = async (): Promise<QueuedRecord[]> => {
        const index = tx.objectStore('queue').index('nextAttemptAt');
        for (let count = limit + (exclude?.size ?? 0); ; count *= 4) {
          const due = await index.getAll(IDBKeyRange.upperBound(at), count);
          // (Capped per destination after the reading stops as without a share: a retry
          // backlog is not read whole to find another destination's retries behind it.)
          const kept = due.filter(wanted);
          if (due.length < count || kept.length >= limit) return capPerDestination(kept, share);
        }
      };
      const [retries, fresh] = await Promise.all([
        readRetries(),
        readFresh(tx, limit, (createdAt) => createdAt <= at, exclude, skip, share),
      ]);
      await tx.done;
      return capPerDestination([...retries, ...fresh].sort(byDue), share).slice(0, limit);
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
        const dead = tx.objectStore('dead');
        const expired = await oldest(
          tx,
          limit,
          () => tx.objectStore('queue').index('createdAt').getAll(IDBKeyRange.upperBound(createdBefore, true), limit),
          (createdAt) => createdAt < createdBefore,
          (a, b) => a.createdAt - b.createdAt || a.seq - b.seq,
        );
        await removeQueued(tx, expired);
        await Promise.all(expired.map((record) => dead.put({ ...record, deadAt: now(), reason: 'expired', status: 0 })));
        counters.queued = Math.max(0, counters.queued - expired.length);
        for (const r of expired) countQueued(counters, r.url, -1);
        counters.deadLettered += expired.length;
        return { expiredIds: expired.map((r) => r.id), droppedIds: await boundDeadLetters(tx, counters) };
      });
    },

    lease(owner, at, ttlMs) {
      return write(async (tx) => {
        const meta = metaRecords(tx);
        const current = (await meta.get('lease')) as { owner: string; until: number } | undefined;
        // (A lease never lasts longer than its ttl: one beyond it was written before the clock went back.)
        if (current && current.owner !== owner && current.until > at && current.until <= at + ttlMs) return false;
        await meta.put({ owner, until: at + ttlMs }, 'lease');
        return true;
      });
    },

    forget(before, limit) {
      return write(async (tx) => {
        let forgotten = 0;
        // Oldest first: -1, -2, ...
        let cursor = await tx.objectStore('fresh').openCursor(DELIVERED(), 'prev');
        while (cursor && forgotten < limit && cursor.value.createdAt < before) {
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

    async nextAttemptAt(skip) {
      const database = await db();
      const tx = database.transaction(['queue', 'spent', 'fresh']);
      const skipped = (url: unknown) => !!skip?.size && skip.has(destinationOf(String(url)));
      // The first retry not skipped (after a bounded walk, the one there: a wake-up too early is harmless).
      const retry = async (): Promise<number | undefined> => {
        let cursor = await tx.objectStore('queue').index('nextAttemptAt').openCursor();
        for (let steps = 0; cursor && steps < 1000 && skipped(cursor.value.url); steps++) cursor = await cursor.continue();
        return cursor?.value.nextAttemptAt;
      };
      // A fresh segment is due at its creation, and the first one holds an event still.
      const fresh = async (): Promise<number | undefined> => {
        if (!skip?.size) return (await tx.objectStore('spent').openCursor())?.value.createdAt;
        const [first] = await readFresh(tx, 1, () => true, undefined, skip);
        return first?.createdAt;
      };
      const times = (await Promise.all([retry(), fresh()])).filter((t): t is number => t !== undefined);
      return times.length ? Math.min(...times) : undefined;
    },

    rebase(maxWaitMs, skew) {
      // (The look at the clock is in every write transaction: see drainWrites.)
      return write(async (tx, counters) => {
        const at = now();
        const cap = at + Math.max(0, maxWaitMs);
        let cursor = await tx.objectStore('queue').index('nextAttemptAt').openCursor(IDBKeyRange.lowerBound(cap, true));
        for (; cursor; cursor = await cursor.continue()) await cursor.update({ ...cursor.value, nextAttemptAt: cap });
        if (skew) counters.clock = { at: counters.clock?.at ?? at, skew: { ...skew } };
        return { ...(counters.clock?.skew ?? NO_SKEW) };
      });
    },

    async queuedByDestination() {
      const database = await db();
      const counters = await database.get('meta', 'counters');
      if (counters?.destinations || !counters?.queued) return { ...counters?.destinations };
      // Counters of an older version: counted once from the data.
      return write(async (tx, current) => {
        if (current.destinations) return { ...current.destinations };
        const map: Record<string, number> = {};
        const add = (url: string, n = 1) => (map[destinationOf(url)] = (map[destinationOf(url)] ?? 0) + n);
        let cursor = await tx.objectStore('queue').openCursor();
        for (; cursor; cursor = await cursor.continue()) add(String(cursor.value.url));
        let spent = await tx.objectStore('spent').openCursor();
        for (; spent; spent = await spent.continue()) {
          const { seg, n, gone, dest } = spent.value;
          if (dest !== undefined) add(dest, n - gone.length);
          else {
            const segment = await tx.objectStore('fresh').get(seg);
            const left = new Set(gone);
            for (const [i, e] of (segment?.events ?? []).entries()) if (i < n && !left.has(i)) add(e.url);
          }
        }
        current.destinations = map;
        return { ...map };
      });
    },

    async destinationHolds() {
      const database = await db();
      const holds = (await (database as unknown as IDBPDatabase).get('meta', 'holds')) as Record<string, DestinationHold> | undefined;
      return { ...holds };
    },

    saveDestinationHolds(holds) {
      return write(async (tx) => {
        await metaRecords(tx).put({ ...holds }, 'holds');
      });
    },

    async counters() {
      const database = await db();
      // (Per destination: queuedByDestination.)
      const { destinations: _, clock: __, ...counters } = { ...ZERO, ...(await database.get('meta', 'counters')) };
      return counters;
    },

    async readDead(limit, before) {
      const records: DeadRecord[] = [];
      if (limit <= 0) return records;
      const database = await db();
      const tx = database.transaction('dead');
      let cursor = await tx.store.openCursor(before === undefined ? null : IDBKeyRange.upperBound(before, true), 'prev');
      while (cursor) {
        records.push(cursor.value);
        cursor = records.length < limit ? await cursor.continue() : null;
      }
      await tx.done;
      return records;
    },

    requeue(selection, maxQueueSize) {
      return write(async (tx, counters) => {
        const { found, notFound, last } = await selectDead(tx, selection);
        const out: RequeueOutcome = { requeued: [], alreadyQueued: [], queueFull: [], notFound, ...(last !== undefined ? { last } : {}) };
        if (found.length === 0) return out;
        // Queued already (by id, or every key; delivered keys do not count: this send is asked for).
        const { duplicates, keys } = await againstQueued(tx, found, Number.POSITIVE_INFINITY, true);
        const room = Math.max(0, maxQueueSize - counters.queued);
        const candidates: DeadRecord[] = [];
        for (const r of found) {
          if (duplicates.has(r.id)) out.alreadyQueued.push(r.id);
          else if (candidates.length < room) candidates.push(r);
          else out.queueFull.push(r.id);
        }
        const refused = new Set(
          await addToQueue(
            tx,
            candidates.map((r) => {
              const k = r.keys ? keys.get(r.id) : undefined;
              return { id: r.id, url: r.url, body: r.body, ...(k?.length ? { keys: k } : {}) };
            }),
            now(),
          ),
        );
        const dead = tx.objectStore('dead');
        for (const r of candidates) {
          // (A unique index of `queue` refused it: the same id or key twice among these.)
          if (refused.has(r.id)) {
            out.alreadyQueued.push(r.id);
            continue;
          }
          void dead.delete(r.seq);
          out.requeued.push(r.id);
          countQueued(counters, r.url, 1);
        }
        counters.queued += out.requeued.length;
        counters.deadLettered = Math.max(0, counters.deadLettered - out.requeued.length);
        if (out.requeued.length) counters.requeued = (counters.requeued ?? 0) + out.requeued.length;
        return out;
      });
    },

    discard(selection) {
      return write(async (tx, counters) => {
        const { found, notFound, last } = await selectDead(tx, selection);
        const dead = tx.objectStore('dead');
        await Promise.all(found.map((r) => dead.delete(r.seq)));
        counters.deadLettered = Math.max(0, counters.deadLettered - found.length);
        if (found.length) counters.discarded = (counters.discarded ?? 0) + found.length;
        return { discarded: [...new Set(found.map((r) => r.id))], notFound, ...(last !== undefined ? { last } : {}) };
      });
    },

    async deadLetters(limit = 100) {
      if (limit <= 0) return []; // (getAll reads everything for a count of 0)
      const database = await db();
      return database.getAll('dead', undefined, limit);
    },

    clear() {
      return write(async (tx, counters) => {
        await tx.objectStore('queue').clear();
        await tx.objectStore('fresh').clear();
        await tx.objectStore('spent').clear();
        await tx.objectStore('dead').clear();
        counters.queued = 0;
        counters.destinations = {};
        counters.deadLettered = 0;
      });
    },

    close() {
      void dbPromise?.then((d) => d.close());
      dbPromise = undefined;
    },
  };
}

const byDue = (a: QueuedRecord, b: QueuedRecord) => a.nextAttemptAt - b.nextAttemptAt || a.seq - b.seq;

/** A queued record after the clock went back `by` ms, read at `at`: its times ahead of `at` move back (its schedule not before `at`). */
export function recordMovedBack(r: QueuedRecord, by: number, at: number): QueuedRecord {
  const moved: QueuedRecord = { ...r, createdAt: movedBack(r.createdAt, by, at), nextAttemptAt: movedBack(r.nextAttemptAt, by, at, true) };
  if (r.firstAttemptAt !== undefined) moved.firstAttemptAt = movedBack(r.firstAttemptAt, by, at);
  if (r.lastAttemptAt !== undefined) moved.lastAttemptAt = movedBack(r.lastAttemptAt, by, at);
  return moved;
}

/** Event `i` of a fresh segment as a queued record: never tried, due at its creation. */
function freshRecord(segment: Segment, i: number): QueuedRecord | undefined {
  const e = segment.events[i];
  if (!e) return undefined;
  const { createdAt } = segment;
  return {
    seq: segment.seg * SEGMENT + i,
    id: e.id,
    url: e.url,
    body: e.body,
    ...(e.keys ? { keys: e.keys } : {}),
    createdAt,
    nextAttemptAt: createdAt,
    attempts: 0,
    tries: 0,
  };
}

/**
 * Fresh events in seq order, from the segments `take` accepts (stopping at the first it
 * does not), up to `limit` (the last segment read may be cut short: the next page reads
 * it again for the rest). It walks the small spent records, and reads a segment only if
 * one of its events is wanted (not gone, not in `exclude`: the page in flight).
 */
async function readFresh(
  tx: ReadTx,
  limit: number,
  take: (createdAt: number) => boolean,
  exclude?: ReadonlySet<number>,
  skip?: ReadonlySet<string>,
  share = Number.POSITIVE_INFINITY,
): Promise<QueuedRecord[]> {
  const records: QueuedRecord[] = [];
  const taken = new Map<string, number>();
  const full = (key: string) => (taken.get(key) ?? 0) >= share || !!skip?.has(key);
  let cursor = await tx.objectStore('spent').openCursor();
  while (cursor && records.length < limit && take(cursor.value.createdAt)) {
    const { seg, n, gone, dest } = cursor.value;
    const left = new Set(gone);
    if (exclude) for (let i = 0; i < n; i++) if (exclude.has(seg * SEGMENT + i)) left.add(i);
    // The segment of a destination skipped, or with its share taken, is not read (older
    // segments, of no one destination, are).
    if (left.size < n && !(dest !== undefined && full(dest))) {
      const segment = await tx.objectStore('fresh').get(seg);
      if (!segment) break;
      for (let i = 0; i < n && records.length < limit; i++) {
        if (left.has(i)) continue;
        const key = dest ?? destinationOf(segment.events[i]!.url);
        if (full(key)) continue;
        taken.set(key, (taken.get(key) ?? 0) + 1);
        records.push(freshRecord(segment, i)!);
      }
    }
    if (records.length < limit) cursor = await cursor.continue();
  }
  return records;
}

/** The spent records of the segments these seqs would be in (those that exist), to change and save. */
type SpentState = Omit<Spent, 'gone' | 'delivered'> & { gone: Set<number>; delivered: string[]; changed: number };

async function loadSpent(tx: WriteTx, seqs: number[]): Promise<Map<number, SpentState>> {
  const segs = [...new Set(seqs.map((seq) => Math.floor(seq / SEGMENT)))];
  const found = await Promise.all(segs.map((seg) => tx.objectStore('spent').get(seg)));
  const states = new Map<number, SpentState>();
  for (const st of found)
    if (st) states.set(st.seg, { ...st, gone: new Set(st.gone), delivered: st.delivered ?? [], changed: st.gone.length });
  return states;
}

/**
 * Writes back what changed: a segment all of whose events are gone goes, with its spent
 * record (its deletes issued before anything the caller writes next), and the keys of its
 * delivered events come back, to be remembered.
 */
function saveSpent(tx: WriteTx, states: Map<number, SpentState>): { done: Promise<unknown>; delivered: string[] } {
  const writes: Promise<unknown>[] = [];
  const delivered: string[] = [];
  for (const [seg, st] of states) {
    if (st.gone.size === st.changed) continue;
    if (st.gone.size >= st.n) {
      writes.push(tx.objectStore('fresh').delete(seg), tx.objectStore('spent').delete(seg));
      delivered.push(...st.delivered);
    } else {
      const { changed: _, gone, delivered: keys, ...rest } = st;
      writes.push(tx.objectStore('spent').put({ ...rest, gone: [...gone], ...(keys.length ? { delivered: keys } : {}) }));
    }
  }
  return { done: Promise.all(writes), delivered };
}

/** The meta store's records other than the counters (the segment and delivered-key numbers, the lease), untyped. */
const metaRecords = (tx: WriteTx) =>
  tx.objectStore('meta') as unknown as { get(k: string): Promise<unknown>; put(v: unknown, k: string): Promise<unknown> };

/**
 * Adds `value` unless a unique index (id, key) already holds it: resolves false then,
 * and the transaction goes on (the failed request's error is handled, not bubbled).
 */
function addUnlessDuplicate<T>(store: { add(value: T): unknown }, value: T): Promise<boolean> {
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
