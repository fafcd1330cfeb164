// The IndexedDB schema: the database's name and version, the typed records of each object
// store (the `meta` records typed by their key), and the upgrade steps from each older
// version. Types only but the upgrades; database.ts opens the database with them.
//
// Schema versions:
// 1. queue (seq; indexes id, nextAttemptAt, hold), dead (seq; index id), meta (counters).
// 2. queue index createdAt, so events past maxAgeMs are found without reading the queue;
//    counters recounted from the data (they could drift from records other code wrote).
// 3. queue index keys (content de-duplication keys; multi-entry, unique, sparse) and a `seen`
//    store of the keys of delivered events, one record per delivered batch (multi-entry
//    index keys, index at), kept for the de-duplication window.
// 4. `fresh`: events never tried yet, in segments of up to SEGMENT events (one record for
//    many: IndexedDB's cost is per record, so a segment enqueues and drains many times
//    faster than one record per event), multi-entry unique indexes ids and keys; `spent`:
//    per segment, which of its events have left it (delivered, retried, dead, evicted),
//    so a segment is written once and never rewritten. An event that fails moves to
//    `queue`, keeping its seq; `queue` holds events with a history (and those of older
//    versions). The keys of delivered events move from `seen` (dropped) into `fresh` too,
//    as records of no event under negative keys: the one unique index of `fresh` then
//    refuses a queued duplicate and a re-send of a delivered event alike, so enqueue reads
//    nothing per event, and looks closer only at a segment it refused. (segments.ts)
// A fixture of version 1 lives in schema-v1.fixture.ts; the upgrades are tested from it
// and from a version 3 database (schema.test.ts).
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import type { DestinationHold } from '../destination.js';
import { ZERO } from './admission.js';
import { urlTag } from './content-keys.js';
import type { Counters, DeadRecord, QueuedRecord } from './records.js';

export const DB_NAME = 'sw-outbox';
/** The schema version this code writes (the list above). */
export const DB_VERSION = 4;

/** An event in a fresh segment: its seq is `seg * SEGMENT + position`. */
export interface FreshEvent {
  id: string;
  url: string;
  body: string;
  keys?: string[];
}

/**
 * A record of `fresh`: a segment (seg ≥ 1), or the keys of events delivered at `createdAt`
 * (seg < 0, no events), kept for the de-duplication window.
 */
export interface Segment {
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
export interface Spent {
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

/** The flushing lease (see Store.lease). */
export interface Lease {
  owner: string;
  until: number;
}

/** The records of `meta`, by key. */
export interface MetaRecords {
  counters: Counters;
  /** The highest segment number given (segments.ts: nextSegment). */
  segment: number;
  /** How many records of delivered keys were written: the next one goes under minus one more. */
  'delivered-keys': number;
  /** The destinations held back, as delivery last saved them. */
  holds: Record<string, DestinationHold>;
  lease: Lease;
}
export type MetaKey = keyof MetaRecords;

/** A record of version 3's `seen` (gone from version 4 on: only the upgrade reads it). */
interface SeenRecord {
  keys: string[];
  at: number;
}

export interface OutboxSchema extends DBSchema {
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
    key: MetaKey;
    value: MetaRecords[MetaKey];
  };
  /** Version 3 only. */
  seen: {
    key: number;
    value: SeenRecord;
    indexes: { keys: string; at: number };
  };
}

/** The object stores of the current version. */
export type StoreName = 'queue' | 'dead' | 'meta' | 'fresh' | 'spent';
export type Database = IDBPDatabase<OutboxSchema>;
export type WriteTx = IDBPTransaction<OutboxSchema, StoreName[], 'readwrite'>;
export type ReadTx = IDBPTransaction<OutboxSchema, StoreName[], 'readonly' | 'readwrite'>;
/** Every write transaction spans all the stores (one write queue, one transaction at a time). */
export const WRITE_STORES: StoreName[] = ['queue', 'dead', 'meta', 'fresh', 'spent'];

type MetaReader = { get(key: MetaKey): Promise<MetaRecords[MetaKey] | undefined> };
type MetaWriter = { put(value: MetaRecords[MetaKey], key: MetaKey): Promise<unknown> };

/** The `meta` record under `key`, typed by its key. */
export function getMeta<K extends MetaKey>(meta: MetaReader, key: K): Promise<MetaRecords[K] | undefined> {
  // One store, one value type per key: putMeta is the only writer, and it types the value by its key.
  return meta.get(key) as Promise<MetaRecords[K] | undefined>;
}

export function putMeta<K extends MetaKey>(meta: MetaWriter, key: K, value: MetaRecords[K]): Promise<unknown> {
  return meta.put(value, key);
}

// --- upgrades ------------------------------------------------------------------------------

type UpgradeTx = IDBPTransaction<OutboxSchema, StoreNames<OutboxSchema>[], 'versionchange'>;

/**
 * One step per version; a database at version `oldVersion` runs every step after it.
 * Requests on the upgrade transaction only: it stays open until they are done.
 */
export function upgrade(database: Database, oldVersion: number, transaction: UpgradeTx): void {
  if (oldVersion < 1) createV1(database);
  if (oldVersion < 2) upgradeToV2(transaction);
  if (oldVersion < 3) transaction.objectStore('queue').createIndex('keys', 'keys', { multiEntry: true, unique: true });
  if (oldVersion < 4) upgradeToV4(database, transaction);
}

// (schema-v1.fixture.ts repeats this step on purpose: a database exactly as version 1 left
// it, self-contained so that a page can run it too.)
function createV1(database: Database): void {
  const queue = database.createObjectStore('queue', { keyPath: 'seq', autoIncrement: true });
  queue.createIndex('id', 'id', { unique: true });
  queue.createIndex('nextAttemptAt', 'nextAttemptAt');
  // Sparse: only events held by a failure are indexed.
  queue.createIndex('hold', 'hold');
  const dead = database.createObjectStore('dead', { keyPath: 'seq' });
  dead.createIndex('id', 'id');
  database.createObjectStore('meta');
}

/** The createdAt index, and the counters recounted. */
function upgradeToV2(transaction: UpgradeTx): void {
  const queue = transaction.objectStore('queue');
  queue.createIndex('createdAt', 'createdAt');
  const meta = transaction.objectStore('meta');
  void Promise.all([queue.count(), transaction.objectStore('dead').count(), getMeta(meta, 'counters')]).then(
    ([queued, deadLettered, counters]) => putMeta(meta, 'counters', { ...ZERO, ...counters, queued, deadLettered }),
  );
}

/** Keys of Optimizely events are shorter from version 4 on (a tag for the URL). */
export function shortKey(key: string): string {
  const old = /^([^\n]*)\nuuid:(.*)$/s.exec(key);
  return old ? `${urlTag(old[1]!)}:${old[2]}` : key;
}

/** `fresh` and `spent`; the keys of `queue` shortened; version 3's `seen` moved into `fresh`. */
function upgradeToV4(database: Database, transaction: UpgradeTx): void {
  const fresh = database.createObjectStore('fresh', { keyPath: 'seg' });
  fresh.createIndex('ids', 'ids', { multiEntry: true, unique: true });
  fresh.createIndex('keys', 'keys', { multiEntry: true, unique: true });
  database.createObjectStore('spent', { keyPath: 'seg' });
  void (async () => {
    let cursor = await transaction.objectStore('queue').openCursor();
    while (cursor) {
      const { keys } = cursor.value;
      if (keys?.some((k) => shortKey(k) !== k)) await cursor.update({ ...cursor.value, keys: keys.map(shortKey) });
      cursor = await cursor.continue();
    }
  })();
  // Version 3's `seen` (one record per delivered batch, in delivery order): its keys
  // move into `fresh`, each once, and the store goes.
  if (!database.objectStoreNames.contains('seen')) return;
  void transaction
    .objectStore('seen')
    .getAll()
    .then((records) => {
      const moved = new Set<string>();
      let n = 0;
      for (const { keys, at } of records) {
        const left = keys.map(shortKey).filter((k) => !moved.has(k) && !!moved.add(k));
        if (left.length) void fresh.put({ seg: -++n, createdAt: at, events: [], ids: [], keys: left });
      }
      void putMeta(transaction.objectStore('meta'), 'delivered-keys', n);
      database.deleteObjectStore('seen');
    });
}
