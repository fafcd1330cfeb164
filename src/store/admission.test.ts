// The admission rules (admission.ts), pure: overflow in two steps, the queue-full error,
// outcomes marked, the dead-letter bound and the counters; then the same rules as both
// stores apply them to a full queue.
import { afterEach, describe, expect, it } from 'vitest';
import {
  ZERO,
  admit,
  applyOverflow,
  byCreation,
  byDue,
  countDeadDropped,
  countDiscarded,
  countLeaving,
  countQueued,
  countRequeued,
  discardOutcome,
  markOutcomes,
  overDeadLetterBound,
  queueFull,
  toEvict,
} from './admission.js';
import type { EnqueueLimits, EnqueueOutcome } from './api.js';
import { IMPLEMENTATIONS, T0, closeStores, ids, openTestStore, rec, seqOf } from './both-stores.fixture.js';
import type { Counters, QueuedRecord } from './records.js';
import { OutboxError } from '../errors.js';
import type { StoreOptions } from './store.js';

afterEach(closeStores);

const DROP: EnqueueLimits = { maxQueueSize: 5, overflow: 'drop-oldest' };
const REJECT: EnqueueLimits = { maxQueueSize: 5, overflow: 'reject-new' };
const counters = (over: Partial<Counters> = {}): Counters => ({ ...ZERO, destinations: {}, ...over });
const added = (...names: string[]): EnqueueOutcome[] => names.map((id) => ({ id, ok: true, duplicate: false }));

describe('overflow, step one: toEvict', () => {
  it("evicts only under 'drop-oldest', only past the limit, never more than are queued", () => {
    expect(toEvict(3, 2, DROP)).toBe(0);
    expect(toEvict(4, 3, DROP)).toBe(2);
    expect(toEvict(2, 10, DROP)).toBe(2);
    expect(toEvict(4, 3, REJECT)).toBe(0);
  });
});

describe('overflow, step two: admit and applyOverflow', () => {
  it('all fit: all accepted', () => {
    expect(admit(3, ['a', 'b'], DROP)).toEqual({ accepted: ['a', 'b'], refused: [], dropped: [] });
  });

  it("'reject-new' refuses the latest that do not fit", () => {
    expect(admit(4, ['a', 'b', 'c'], REJECT)).toEqual({ accepted: ['a'], refused: ['b', 'c'], dropped: [] });
    expect(admit(7, ['a'], REJECT)).toEqual({ accepted: [], refused: ['a'], dropped: [] });
  });

  it("'drop-oldest' with a batch larger than the queue keeps the batch's newest", () => {
    expect(admit(0, ['a', 'b', 'c', 'd', 'e', 'f', 'g'], DROP)).toEqual({
      accepted: ['c', 'd', 'e', 'f', 'g'],
      refused: [],
      dropped: ['a', 'b'],
    });
  });

  it('applyOverflow: the evicted uncounted, the refused marked queue-full, the dropped counted', () => {
    const c = counters({ queued: 5 });
    const results = added('x', 'y', 'z');
    const out = applyOverflow(c, results, [{ id: 'x' }, { id: 'y' }, { id: 'z' }], ['old1'], REJECT);
    expect(out).toEqual({ accepted: [{ id: 'x' }], droppedIds: ['old1'] });
    expect(c).toMatchObject({ queued: 4, dropped: 1 });
    expect(results[0]).toEqual({ id: 'x', ok: true, duplicate: false });
    expect(results[1]).toMatchObject({ id: 'y', ok: false, error: { code: 'queue-full' } });
    expect(results[2]).toMatchObject({ id: 'z', ok: false, error: { code: 'queue-full' } });

    const d = counters({ queued: 2 });
    expect(
      applyOverflow(
        d,
        added('a', 'b', 'c', 'd', 'e', 'f'),
        'abcdef'.split('').map((id) => ({ id })),
        ['q1', 'q2'],
        DROP,
      ),
    ).toEqual({
      accepted: 'bcdef'.split('').map((id) => ({ id })),
      droppedIds: ['q1', 'q2', 'a'],
    });
    expect(d).toMatchObject({ queued: 0, dropped: 3 });
  });

  it('queueFull names the limit, the rule and the event', () => {
    const error = queueFull('e1', REJECT);
    expect(error).toMatchObject({ code: 'queue-full' });
    expect(error.message).toBe('queue is full (maxQueueSize 5, overflow "reject-new"); event e1 was not queued');
  });

  it('markOutcomes replaces only outcomes still counted as added', () => {
    const results: EnqueueOutcome[] = [...added('a'), { id: 'b', ok: true, duplicate: true }, ...added('c')];
    markOutcomes(results, new Set(['a', 'b']), (id) => ({ id, ok: true, duplicate: true }));
    expect(results.map((r) => r.ok && r.duplicate)).toEqual([true, true, false]);
  });
});

describe('the dead-letter bound and the counters', () => {
  it('the bound drops what is over it, counted as dropped', () => {
    const c = counters({ deadLettered: 7 });
    expect(overDeadLetterBound(c, 10)).toBe(0);
    expect(overDeadLetterBound(c, 5)).toBe(2);
    countDeadDropped(c, 2);
    expect(c).toMatchObject({ deadLettered: 5, dropped: 2 });
  });

  it('counts per destination, never below zero, and forgets a destination at zero', () => {
    const c = counters({ queued: 1 });
    countQueued(c, 'https://a.example/v1', 2);
    countQueued(c, 'https://B.example/x', 1);
    expect(c.destinations).toEqual({ 'https://a.example': 2, 'https://b.example': 1 });
    countLeaving(c, 'https://b.example/x', 'delivered');
    countLeaving(c, 'https://b.example/x', 'deadLettered');
    expect(c).toMatchObject({ queued: 0, delivered: 1, deadLettered: 1, destinations: { 'https://a.example': 2 } });
  });

  it('requeued and discarded dead letters', () => {
    const c = counters({ queued: 1, deadLettered: 3 });
    countRequeued(c, 0);
    expect(c).not.toHaveProperty('requeued');
    countRequeued(c, 2);
    countDiscarded(c, 5);
    expect(c).toMatchObject({ queued: 3, deadLettered: 0, requeued: 2, discarded: 5 });
    expect(discardOutcome([{ id: 'a' }, { id: 'a' }, { id: 'b' }], ['z'], 9)).toEqual({ discarded: ['a', 'b'], notFound: ['z'], last: 9 });
  });

  it('byDue: earliest due, then insertion; byCreation: oldest created, then insertion', () => {
    const r = (seq: number, nextAttemptAt: number, createdAt: number) => ({ seq, nextAttemptAt, createdAt }) as QueuedRecord;
    const records = [r(3, 10, 1), r(1, 20, 1), r(2, 10, 0)];
    expect([...records].sort(byDue).map((x) => x.seq)).toEqual([2, 3, 1]);
    expect([...records].sort(byCreation).map((x) => x.seq)).toEqual([2, 1, 3]);
  });
});

describe.each(IMPLEMENTATIONS)('%s store: queue bounds', (_kind, open) => {
  const setup = (options: StoreOptions = {}) => openTestStore(open, options);

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
