// The queue's semantics on both stores: enqueue and readDue (order, limits, ids once,
// concurrent calls), release and nextAttemptAt, clear and close, expire, and the orderings
// both stores must share. (Settling: settle.test.ts; overflow: admission.test.ts.)
import { afterEach, describe, expect, it } from 'vitest';
import { IMPLEMENTATIONS, ROOMY, T0, closeStores, ids, openTestStore, rec, seqOf } from './both-stores.fixture.js';
import type { EnqueueLimits, StoreOptions } from './store.js';

afterEach(closeStores);

describe.each(IMPLEMENTATIONS)('%s store: queue semantics', (_kind, open) => {
  const setup = (options: StoreOptions = {}) => openTestStore(open, options);

  describe('enqueue and readDue', () => {
    it('starts empty with zero counters', async () => {
      const { store } = setup();
      expect(await store.readDue(T0, 10)).toEqual([]);
      expect(await store.nextAttemptAt()).toBeUndefined();
      expect(await store.counters()).toEqual({ queued: 0, deadLettered: 0, delivered: 0, dropped: 0, retried: 0 });
      expect(await store.deadLetters()).toEqual([]);
    });

    it('stores the record as given, due at once, with fresh attempt state', async () => {
      const { store } = setup();
      const out = await store.enqueue([rec('a')], ROOMY);
      expect(out).toEqual({ results: [{ id: 'a', ok: true, duplicate: false }], droppedIds: [] });
      const [a] = await store.readDue(T0, 10);
      expect(a).toMatchObject({
        id: 'a',
        url: 'https://collector.example/v1/events',
        body: '{"id":"a"}',
        createdAt: T0,
        nextAttemptAt: T0,
        attempts: 0,
        tries: 0,
      });
      expect(typeof a!.seq).toBe('number');
      expect(a!.hold).toBeUndefined();
      expect((await store.counters()).queued).toBe(1);
    });

    it('readDue is FIFO: insertion order for the same nextAttemptAt, across separate and batched enqueues', async () => {
      const { store } = setup();
      await store.enqueue([rec('a'), rec('b')], ROOMY);
      await store.enqueue([rec('c')], ROOMY);
      await store.enqueue([rec('d'), rec('e'), rec('f')], ROOMY);
      const due = await store.readDue(T0, 100);
      expect(ids(due)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
      // seq grows with insertion.
      const seqs = due.map((r) => r.seq);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(6);
    });

    it('readDue honours the limit, returning the oldest first', async () => {
      const { store } = setup();
      await store.enqueue(['a', 'b', 'c', 'd', 'e'].map(rec), ROOMY);
      expect(ids(await store.readDue(T0, 2))).toEqual(['a', 'b']);
      expect(ids(await store.readDue(T0, 1))).toEqual(['a']);
      expect(await store.readDue(T0, 0)).toEqual([]);
    });

    it('readDue leaves out the seqs it is told to, and fills the limit with the next ones', async () => {
      const { store } = setup();
      await store.enqueue(['a', 'b', 'c', 'd', 'e'].map(rec), ROOMY);
      const [a, b] = await store.readDue(T0, 2);
      expect(ids(await store.readDue(T0, 2, new Set([a!.seq, b!.seq])))).toEqual(['c', 'd']);
      await store.settle([
        { seq: await seqOf(store, 'c'), kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0, hold: 'server', status: 503 },
      ]);
      // Whichever store holds it (a retried event too).
      expect(ids(await store.readDue(T0, 10, new Set([a!.seq, await seqOf(store, 'c')])))).toEqual(['b', 'd', 'e']);
    });

    it('readDue excludes records not yet due and orders by nextAttemptAt, then insertion', async () => {
      const { store } = setup();
      await store.enqueue(['a', 'b', 'c', 'd'].map(rec), ROOMY);
      const seqA = await seqOf(store, 'a');
      const seqB = await seqOf(store, 'b');
      // a later than b; both in the future.
      await store.settle([
        { seq: seqA, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 2000, hold: 'server', status: 503 },
        { seq: seqB, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 1000, hold: 'server', status: 503 },
      ]);
      expect(ids(await store.readDue(T0, 10))).toEqual(['c', 'd']);
      expect(ids(await store.readDue(T0 - 1, 10))).toEqual([]);
      expect(ids(await store.readDue(T0 + 999, 10))).toEqual(['c', 'd']);
      expect(ids(await store.readDue(T0 + 1000, 10))).toEqual(['c', 'd', 'b']);
      expect(ids(await store.readDue(T0 + 5000, 10))).toEqual(['c', 'd', 'b', 'a']);
    });

    it('createdAt follows the injected clock', async () => {
      const { store, clock } = setup();
      await store.enqueue([rec('a')], ROOMY);
      clock.now = T0 + 500;
      await store.enqueue([rec('b')], ROOMY);
      expect(await store.readDue(T0, 10)).toHaveLength(1);
      const all = await store.readDue(T0 + 500, 10);
      expect(all.map((r) => [r.id, r.createdAt, r.nextAttemptAt])).toEqual([
        ['a', T0, T0],
        ['b', T0 + 500, T0 + 500],
      ]);
    });

    it('stores the same id once across two enqueues', async () => {
      const { store } = setup();
      await store.enqueue([rec('x')], ROOMY);
      const second = await store.enqueue([{ ...rec('x'), body: '{"changed":true}' }], ROOMY);
      expect(second.results).toEqual([{ id: 'x', ok: true, duplicate: true }]);
      const due = await store.readDue(T0, 10);
      expect(ids(due)).toEqual(['x']);
      expect(due[0]!.body).toBe('{"id":"x"}');
      expect((await store.counters()).queued).toBe(1);
    });

    it('stores the same id once within one batch', async () => {
      const { store } = setup();
      const out = await store.enqueue([rec('x'), rec('y'), rec('x')], ROOMY);
      expect(out.results).toEqual([
        { id: 'x', ok: true, duplicate: false },
        { id: 'y', ok: true, duplicate: false },
        { id: 'x', ok: true, duplicate: true },
      ]);
      expect(ids(await store.readDue(T0, 10))).toEqual(['x', 'y']);
      expect((await store.counters()).queued).toBe(2);
    });

    it('stores the same id once when two concurrent calls share a transaction', async () => {
      const { store } = setup();
      await store.enqueue([rec('warm')], ROOMY);
      const [, a, b] = await Promise.all([
        store.enqueue([rec('first')], ROOMY),
        store.enqueue([rec('dup')], ROOMY),
        store.enqueue([rec('dup')], ROOMY),
      ]);
      expect(a.results[0]).toEqual({ id: 'dup', ok: true, duplicate: false });
      expect(b.results[0]).toEqual({ id: 'dup', ok: true, duplicate: true });
      expect(ids(await store.readDue(T0, 10))).toEqual(['warm', 'first', 'dup']);
      expect((await store.counters()).queued).toBe(3);
    });

    it('data is readable as soon as each concurrent enqueue resolves', async () => {
      const { store } = setup();
      const checks = Array.from({ length: 20 }, (_, i) =>
        store.enqueue([rec(`e${i}`)], ROOMY).then(async () => ids(await store.readDue(T0, 100)).includes(`e${i}`)),
      );
      expect(await Promise.all(checks)).toEqual(Array(20).fill(true));
    });
  });

  describe('release and nextAttemptAt', () => {
    it("release(['offline']) makes offline-held records due but not server-held ones", async () => {
      const { store } = setup();
      await store.enqueue(['off', 'srv', 'net', 'plain'].map(rec), ROOMY);
      const later = T0 + 60_000;
      await store.settle([
        { seq: await seqOf(store, 'off'), kind: 'retry', attempts: 0, tries: 1, nextAttemptAt: later, hold: 'offline', status: 0 },
        { seq: await seqOf(store, 'srv'), kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: later, hold: 'server', status: 503 },
        { seq: await seqOf(store, 'net'), kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: later, hold: 'network', status: 0 },
      ]);
      const now = T0 + 10;
      expect(ids(await store.readDue(now, 10))).toEqual(['plain']);

      expect(await store.release(['offline'], now)).toBe(1);
      expect(ids(await store.readDue(now, 10))).toEqual(['plain', 'off']);

      // Already due: not counted again. Network-held: released now. Server-held: stays.
      expect(await store.release(['offline', 'network'], now)).toBe(1);
      expect(ids(await store.readDue(now, 10))).toEqual(['plain', 'off', 'net']);
      const net = (await store.readDue(now, 10)).find((r) => r.id === 'net')!;
      expect(net).toMatchObject({ nextAttemptAt: now, attempts: 1, hold: 'network' });

      expect(await store.release(['offline', 'network'], now)).toBe(0);
      expect(await store.nextAttemptAt()).toBe(T0);
      const all = await store.readDue(later, 10);
      expect(all.find((r) => r.id === 'srv')!.nextAttemptAt).toBe(later);
    });

    it('release does not move a record that is due earlier than the given time', async () => {
      const { store } = setup();
      await store.enqueue([rec('a')], ROOMY);
      await store.settle([
        { seq: await seqOf(store, 'a'), kind: 'retry', attempts: 0, tries: 1, nextAttemptAt: T0 + 5, hold: 'offline', status: 0 },
      ]);
      expect(await store.release(['offline'], T0 + 100)).toBe(0);
      expect((await store.readDue(T0 + 100, 10))[0]!.nextAttemptAt).toBe(T0 + 5);
    });

    it('nextAttemptAt() is the earliest scheduled attempt, or undefined when empty', async () => {
      const { store } = setup();
      expect(await store.nextAttemptAt()).toBeUndefined();
      await store.enqueue([rec('a'), rec('b')], ROOMY);
      expect(await store.nextAttemptAt()).toBe(T0);
      await store.settle([
        { seq: await seqOf(store, 'a'), kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 3000, hold: 'server', status: 500 },
        { seq: await seqOf(store, 'b'), kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 2000, hold: 'server', status: 500 },
      ]);
      expect(await store.nextAttemptAt()).toBe(T0 + 2000);
      await store.settle([{ seq: await seqOf(store, 'b'), kind: 'delivered' }]);
      expect(await store.nextAttemptAt()).toBe(T0 + 3000);
      await store.settle([{ seq: await seqOf(store, 'a'), kind: 'delivered' }]);
      expect(await store.nextAttemptAt()).toBeUndefined();
    });
  });

  describe('clear and close', () => {
    it('a store reopens after its own close() on the next call', async () => {
      const { store } = setup();
      await store.enqueue([rec('a')], ROOMY);
      store.close();
      await store.enqueue([rec('b')], ROOMY);
      expect(ids(await store.readDue(T0, 10))).toEqual(['a', 'b']);
    });

    it('clear() empties the queue and dead letters but keeps history counters', async () => {
      const { store } = setup();
      await store.enqueue(['a', 'b', 'c'].map(rec), ROOMY);
      await store.settle([
        { seq: await seqOf(store, 'a'), kind: 'delivered' },
        { seq: await seqOf(store, 'b'), kind: 'dead', status: 400, reason: 'permanent', tries: 1 },
      ]);
      await store.clear();
      expect(await store.readDue(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect(await store.deadLetters()).toEqual([]);
      expect(await store.nextAttemptAt()).toBeUndefined();
      expect(await store.counters()).toEqual({ queued: 0, deadLettered: 0, delivered: 1, dropped: 0, retried: 0 });
      // Ids cleared can be queued again.
      expect((await store.enqueue([rec('c')], ROOMY)).results[0]).toEqual({ id: 'c', ok: true, duplicate: false });
    });
  });

  describe('expire', () => {
    it('moves events created before the cut-off to the dead-letter store as expired, whatever their schedule', async () => {
      const { store, clock } = setup({ maxDeadLetters: 1 });
      await store.enqueue([rec('old1'), rec('old2')], ROOMY);
      const old2 = await seqOf(store, 'old2');
      await store.settle([{ seq: old2, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 3_600_000, hold: 'server', status: 429 }]);
      clock.now = T0 + 10_000;
      await store.enqueue([rec('new')], ROOMY);
      const result = await store.expire(T0 + 5000, 10);
      expect(result.expiredIds.sort()).toEqual(['old1', 'old2']);
      // maxDeadLetters 1: the oldest dead letter is dropped, and counted.
      expect(result.droppedIds).toHaveLength(1);
      expect(await store.counters()).toMatchObject({ queued: 1, deadLettered: 1, dropped: 1 });
      expect((await store.deadLetters())[0]).toMatchObject({ reason: 'expired', status: 0 });
      expect(ids(await store.readDue(Number.MAX_SAFE_INTEGER, 10))).toEqual(['new']);
    });
  });

  describe('orderings', () => {
    it('dead letters are listed and bounded in queue order (seq), not in the order they were dead-lettered', async () => {
      const { store } = setup({ maxDeadLetters: 2 });
      await store.enqueue(['a', 'b', 'c'].map(rec), ROOMY);
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => seqOf(store, id)));
      await store.settle([{ seq: c!, kind: 'dead', status: 400, reason: 'permanent', tries: 1 }]);
      await store.settle([{ seq: a!, kind: 'dead', status: 400, reason: 'permanent', tries: 1 }]);
      expect(ids(await store.deadLetters())).toEqual(['a', 'c']);
      expect(ids(await store.deadLetters(1))).toEqual(['a']);
      const out = await store.settle([{ seq: b!, kind: 'dead', status: 400, reason: 'permanent', tries: 1 }]);
      expect(out.droppedIds).toEqual(['a']);
      expect(ids(await store.deadLetters())).toEqual(['b', 'c']);
    });

    it('expire takes the oldest created first and honours its limit', async () => {
      const { store, clock } = setup();
      await store.enqueue([rec('a'), rec('b')], ROOMY);
      clock.now = T0 + 10;
      await store.enqueue([rec('c')], ROOMY);
      clock.now = T0 + 100;
      expect((await store.expire(T0 + 50, 1)).expiredIds).toEqual(['a']);
      expect((await store.expire(T0 + 50, 10)).expiredIds).toEqual(['b', 'c']);
      expect(await store.counters()).toMatchObject({ queued: 0, deadLettered: 3 });
    });

    it("'drop-oldest' evicts by insertion order, whatever the schedule", async () => {
      const { store } = setup();
      const limits: EnqueueLimits = { maxQueueSize: 2, overflow: 'drop-oldest' };
      await store.enqueue([rec('a'), rec('b')], limits);
      // b is due before a now; a is still the oldest queued.
      await store.settle([
        { seq: await seqOf(store, 'a'), kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 500, hold: 'server', status: 503 },
      ]);
      expect((await store.enqueue([rec('c')], limits)).droppedIds).toEqual(['a']);
    });

    it('records read are copies: changing them changes nothing in the store', async () => {
      const { store } = setup();
      await store.enqueue([rec('a')], ROOMY);
      const [a] = await store.readDue(T0, 10);
      a!.nextAttemptAt = T0 + 10_000;
      a!.body = 'changed';
      const [again] = await store.readDue(T0, 10);
      expect(again).toMatchObject({ nextAttemptAt: T0, body: '{"id":"a"}' });
    });
  });
});
