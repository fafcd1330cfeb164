// The IndexedDB schema: what version 4 creates, what persists across a reopening, stepping
// aside for a newer version, and the upgrades from versions 1 (schema-v1.fixture.ts) and 3.
import { afterEach, describe, expect, it } from 'vitest';
import { ROOMY, T0, closeStores, ids, openTestStore, rec, seqOf } from './both-stores.fixture.js';
import { urlTag } from './content-keys.js';
import { shortKey } from './schema.js';
import { createV1Database } from './schema-v1.fixture.js';
import { DB_VERSION, type NewRecord, type StoreOptions, openStore } from './store.js';

afterEach(closeStores);

describe('IndexedDB store: persistence and schema', () => {
  const setup = (options: StoreOptions = {}) => openTestStore(openStore, options);

  it('counters and records persist after close() and reopening the same name', async () => {
    const { store, name } = setup({ maxDeadLetters: 5 });
    await store.enqueue(['a', 'b', 'c', 'd'].map(rec), ROOMY);
    await store.settle([
      { seq: await seqOf(store, 'a'), kind: 'delivered' },
      { seq: await seqOf(store, 'b'), kind: 'dead', status: 404, reason: 'permanent', tries: 1 },
      { seq: await seqOf(store, 'c'), kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 100, hold: 'server', status: 500 },
    ]);
    const before = await store.counters();
    expect(before).toEqual({ queued: 2, deadLettered: 1, delivered: 1, dropped: 0, retried: 1 });
    store.close();

    const { store: again } = setup({ name });
    expect(await again.counters()).toEqual(before);
    expect(ids(await again.readDue(T0 + 100, 10))).toEqual(['d', 'c']);
    expect(ids(await again.deadLetters())).toEqual(['b']);
    // The reopened store keeps working, and seq keeps growing.
    await again.enqueue([rec('e'), rec('a')], ROOMY);
    const all = await again.readDue(T0 + 100, 10);
    expect(ids(all)).toEqual(['d', 'e', 'a', 'c']);
    expect(all[1]!.seq).toBeGreaterThan(all[0]!.seq);
  });

  it(`creates a version ${DB_VERSION} database with the queue, dead and meta stores`, async () => {
    const { store, name } = setup();
    await store.enqueue([rec('a')], ROOMY);
    store.close();
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(name);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    try {
      expect(db.version).toBe(DB_VERSION);
      expect([...db.objectStoreNames].sort()).toEqual(['dead', 'fresh', 'meta', 'queue', 'spent']);
      const tx = db.transaction(['queue', 'fresh']);
      expect([...tx.objectStore('queue').indexNames].sort()).toEqual(['createdAt', 'hold', 'id', 'keys', 'nextAttemptAt']);
      expect([...tx.objectStore('fresh').indexNames].sort()).toEqual(['ids', 'keys']);
      for (const index of ['ids', 'keys']) {
        expect(tx.objectStore('fresh').index(index).multiEntry).toBe(true);
        expect(tx.objectStore('fresh').index(index).unique).toBe(true);
      }
      expect(tx.objectStore('queue').index('keys').multiEntry).toBe(true);
      expect(tx.objectStore('queue').index('keys').unique).toBe(true);
      expect(tx.objectStore('queue').index('id').unique).toBe(true);
    } finally {
      db.close();
    }
  });

  it('steps aside when a newer version asks to open: the upgrade is not blocked', async () => {
    const { store, name } = setup();
    await store.enqueue([rec('a')], ROOMY); // the connection is open now

    // `blocked` may fire (our close runs a microtask after versionchange); what matters is
    // that the open then succeeds instead of waiting forever (the test would time out).
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(name, DB_VERSION + 1);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    try {
      expect(db.version).toBe(DB_VERSION + 1);
      // The newer schema found the data in place.
      const count = await new Promise<number>((resolve, reject) => {
        const req = db.transaction('fresh').objectStore('fresh').count();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      expect(count).toBe(1);
      // Our store must not reopen an older schema over the newer one: a clear storage-error.
      await expect(store.counters()).rejects.toMatchObject({ code: 'storage-error' });
      await expect(store.enqueue([rec('b')], ROOMY)).rejects.toMatchObject({ code: 'storage-error' });
    } finally {
      db.close();
    }
  });
});

describe('IndexedDB store: upgrades', () => {
  const setup = (options: StoreOptions = {}) => openTestStore(openStore, options);

  it('upgrades from version 3: queued events and delivered keys are kept', async () => {
    const name = `store-v3-${Math.random().toString(36).slice(2)}`;
    const url = 'https://collector.example/v1/events';
    // Version 1, then what versions 2 and 3 added: two indexes of `queue`, and `seen`.
    await createV1Database({ name, records: [] });
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open(name, 3);
      request.onupgradeneeded = () => {
        const queue = request.transaction!.objectStore('queue');
        queue.createIndex('createdAt', 'createdAt');
        queue.createIndex('keys', 'keys', { multiEntry: true, unique: true });
        const seen = request.result.createObjectStore('seen', { autoIncrement: true });
        seen.createIndex('keys', 'keys', { multiEntry: true });
        seen.createIndex('at', 'at');
      };
      request.onsuccess = () => {
        const db = request.result;
        const tx = db.transaction(['queue', 'meta', 'seen'], 'readwrite');
        const base = { url, createdAt: T0, nextAttemptAt: T0, attempts: 0, tries: 0 };
        for (const [seq, id] of [
          [70, 'old1'],
          [200, 'old2'],
        ] as const)
          tx.objectStore('queue').add({ ...base, seq, id, body: '{}', keys: [`k-${id}`] });
        tx.objectStore('queue').add({ ...base, seq: 300, id: 'old3', body: '{}', keys: [`${url}\nuuid:u-queued`] });
        // The same key delivered twice (two records): kept once.
        tx.objectStore('seen').add({ keys: ['k-done', 'k-twice', `${url}\nuuid:u-old-format`], at: T0 - 1000 });
        tx.objectStore('seen').add({ keys: ['k-twice'], at: T0 - 500 });
        tx.objectStore('meta').put({ queued: 2, deadLettered: 0, delivered: 2, dropped: 0, retried: 0 }, 'counters');
        tx.oncomplete = () => {
          db.close();
          resolve();
        };
        tx.onerror = () => reject(tx.error);
      };
      request.onerror = () => reject(request.error);
    });
    const { store } = setup({ name });
    const window = { ...ROOMY, dedupeWindowMs: 3600_000 };
    const keyed = (id: string, key: string): NewRecord => ({ ...rec(id), keys: [key] });
    const out = await store.enqueue(
      [
        keyed('re1', 'k-done'),
        keyed('re2', 'k-twice'),
        keyed('re3', 'k-old1'),
        // Keys of Optimizely events are shorter from version 4 on: those kept are converted.
        keyed('re4', `${urlTag(url)}:u-old-format`),
        keyed('re5', `${urlTag(url)}:u-queued`),
        keyed('new', 'k-new'),
      ],
      window,
    );
    expect(out.results.map((r) => r.ok && r.duplicate)).toEqual([true, true, true, true, true, false]);
    // New seqs come after the old ones.
    const due = await store.readDue(T0, 10);
    expect(ids(due)).toEqual(['old1', 'old2', 'old3', 'new']);
    expect(due[3]!.seq).toBeGreaterThan(300);
  });

  describe('upgrade from schema version 1 (fixture)', () => {
    const v1 = (id: string, createdAt: number, nextAttemptAt: number, hold?: 'network' | 'server') => ({
      id,
      url: 'https://collector.example/v1/events',
      body: JSON.stringify({ id }),
      createdAt,
      nextAttemptAt,
      attempts: hold ? 2 : 0,
      tries: hold ? 2 : 0,
      ...(hold ? { hold, lastStatus: 503 } : {}),
    });

    it('keeps every queued event, its order and schedule, and recounts drifted counters', async () => {
      const name = `store-upgrade-${Math.random().toString(36).slice(2)}`;
      // The counter says 0 although three events are queued: version 2 recounts.
      await createV1Database({
        name,
        queuedCounter: 0,
        records: [v1('a', T0 - 3000, T0 - 3000), v1('b', T0 - 2000, T0 + 60_000, 'server'), v1('c', T0 - 1000, T0 - 1000, 'network')],
      });
      const { store } = setup({ name });
      expect(await store.counters()).toMatchObject({ queued: 3, deadLettered: 0 });
      expect(ids(await store.readDue(T0, 10))).toEqual(['a', 'c']);
      expect(ids(await store.readDue(Number.MAX_SAFE_INTEGER, 10))).toEqual(['a', 'c', 'b']);
      expect((await store.readDue(Number.MAX_SAFE_INTEGER, 10)).find((r) => r.id === 'b')).toMatchObject({
        attempts: 2,
        hold: 'server',
        nextAttemptAt: T0 + 60_000,
      });
      // Holds survive: an online nudge releases the network-held one only.
      expect(await store.release(['network'], T0)).toBe(0);

      // Version 2's createdAt index works on the upgraded records.
      const { expiredIds } = await store.expire(T0 - 1500, 10);
      expect(expiredIds).toEqual(['a', 'b']);
      expect(await store.counters()).toMatchObject({ queued: 1, deadLettered: 2 });

      // And the store goes on as usual.
      await store.enqueue([rec('d')], ROOMY);
      const c = await seqOf(store, 'c');
      await store.settle([{ seq: c, kind: 'delivered' }]);
      expect(ids(await store.readDue(Number.MAX_SAFE_INTEGER, 10))).toEqual(['d']);
      expect(await store.counters()).toMatchObject({ queued: 1, delivered: 1 });
    });
  });
});

describe('shortKey', () => {
  it("shortens version 3's key of an Optimizely event to the URL's tag and the uuid; leaves others", () => {
    const url = 'https://logx.optimizely.com/v1/events';
    expect(shortKey(`${url}\nuuid:u-1`)).toBe(`${urlTag(url)}:u-1`);
    expect(shortKey('sha256:abc')).toBe('sha256:abc');
    expect(shortKey(`${url}\nbody:{}`)).toBe(`${url}\nbody:{}`);
  });
});
