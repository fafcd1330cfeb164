import { afterEach, describe, expect, it, vi } from 'vitest';
import { urlTag } from './content-keys.js';
import { OutboxError } from '../errors.js';
import { createV1Database } from './schema-v1.fixture.js';
import { openMemoryStore } from './memory.js';
import { DB_VERSION, type EnqueueLimits, type NewRecord, SEGMENT, type Store, type StoreOptions, openStore } from './store.js';

const T0 = 1_700_000_000_000;
const ROOMY: EnqueueLimits = { maxQueueSize: 10_000, overflow: 'drop-oldest' };

let counter = 0;
const opened: Store[] = [];

/**
 * The semantic tests run against both implementations: the IndexedDB store and the
 * in-memory one (the degraded mode when IndexedDB is blocked) keep the same rules.
 */
const IMPLEMENTATIONS: [string, (options: StoreOptions) => Store][] = [
  ['IndexedDB', openStore],
  ['memory', openMemoryStore],
];

interface SetupOptions {
  maxDeadLetters?: number;
  name?: string;
}

/** A store (on a database of its own, for IndexedDB) with a mutable clock. */
function setupWith(open: (options: StoreOptions) => Store, options: SetupOptions = {}) {
  const clock = { now: T0 };
  const name = options.name ?? `store-test-${++counter}-${Math.random().toString(36).slice(2)}`;
  const store = open({
    name,
    now: () => clock.now,
    ...(options.maxDeadLetters !== undefined ? { maxDeadLetters: options.maxDeadLetters } : {}),
  });
  opened.push(store);
  return { store, clock, name };
}

const rec = (id: string): NewRecord => ({ id, url: 'https://collector.example/v1/events', body: JSON.stringify({ id }) });
const ids = (records: { id: string }[]) => records.map((r) => r.id);

async function seqOf(store: Store, id: string): Promise<number> {
  const found = (await store.readDue(Number.MAX_SAFE_INTEGER, 100_000)).find((r) => r.id === id);
  if (!found) throw new Error(`no queued record ${id}`);
  return found.seq;
}

afterEach(() => {
  vi.restoreAllMocks();
  for (const s of opened.splice(0)) s.close();
});

describe.each(IMPLEMENTATIONS)('%s store: queue semantics', (_kind, open) => {
  const setup = (options: SetupOptions = {}) => setupWith(open, options);

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

  describe('settle', () => {
    it("'delivered' deletes the record and counts it", async () => {
      const { store } = setup();
      await store.enqueue([rec('a'), rec('b')], ROOMY);
      const seq = await seqOf(store, 'a');
      expect(await store.settle([{ seq, kind: 'delivered' }])).toEqual({ applied: 1, droppedIds: [] });
      expect(ids(await store.readDue(T0, 10))).toEqual(['b']);
      expect(await store.counters()).toEqual({ queued: 1, deadLettered: 0, delivered: 1, dropped: 0, retried: 0 });
    });

    it('settling an unknown or already-deleted seq is a no-op', async () => {
      const { store } = setup();
      await store.enqueue([rec('a')], ROOMY);
      const seq = await seqOf(store, 'a');
      await store.settle([{ seq, kind: 'delivered' }]);
      const before = await store.counters();
      expect(await store.settle([{ seq, kind: 'delivered' }])).toEqual({ applied: 0, droppedIds: [] });
      expect(await store.settle([{ seq: 987_654, kind: 'dead', status: 400, reason: 'permanent', tries: 1 }])).toEqual({
        applied: 0,
        droppedIds: [],
      });
      expect(
        await store.settle([{ seq, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 1, hold: 'server', status: 500 }]),
      ).toEqual({ applied: 0, droppedIds: [] });
      expect(await store.counters()).toEqual(before);
      expect(before).toEqual({ queued: 0, deadLettered: 0, delivered: 1, dropped: 0, retried: 0 });
      expect(await store.readDue(Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
      expect(await store.deadLetters()).toEqual([]);
    });

    it("'retry' updates nextAttemptAt, attempts, tries, hold and lastStatus, and counts it", async () => {
      const { store } = setup();
      await store.enqueue([rec('a')], ROOMY);
      const seq = await seqOf(store, 'a');
      expect(
        await store.settle([{ seq, kind: 'retry', attempts: 2, tries: 3, nextAttemptAt: T0 + 5000, hold: 'server', status: 503 }]),
      ).toEqual({ applied: 1, droppedIds: [] });
      expect(await store.readDue(T0 + 4999, 10)).toEqual([]);
      const [a] = await store.readDue(T0 + 5000, 10);
      expect(a).toMatchObject({
        id: 'a',
        seq,
        createdAt: T0,
        nextAttemptAt: T0 + 5000,
        attempts: 2,
        tries: 3,
        hold: 'server',
        lastStatus: 503,
      });
      expect(await store.counters()).toEqual({ queued: 1, deadLettered: 0, delivered: 0, dropped: 0, retried: 1 });
    });

    it("'dead' moves the record to the dead-letter store and counts it", async () => {
      const { store, clock } = setup();
      await store.enqueue([rec('a'), rec('b')], ROOMY);
      const seq = await seqOf(store, 'a');
      clock.now = T0 + 42;
      expect(await store.settle([{ seq, kind: 'dead', status: 400, reason: 'permanent', tries: 1 }])).toEqual({
        applied: 1,
        droppedIds: [],
      });
      expect(ids(await store.readDue(T0 + 42, 10))).toEqual(['b']);
      const dead = await store.deadLetters();
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({
        id: 'a',
        seq,
        url: 'https://collector.example/v1/events',
        body: '{"id":"a"}',
        createdAt: T0,
        deadAt: T0 + 42,
        reason: 'permanent',
        status: 400,
        tries: 1,
      });
      expect(await store.counters()).toEqual({ queued: 1, deadLettered: 1, delivered: 0, dropped: 0, retried: 0 });
    });

    it('the same event delivered twice in one call counts once', async () => {
      const { store } = setup();
      await store.enqueue([rec('a'), rec('b')], ROOMY);
      const seq = await seqOf(store, 'a');
      const out = await store.settle([
        { seq, kind: 'delivered' },
        { seq, kind: 'delivered' },
      ]);
      expect(out).toEqual({ applied: 1, droppedIds: [] });
      expect(await store.counters()).toEqual({ queued: 1, deadLettered: 0, delivered: 1, dropped: 0, retried: 0 });
      expect(ids(await store.readDue(T0, 10))).toEqual(['b']);
    });

    it('applies a mixed batch of settlements in one call', async () => {
      const { store } = setup();
      await store.enqueue(['a', 'b', 'c'].map(rec), ROOMY);
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => seqOf(store, id)));
      const out = await store.settle([
        { seq: a!, kind: 'delivered' },
        { seq: b!, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 10, hold: 'network', status: 0 },
        { seq: c!, kind: 'dead', status: 0, reason: 'expired', tries: 0 },
      ]);
      expect(out).toEqual({ applied: 3, droppedIds: [] });
      expect(await store.counters()).toEqual({ queued: 1, deadLettered: 1, delivered: 1, dropped: 0, retried: 1 });
      expect((await store.deadLetters()).map((d) => [d.id, d.reason])).toEqual([['c', 'expired']]);
    });

    it('maxDeadLetters drops the oldest dead letters and counts them as dropped', async () => {
      const { store } = setup({ maxDeadLetters: 2 });
      await store.enqueue(['a', 'b', 'c', 'd'].map(rec), ROOMY);
      const seqs = await Promise.all(['a', 'b', 'c'].map((id) => seqOf(store, id)));
      const r1 = await store.settle(
        seqs.map((seq) => ({ seq, kind: 'dead' as const, status: 400, reason: 'permanent' as const, tries: 1 })),
      );
      expect(r1).toEqual({ applied: 3, droppedIds: ['a'] });
      const r2 = await store.settle([{ seq: await seqOf(store, 'd'), kind: 'dead', status: 422, reason: 'permanent', tries: 1 }]);
      expect(r2).toEqual({ applied: 1, droppedIds: ['b'] });
      expect(ids(await store.deadLetters())).toEqual(['c', 'd']);
      expect(await store.counters()).toEqual({ queued: 0, deadLettered: 2, delivered: 0, dropped: 2, retried: 0 });
    });

    it('maxDeadLetters 0 keeps no dead letter but counts each as dropped', async () => {
      const { store } = setup({ maxDeadLetters: 0 });
      await store.enqueue([rec('a')], ROOMY);
      const out = await store.settle([{ seq: await seqOf(store, 'a'), kind: 'dead', status: 400, reason: 'permanent', tries: 1 }]);
      expect(out.droppedIds).toEqual(['a']);
      expect(await store.deadLetters()).toEqual([]);
      expect(await store.counters()).toMatchObject({ queued: 0, deadLettered: 0, dropped: 1 });
    });
  });

  describe('queue bounds', () => {
    it("'drop-oldest' evicts the oldest queued records, returns their ids and counts them", async () => {
      const { store } = setup();
      const limits: EnqueueLimits = { maxQueueSize: 3, overflow: 'drop-oldest' };
      expect((await store.enqueue(['a', 'b', 'c'].map(rec), limits)).droppedIds).toEqual([]);
      const out = await store.enqueue([rec('d'), rec('e')], limits);
      expect(out.droppedIds).toEqual(['a', 'b']);
      expect(out.results).toEqual([
        { id: 'd', ok: true, duplicate: false },
        { id: 'e', ok: true, duplicate: false },
      ]);
      expect(ids(await store.readDue(T0, 10))).toEqual(['c', 'd', 'e']);
      expect(await store.counters()).toMatchObject({ queued: 3, dropped: 2 });
    });

    it("'drop-oldest' with one batch larger than the queue keeps that batch's newest events", async () => {
      const { store } = setup();
      const limits: EnqueueLimits = { maxQueueSize: 2, overflow: 'drop-oldest' };
      await store.enqueue([rec('old')], limits);
      const out = await store.enqueue(['a', 'b', 'c', 'd'].map(rec), limits);
      expect(out.droppedIds).toEqual(['old', 'a', 'b']);
      expect(ids(await store.readDue(T0, 10))).toEqual(['c', 'd']);
      expect(await store.counters()).toMatchObject({ queued: 2, dropped: 3 });
    });

    it("a duplicate does not evict anything from a full 'drop-oldest' queue", async () => {
      const { store } = setup();
      const limits: EnqueueLimits = { maxQueueSize: 2, overflow: 'drop-oldest' };
      await store.enqueue([rec('a'), rec('b')], limits);
      const out = await store.enqueue([rec('a')], limits);
      expect(out).toEqual({ results: [{ id: 'a', ok: true, duplicate: true }], droppedIds: [] });
      expect(ids(await store.readDue(T0, 10))).toEqual(['a', 'b']);
    });

    it("'reject-new' refuses with queue-full and leaves the queue untouched", async () => {
      const { store } = setup();
      const limits: EnqueueLimits = { maxQueueSize: 2, overflow: 'reject-new' };
      await store.enqueue([rec('a'), rec('b')], limits);
      const out = await store.enqueue([rec('c')], limits);
      expect(out.droppedIds).toEqual([]);
      expect(out.results).toHaveLength(1);
      const [r] = out.results;
      expect(r!.ok).toBe(false);
      if (r!.ok) throw new Error('unreachable');
      expect(r!.id).toBe('c');
      expect(r!.error).toBeInstanceOf(OutboxError);
      expect(r!.error.code).toBe('queue-full');
      expect(r!.error.message).toContain('c');
      expect(r!.error.message).toContain('maxQueueSize 2');
      expect(ids(await store.readDue(T0, 10))).toEqual(['a', 'b']);
      expect(await store.counters()).toEqual({ queued: 2, deadLettered: 0, delivered: 0, dropped: 0, retried: 0 });
    });

    it("'reject-new' accepts what fits and refuses the rest, but not duplicates", async () => {
      const { store } = setup();
      const limits: EnqueueLimits = { maxQueueSize: 3, overflow: 'reject-new' };
      await store.enqueue([rec('a'), rec('b')], limits);
      const out = await store.enqueue([rec('a'), rec('c'), rec('d')], limits);
      expect(out.results.map((r) => (r.ok ? `${r.id}:ok${r.duplicate ? ':dup' : ''}` : `${r.id}:${r.error.code}`))).toEqual([
        'a:ok:dup',
        'c:ok',
        'd:queue-full',
      ]);
      expect(ids(await store.readDue(T0, 10))).toEqual(['a', 'b', 'c']);
      expect(await store.counters()).toMatchObject({ queued: 3, dropped: 0 });
    });

    it('room freed by delivery is usable again under reject-new', async () => {
      const { store } = setup();
      const limits: EnqueueLimits = { maxQueueSize: 1, overflow: 'reject-new' };
      await store.enqueue([rec('a')], limits);
      expect((await store.enqueue([rec('b')], limits)).results[0]!.ok).toBe(false);
      await store.settle([{ seq: await seqOf(store, 'a'), kind: 'delivered' }]);
      expect((await store.enqueue([rec('b')], limits)).results[0]).toEqual({ id: 'b', ok: true, duplicate: false });
      expect(ids(await store.readDue(T0, 10))).toEqual(['b']);
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

  // The basics of de-duplication by key are in dedupe.test.ts; these are its edges.
  describe('de-duplication by key: edges', () => {
    const keyed = (id: string, key: string): NewRecord => ({ ...rec(id), keys: [key] });
    const windowed = (dedupeWindowMs: number): EnqueueLimits => ({ ...ROOMY, dedupeWindowMs });

    it('without a window, keys are ignored and not stored', async () => {
      const { store } = setup();
      await store.enqueue([keyed('a', 'K'), keyed('b', 'K')], ROOMY);
      expect(ids(await store.readDue(T0, 10))).toEqual(['a', 'b']);
      expect((await store.readDue(T0, 10)).every((r) => r.keys === undefined)).toBe(true);
      // Not stored, so a later windowed enqueue does not see them.
      expect((await store.enqueue([keyed('c', 'K')], windowed(1000))).results[0]).toEqual({ id: 'c', ok: true, duplicate: false });
    });

    it('a key delivered less than the window ago is a duplicate; from the window on it is queued again', async () => {
      const { store, clock } = setup();
      await store.enqueue([keyed('a', 'K')], windowed(1000));
      clock.now = T0 + 10;
      await store.settle([{ seq: await seqOf(store, 'a'), kind: 'delivered' }]);
      clock.now = T0 + 1009;
      expect((await store.enqueue([keyed('b', 'K')], windowed(1000))).results[0]).toMatchObject({ duplicate: true });
      clock.now = T0 + 1010;
      expect((await store.enqueue([keyed('c', 'K')], windowed(1000))).results[0]).toMatchObject({ duplicate: false });
      expect(ids(await store.readDue(clock.now, 10))).toEqual(['c']);
      expect(await store.counters()).toMatchObject({ queued: 1, delivered: 1 });
    });

    it('the key of a dead-lettered, expired or dropped event is not remembered', async () => {
      const { store, clock } = setup();
      const limits: EnqueueLimits = { maxQueueSize: 2, overflow: 'drop-oldest', dedupeWindowMs: 60_000 };
      await store.enqueue([keyed('dead', 'K1'), keyed('old', 'K2')], limits);
      await store.settle([{ seq: await seqOf(store, 'dead'), kind: 'dead', status: 400, reason: 'permanent', tries: 1 }]);
      await store.expire(T0 + 1, 10);
      clock.now = T0 + 5;
      await store.enqueue([keyed('x', 'K3'), keyed('y', 'K4')], limits);
      const out = await store.enqueue([keyed('d2', 'K1'), keyed('o2', 'K2')], limits);
      expect(out.results.map((r) => r.ok && r.duplicate)).toEqual([false, false]);
      // x and y were dropped by the bound: their keys are free again too.
      expect(out.droppedIds).toEqual(['x', 'y']);
      expect((await store.enqueue([keyed('x2', 'K3')], limits)).results[0]).toMatchObject({ duplicate: false });
    });

    it('forget() drops delivered keys seen before the cut-off (exclusive), oldest first, up to the limit', async () => {
      const { store, clock } = setup();
      const far = windowed(3_600_000);
      for (const [i, key] of ['K1', 'K2', 'K3'].entries()) {
        clock.now = T0 + i * 100;
        await store.enqueue([keyed(key.toLowerCase(), key)], far);
        await store.settle([{ seq: await seqOf(store, key.toLowerCase()), kind: 'delivered' }]);
      }
      clock.now = T0 + 1000;
      expect(await store.forget(T0 + 200, 1)).toBe(1); // K1
      expect(await store.forget(T0 + 200, 10)).toBe(1); // K2; K3 was seen at the cut-off itself
      expect(await store.forget(T0 + 200, 10)).toBe(0);
      const out = await store.enqueue([keyed('n1', 'K1'), keyed('n2', 'K2'), keyed('n3', 'K3')], far);
      expect(out.results.map((r) => r.ok && r.duplicate)).toEqual([false, false, true]);
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

describe('IndexedDB store only', () => {
  const setup = (options: SetupOptions = {}) => setupWith(openStore, options);

  describe('group commit', () => {
    it('coalesces 50 concurrent enqueue calls into few transactions, each resolving after its commit', async () => {
      const { store } = setup();
      await store.enqueue([rec('warm')], ROOMY); // connection open

      let readwrite = 0;
      let completed = 0;
      const original = IDBDatabase.prototype.transaction;
      vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (
        this: IDBDatabase,
        ...args: Parameters<IDBDatabase['transaction']>
      ) {
        const tx = original.apply(this, args);
        if (args[1] === 'readwrite') {
          readwrite++;
          tx.addEventListener('complete', () => completed++);
        }
        return tx;
      });

      const completedAtResolve: number[] = [];
      const calls = Array.from({ length: 50 }, (_, i) =>
        store.enqueue([rec(`e${i}`)], ROOMY).then((out) => {
          completedAtResolve[i] = completed;
          return out;
        }),
      );
      const outs = await Promise.all(calls);

      expect(outs.every((o, i) => o.results[0]!.id === `e${i}` && o.results[0]!.ok)).toBe(true);
      expect(readwrite).toBeGreaterThanOrEqual(1);
      expect(readwrite).toBeLessThanOrEqual(2);
      // No promise resolved before a transaction had committed, and the last one resolved
      // only after every transaction had.
      expect(Math.min(...completedAtResolve)).toBeGreaterThanOrEqual(1);
      expect(completedAtResolve[49]).toBe(readwrite);
      expect(completed).toBe(readwrite);

      vi.restoreAllMocks();
      const due = await store.readDue(T0, 100);
      expect(ids(due)).toEqual(['warm', ...Array.from({ length: 50 }, (_, i) => `e${i}`)]);
      expect((await store.counters()).queued).toBe(51);
    });
  });

  describe('persistence and schema', () => {
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

  describe('storage errors', () => {
    it('a quota error becomes quota-exceeded, the batch is rolled back, and the store keeps working', async () => {
      const { store } = setup();
      await store.enqueue([rec('a')], ROOMY);
      const add = vi.spyOn(IDBObjectStore.prototype, 'add').mockImplementation(() => {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      });
      const failing = store.enqueue([rec('b'), rec('c')], ROOMY);
      await expect(failing).rejects.toBeInstanceOf(OutboxError);
      await expect(failing).rejects.toMatchObject({ code: 'quota-exceeded' });
      expect(add).toHaveBeenCalled();
      add.mockRestore();

      expect(ids(await store.readDue(T0, 10))).toEqual(['a']);
      expect((await store.counters()).queued).toBe(1);
      await store.enqueue([rec('b')], ROOMY);
      expect(ids(await store.readDue(T0, 10))).toEqual(['a', 'b']);
      expect((await store.counters()).queued).toBe(2);
    });

    it('a failing write rejects every caller of its batch with storage-error', async () => {
      const { store } = setup();
      await store.enqueue([rec('warm')], ROOMY);
      const add = vi.spyOn(IDBObjectStore.prototype, 'add').mockImplementation(() => {
        throw new DOMException('disk on fire', 'UnknownError');
      });
      const results = await Promise.allSettled([store.enqueue([rec('x')], ROOMY), store.enqueue([rec('y')], ROOMY)]);
      add.mockRestore();
      for (const r of results) {
        expect(r.status).toBe('rejected');
        if (r.status === 'rejected') {
          expect(r.reason).toMatchObject({ code: 'storage-error' });
          expect((r.reason as Error).message).toContain('UnknownError');
        }
      }
      expect(ids(await store.readDue(T0, 10))).toEqual(['warm']);
    });
  });

  describe('segments of fresh events', () => {
    /** Records per object store, as the database holds them. */
    async function recordsIn(name: string): Promise<Record<string, number>> {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      try {
        const names = [...db.objectStoreNames];
        const tx = db.transaction(names);
        const counts = await Promise.all(
          names.map(
            (n) =>
              new Promise<number>((resolve) => {
                const req = tx.objectStore(n).count();
                req.onsuccess = () => resolve(req.result);
              }),
          ),
        );
        return Object.fromEntries(names.map((n, i) => [n, counts[i]!]));
      } finally {
        db.close();
      }
    }

    it(`stores ${SEGMENT} events a record, reads pages across segments, and leaves nothing once all are settled`, async () => {
      const { store, name } = setup();
      const all = Array.from({ length: SEGMENT * 2 + 10 }, (_, i) => `e${String(i).padStart(3, '0')}`);
      await store.enqueue(all.map(rec), ROOMY);
      store.close();
      expect(await recordsIn(name)).toMatchObject({ fresh: 3, spent: 3, queue: 0 });

      // A page cut inside a segment: the next page goes on from there.
      const first = await store.readDue(T0, SEGMENT + 5);
      expect(ids(first)).toEqual(all.slice(0, SEGMENT + 5));
      await store.settle([
        ...first.slice(0, SEGMENT + 2).map((r) => ({ seq: r.seq, record: r, kind: 'delivered' as const })),
        { seq: first[SEGMENT + 2]!.seq, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 10, hold: 'server', status: 503 },
        { seq: first[SEGMENT + 3]!.seq, kind: 'dead', status: 400, reason: 'permanent', tries: 1 },
      ]);
      expect(ids(await store.readDue(T0, 1000))).toEqual([all[SEGMENT + 4], ...all.slice(SEGMENT + 5)]);
      // The retried event left its segment for `queue`, with its seq.
      const retried = (await store.readDue(T0 + 10, 1000)).find((r) => r.id === all[SEGMENT + 2]);
      expect(retried).toMatchObject({ seq: first[SEGMENT + 2]!.seq, attempts: 1, hold: 'server' });
      expect(ids(await store.deadLetters())).toEqual([all[SEGMENT + 3]]);
      store.close();
      // The first segment is gone (all its events are), the second one is still there.
      expect(await recordsIn(name)).toMatchObject({ fresh: 2, spent: 2, queue: 1 });

      const rest = await store.readDue(T0 + 10, 1000);
      await store.settle(rest.map((r) => ({ seq: r.seq, kind: 'delivered' as const })));
      expect(await store.counters()).toEqual({ queued: 0, deadLettered: 1, delivered: all.length - 1, dropped: 0, retried: 1 });
      store.close();
      expect(await recordsIn(name)).toMatchObject({ fresh: 0, spent: 0, queue: 0 });
    });

    it('an id or key held by a delivered event of a segment still stored is queued again (and its duplicate is not)', async () => {
      const { store } = setup();
      await store.enqueue(['a', 'b'].map(rec), ROOMY);
      await store.settle([{ seq: await seqOf(store, 'a'), kind: 'delivered' }]);
      // 'a' is gone from a segment still holding 'b': a new 'a' is queued; 'b' is a duplicate.
      const again = await store.enqueue([rec('a'), rec('b'), rec('c')], ROOMY);
      expect(again.results.map((r) => r.ok && r.duplicate)).toEqual([false, true, false]);
      expect(ids(await store.readDue(T0, 10))).toEqual(['b', 'a', 'c']);
      expect((await store.counters()).queued).toBe(3);
      // And once more: every one is queued now.
      expect((await store.enqueue(['a', 'b', 'c'].map(rec), ROOMY)).results.every((r) => r.ok && r.duplicate)).toBe(true);
    });

    it('upgrades from version 3: queued events and delivered keys are kept', async () => {
      const name = `store-v3-${++counter}`;
      const url = 'https://collector.example/v1/events';
      await new Promise<void>((resolve, reject) => {
        const request = indexedDB.open(name, 3);
        request.onupgradeneeded = () => {
          const db = request.result;
          const queue = db.createObjectStore('queue', { keyPath: 'seq', autoIncrement: true });
          queue.createIndex('id', 'id', { unique: true });
          queue.createIndex('nextAttemptAt', 'nextAttemptAt');
          queue.createIndex('hold', 'hold');
          queue.createIndex('createdAt', 'createdAt');
          queue.createIndex('keys', 'keys', { multiEntry: true, unique: true });
          db.createObjectStore('dead', { keyPath: 'seq' }).createIndex('id', 'id');
          db.createObjectStore('meta');
          const seen = db.createObjectStore('seen', { autoIncrement: true });
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
      const name = `store-upgrade-${++counter}`;
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

describe('memory store only', () => {
  it('keeps its events in the object: another memory store starts empty', async () => {
    const { store } = setupWith(openMemoryStore, { name: 'same-name' });
    await store.enqueue([rec('a')], ROOMY);
    const { store: other } = setupWith(openMemoryStore, { name: 'same-name' });
    expect(await other.readDue(T0, 10)).toEqual([]);
    expect((await other.counters()).queued).toBe(0);
    expect(ids(await store.readDue(T0, 10))).toEqual(['a']);
  });

  it('settles asynchronously, like IndexedDB', async () => {
    const store = openMemoryStore({ now: () => T0 });
    let settled = false;
    const done = store.enqueue([rec('a')], ROOMY).then(() => (settled = true));
    expect(settled).toBe(false);
    await done;
    expect(settled).toBe(true);
  });
});
