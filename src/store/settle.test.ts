// Settling delivery outcomes, on both stores: delivered, retried, dead (and the dead-letter
// bound), unknown seqs, the same event twice; and the IndexedDB store's range deletes.
import { afterEach, describe, expect, it } from 'vitest';
import { IMPLEMENTATIONS, ROOMY, T0, closeStores, ids, openTestStore, rec, seqOf } from './both-stores.fixture.js';
import { deliveredRuns } from './settle.js';
import type { StoreOptions } from './store.js';

afterEach(closeStores);

describe.each(IMPLEMENTATIONS)('%s store: settle', (_kind, open) => {
  const setup = (options: StoreOptions = {}) => openTestStore(open, options);

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
    expect(await store.settle([{ seq, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 1, hold: 'server', status: 500 }])).toEqual(
      { applied: 0, droppedIds: [] },
    );
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

  it('a fresh event retried between delivered retries, in one call, stays queued (the chaos run of seed 1120233797)', async () => {
    // a, b, c in one segment; a and c failed once (in `queue` now), b is still fresh (its
    // request was cut by a worker kill). Then one transaction: a and c delivered, b retried
    // (written to `queue` under its seq, between theirs).
    const { store } = setup();
    await store.enqueue(['a', 'b', 'c'].map(rec), ROOMY);
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => seqOf(store, id)));
    const failed = { kind: 'retry' as const, attempts: 1, tries: 1, nextAttemptAt: T0, hold: 'server' as const, status: 503 };
    await store.settle([
      { seq: a!, ...failed },
      { seq: c!, ...failed },
    ]);
    const out = await store.settle([
      { seq: a!, kind: 'delivered' },
      { seq: b!, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 1000, hold: 'server', status: 503 },
      { seq: c!, kind: 'delivered' },
    ]);
    expect(out).toEqual({ applied: 3, droppedIds: [] });
    expect(await store.counters()).toEqual({ queued: 1, deadLettered: 0, delivered: 2, dropped: 0, retried: 3 });
    expect(ids(await store.readDue(T0 + 1000, 10))).toEqual(['b']);
    expect(await store.nextAttemptAt()).toBe(T0 + 1000);
  });

  it('maxDeadLetters drops the oldest dead letters and counts them as dropped', async () => {
    const { store } = setup({ maxDeadLetters: 2 });
    await store.enqueue(['a', 'b', 'c', 'd'].map(rec), ROOMY);
    const seqs = await Promise.all(['a', 'b', 'c'].map((id) => seqOf(store, id)));
    const r1 = await store.settle(seqs.map((seq) => ({ seq, kind: 'dead' as const, status: 400, reason: 'permanent' as const, tries: 1 })));
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

describe('deliveredRuns', () => {
  it('a dense span: runs of delivered keys, broken only by a key present and not delivered (an absent key, 6, is no break)', () => {
    expect(deliveredRuns(new Set([5, 1, 2, 3, 4, 7, 8]), new Set([1, 2, 4, 5, 7]), true)).toEqual([
      [1, 2],
      [4, 7],
    ]);
  });

  it('a sparse span: one delete a record, keys of the span unknown', () => {
    expect(deliveredRuns(new Set([1, 900]), new Set([1, 900]), false)).toEqual([
      [1, 1],
      [900, 900],
    ]);
    expect(deliveredRuns(new Set(), new Set(), false)).toEqual([]);
  });
});
