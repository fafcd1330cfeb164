// Dead letters you can act on: paging (readDead), requeue and discard, against both
// stores (IndexedDB through fake-indexeddb, and memory), which must keep the same rules.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IMPLEMENTATIONS, T0, closeLater, closeStores, openTestStore } from './both-stores.fixture.js';
import { type EnqueueLimits, type NewRecord, type Store, type StoreOptions, openStore } from './store.js';

const ROOMY: EnqueueLimits = { maxQueueSize: 10_000, overflow: 'drop-oldest' };
const ALL = { after: Number.NEGATIVE_INFINITY, through: Number.POSITIVE_INFINITY, limit: 1000 };

afterEach(() => {
  vi.restoreAllMocks();
  closeStores();
});

const rec = (id: string, keys?: string[]): NewRecord => ({
  id,
  url: 'https://collector.example/v1/events',
  body: JSON.stringify({ id }),
  ...(keys ? { keys } : {}),
});
const ids = (records: { id: string }[]) => records.map((r) => r.id);

describe.each(IMPLEMENTATIONS)('%s store: dead letters', (_kind, open) => {
  const setup = (options: StoreOptions = {}) => openTestStore(open, options);

  /** Enqueues `names` and dead-letters each at its first try (400), one call per event, clock +1 ms each. */
  async function deadLettered(store: Store, clock: { now: number }, names: string[], limits = ROOMY) {
    await store.enqueue(
      names.map((n) => rec(n)),
      limits,
    );
    for (const r of await store.readDue(Number.MAX_SAFE_INTEGER, 10_000)) {
      if (!names.includes(r.id)) continue;
      clock.now++;
      await store.settle([{ seq: r.seq, kind: 'dead', status: 400, reason: 'permanent', tries: 1 }]);
    }
  }

  describe('readDead: one page, newest first', () => {
    it('lists newest first (by queue order), pages with `before` (exclusive), and honours the limit', async () => {
      const { store, clock } = setup();
      const names = Array.from({ length: 7 }, (_, i) => `e${i}`);
      await deadLettered(store, clock, names);
      const first = await store.readDead(3);
      expect(ids(first)).toEqual(['e6', 'e5', 'e4']);
      const second = await store.readDead(3, first[2]!.seq);
      expect(ids(second)).toEqual(['e3', 'e2', 'e1']);
      const third = await store.readDead(3, second[2]!.seq);
      expect(ids(third)).toEqual(['e0']);
      expect(await store.readDead(3, third[0]!.seq)).toEqual([]);
      expect(await store.readDead(0)).toEqual([]);
    });

    it('reads only one page (a cursor, never getAll of the store)', async () => {
      const { store, clock } = setup();
      await deadLettered(
        store,
        clock,
        Array.from({ length: 50 }, (_, i) => `e${i}`),
      );
      const getAll = vi.spyOn(IDBObjectStore.prototype, 'getAll');
      const getAllKeys = vi.spyOn(IDBObjectStore.prototype, 'getAllKeys');
      const count = vi.spyOn(IDBObjectStore.prototype, 'count');
      expect(ids(await store.readDead(5))).toEqual(['e49', 'e48', 'e47', 'e46', 'e45']);
      expect(getAll).not.toHaveBeenCalled();
      expect(getAllKeys).not.toHaveBeenCalled();
      expect(count).not.toHaveBeenCalled();
    });

    it('a dead record carries the first and last attempt of its retries', async () => {
      const { store, clock } = setup();
      await store.enqueue([rec('a')], ROOMY);
      const [a] = await store.readDue(T0, 10);
      clock.now = T0 + 100;
      await store.settle([{ seq: a!.seq, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 200, hold: 'server', status: 503 }]);
      clock.now = T0 + 300;
      const [again] = await store.readDue(T0 + 300, 10);
      expect(again).toMatchObject({ firstAttemptAt: T0 + 100, lastAttemptAt: T0 + 100 });
      await store.settle([
        { seq: again!.seq, record: again!, kind: 'retry', attempts: 2, tries: 2, nextAttemptAt: T0 + 400, hold: 'server', status: 503 },
      ]);
      clock.now = T0 + 500;
      const [third] = await store.readDue(T0 + 500, 10);
      expect(third).toMatchObject({ firstAttemptAt: T0 + 100, lastAttemptAt: T0 + 300 });
      await store.settle([{ seq: third!.seq, record: third!, kind: 'dead', status: 400, reason: 'permanent', tries: 3 }]);
      const [dead] = await store.readDead(10);
      expect(dead).toMatchObject({ id: 'a', tries: 3, firstAttemptAt: T0 + 100, lastAttemptAt: T0 + 300, deadAt: T0 + 500, status: 400 });
    });
  });

  describe('requeue', () => {
    it('puts them back in the queue: due now, attempts reset, the same id, url and body; counted and gone from dead', async () => {
      const { store, clock } = setup();
      await deadLettered(store, clock, ['a', 'b', 'c']);
      clock.now = T0 + 1000;
      const out = await store.requeue({ ids: ['a', 'c', 'nope'] }, 10_000);
      expect(out).toEqual({ requeued: ['a', 'c'], alreadyQueued: [], queueFull: [], notFound: ['nope'] });
      const due = await store.readDue(T0 + 1000, 10);
      expect(due.map((r) => [r.id, r.attempts, r.tries, r.nextAttemptAt, r.createdAt])).toEqual([
        ['a', 0, 0, T0 + 1000, T0 + 1000],
        ['c', 0, 0, T0 + 1000, T0 + 1000],
      ]);
      expect(due[0]).toMatchObject({ url: 'https://collector.example/v1/events', body: '{"id":"a"}' });
      expect(due[0]!.firstAttemptAt).toBeUndefined();
      expect(ids(await store.readDead(10))).toEqual(['b']);
      expect(await store.counters()).toMatchObject({ queued: 2, deadLettered: 1, requeued: 2 });
    });

    it('a requeued event settles like any other (delivered: counted, gone)', async () => {
      const { store, clock } = setup();
      await deadLettered(store, clock, ['a']);
      await store.requeue({ ids: ['a'] }, 10_000);
      const [a] = await store.readDue(Number.MAX_SAFE_INTEGER, 10);
      await store.settle([{ seq: a!.seq, record: a!, kind: 'delivered' }]);
      expect(await store.readDue(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect(await store.counters()).toMatchObject({ queued: 0, deadLettered: 0, delivered: 1, requeued: 1 });
    });

    it('an event with the same id already queued is skipped: the queued one stays, the dead letter too', async () => {
      const { store, clock } = setup();
      await deadLettered(store, clock, ['a']);
      // The same id stored again (a page posting its message again).
      await store.enqueue([rec('a')], ROOMY);
      const out = await store.requeue({ ids: ['a'] }, 10_000);
      expect(out).toEqual({ requeued: [], alreadyQueued: ['a'], queueFull: [], notFound: [] });
      expect(ids(await store.readDue(Number.MAX_SAFE_INTEGER, 10))).toEqual(['a']);
      expect(ids(await store.readDead(10))).toEqual(['a']);
      expect(await store.counters()).toMatchObject({ queued: 1, deadLettered: 1 });
    });

    it('an event whose content keys are all queued is skipped', async () => {
      const { store, clock } = setup();
      const limits: EnqueueLimits = { ...ROOMY, dedupeWindowMs: 60_000 };
      await store.enqueue([rec('a', ['k1'])], limits);
      const [a] = await store.readDue(T0, 10);
      await store.settle([{ seq: a!.seq, record: a!, kind: 'dead', status: 400, reason: 'permanent', tries: 1 }]);
      clock.now++;
      await store.enqueue([rec('b', ['k1'])], limits); // the same Optimizely event, another id
      expect(await store.requeue({ ids: ['a'] }, 10_000)).toMatchObject({ requeued: [], alreadyQueued: ['a'] });
    });

    it('maxQueueSize: those that do not fit stay dead letters (queueFull), nothing queued is evicted', async () => {
      const { store, clock } = setup();
      const limits: EnqueueLimits = { maxQueueSize: 3, overflow: 'drop-oldest' };
      await deadLettered(store, clock, ['a', 'b', 'c'], limits);
      await store.enqueue([rec('x'), rec('y')], limits);
      const out = await store.requeue({ ids: ['a', 'b', 'c'] }, 3);
      expect(out).toEqual({ requeued: ['a'], alreadyQueued: [], queueFull: ['b', 'c'], notFound: [] });
      expect(ids(await store.readDue(Number.MAX_SAFE_INTEGER, 10))).toEqual(['x', 'y', 'a']);
      expect(ids(await store.readDead(10))).toEqual(['c', 'b']);
      expect(await store.counters()).toMatchObject({ queued: 3, deadLettered: 2, dropped: 0, requeued: 1 });
    });

    it('by seq: the oldest `limit` above `after`, at most `through`, and reports the last seq looked at', async () => {
      const { store, clock } = setup();
      await deadLettered(store, clock, ['a', 'b', 'c', 'd']);
      const seqs = (await store.readDead(10)).map((r) => r.seq).reverse();
      const first = await store.requeue({ after: Number.NEGATIVE_INFINITY, through: seqs[2]!, limit: 2 }, 10_000);
      expect(first).toMatchObject({ requeued: ['a', 'b'], last: seqs[1] });
      const second = await store.requeue({ after: first.last!, through: seqs[2]!, limit: 2 }, 10_000);
      expect(second).toMatchObject({ requeued: ['c'], last: seqs[2] });
      const third = await store.requeue({ after: second.last!, through: seqs[2]!, limit: 2 }, 10_000);
      expect(third).toEqual({ requeued: [], alreadyQueued: [], queueFull: [], notFound: [] });
      expect(ids(await store.readDead(10))).toEqual(['d']);
    });

    it('a requeued event that dies again is a dead letter again, listed as the newest', async () => {
      const { store, clock } = setup();
      await deadLettered(store, clock, ['a', 'b']);
      await store.requeue({ ids: ['a'] }, 10_000);
      const [a] = await store.readDue(Number.MAX_SAFE_INTEGER, 10);
      await store.settle([{ seq: a!.seq, record: a!, kind: 'dead', status: 400, reason: 'permanent', tries: 1 }]);
      expect(ids(await store.readDead(10))).toEqual(['a', 'b']);
      expect(await store.counters()).toMatchObject({ queued: 0, deadLettered: 2, requeued: 1 });
    });
  });

  describe('discard', () => {
    it('deletes them for good, counted; ids not found reported', async () => {
      const { store, clock } = setup();
      await deadLettered(store, clock, ['a', 'b', 'c']);
      expect(await store.discard({ ids: ['b', 'zzz', 'b'] })).toEqual({ discarded: ['b'], notFound: ['zzz'] });
      expect(ids(await store.readDead(10))).toEqual(['c', 'a']);
      expect(await store.counters()).toMatchObject({ deadLettered: 2, discarded: 1, queued: 0 });
      expect(await store.discard(ALL)).toMatchObject({ discarded: ['a', 'c'] });
      expect(await store.readDead(10)).toEqual([]);
      expect(await store.counters()).toMatchObject({ deadLettered: 0, discarded: 3 });
      expect(await store.discard(ALL)).toEqual({ discarded: [], notFound: [] });
    });

    it('leaves the queue untouched', async () => {
      const { store, clock } = setup();
      await deadLettered(store, clock, ['a']);
      await store.enqueue([rec('q')], ROOMY);
      await store.discard(ALL);
      expect(ids(await store.readDue(Number.MAX_SAFE_INTEGER, 10))).toEqual(['q']);
      expect(await store.counters()).toMatchObject({ queued: 1, deadLettered: 0 });
    });
  });
});

describe('IndexedDB store: dead letters are durable', () => {
  it('requeue and discard survive closing and reopening the database', async () => {
    const name = `dead-durable-${Math.random().toString(36).slice(2)}`;
    const clock = { now: T0 };
    const store = openStore({ name, now: () => clock.now });
    await store.enqueue([rec('a'), rec('b'), rec('c')], ROOMY);
    for (const r of await store.readDue(T0, 10))
      await store.settle([{ seq: r.seq, kind: 'dead', status: 410, reason: 'permanent', tries: 1 }]);
    await store.requeue({ ids: ['a'] }, 10_000);
    await store.discard({ ids: ['b'] });
    store.close();
    const again = openStore({ name, now: () => clock.now });
    closeLater(again);
    expect(ids(await again.readDead(10))).toEqual(['c']);
    expect(ids(await again.readDue(Number.MAX_SAFE_INTEGER, 10))).toEqual(['a']);
    expect(await again.counters()).toMatchObject({ queued: 1, deadLettered: 1, requeued: 1, discarded: 1 });
  });
});
