// Content de-duplication: a record with a `key` is stored once while that key is
// queued, or delivered less than `dedupeWindowMs` ago. Both store implementations.
import { afterEach, describe, expect, it } from 'vitest';
import { IMPLEMENTATIONS, ROOMY, T0, closeStores, ids, openTestStore, rec as plain, seqOf } from './both-stores.fixture.js';
import type { EnqueueLimits, NewRecord, Store } from './store.js';

const HOUR = 3600_000;
const WINDOW: EnqueueLimits = { maxQueueSize: 1000, overflow: 'drop-oldest', dedupeWindowMs: HOUR };

afterEach(closeStores);

const rec = (id: string, key?: string | string[]): NewRecord => ({
  id,
  url: 'https://c.example/v1/events',
  body: `{"id":"${id}"}`,
  ...(key ? { keys: typeof key === 'string' ? [key] : key } : {}),
});

describe.each(IMPLEMENTATIONS)('%s store: content de-duplication', (_, open) => {
  const setup = () => openTestStore(open);
  const deliverAll = async (store: Store) => {
    const due = await store.readDue(Number.MAX_SAFE_INTEGER, 1000);
    await store.settle(due.map((r) => ({ seq: r.seq, kind: 'delivered' as const })));
  };

  it('stores a key once while it is queued, under a different id too', async () => {
    const { store } = setup();
    const first = await store.enqueue([rec('a', 'k1')], WINDOW);
    const again = await store.enqueue([rec('b', 'k1'), rec('c', 'k2')], WINDOW);
    expect(first.results).toEqual([{ id: 'a', ok: true, duplicate: false }]);
    expect(again.results).toEqual([
      { id: 'b', ok: true, duplicate: true },
      { id: 'c', ok: true, duplicate: false },
    ]);
    expect((await store.counters()).queued).toBe(2);
  });

  it('an event with a key posted again (same id: a page re-posting its message) is stored once, among events without keys', async () => {
    const { store } = setup();
    const message = [rec('a'), rec('b', 'kb'), rec('c')];
    const first = await store.enqueue(message, WINDOW);
    const again = await store.enqueue(message, WINDOW);
    expect(first.results.map((r) => r.ok && r.duplicate)).toEqual([false, false, false]);
    expect(again.results.map((r) => r.ok && r.duplicate)).toEqual([true, true, true]);
    expect((await store.counters()).queued).toBe(3);
    await deliverAll(store);
    const late = await store.enqueue(message, WINDOW);
    // Delivered: the key refuses b within the window; a and c have no key and no record left.
    expect(late.results.map((r) => r.ok && r.duplicate)).toEqual([false, true, false]);
    expect((await store.counters()).queued).toBe(2);
  });

  it('stores a key once within one batch', async () => {
    const { store } = setup();
    const { results } = await store.enqueue([rec('a', 'k'), rec('b', 'k')], WINDOW);
    expect(results.map((r) => r.ok && r.duplicate)).toEqual([false, true]);
    expect((await store.counters()).queued).toBe(1);
  });

  it('refuses a re-send of a delivered event within the window, accepts it after, and after forget()', async () => {
    const { store, clock } = setup();
    await store.enqueue([rec('a', 'k')], WINDOW);
    await deliverAll(store);
    clock.now = T0 + HOUR - 1;
    expect((await store.enqueue([rec('b', 'k')], WINDOW)).results[0]).toMatchObject({ ok: true, duplicate: true });
    clock.now = T0 + HOUR + 1;
    expect((await store.enqueue([rec('c', 'k')], WINDOW)).results[0]).toMatchObject({ ok: true, duplicate: false });
    await deliverAll(store);
    // Forgotten keys are accepted again at once.
    expect(await store.forget(clock.now + 1, 100)).toBeGreaterThanOrEqual(1);
    expect((await store.enqueue([rec('d', 'k')], WINDOW)).results[0]).toMatchObject({ ok: true, duplicate: false });
  });

  it('a window of 0, or no key, turns content de-duplication off', async () => {
    const { store } = setup();
    const off = { ...WINDOW, dedupeWindowMs: 0 };
    await store.enqueue([rec('a', 'k'), rec('b', 'k')], off);
    await store.enqueue([rec('c'), rec('d')], WINDOW);
    expect((await store.counters()).queued).toBe(4);
  });

  it('several keys (the uuids of a batch): a duplicate only when every one is known, whatever the grouping', async () => {
    const { store } = setup();
    // Events sent one by one, then re-sent as one batch of four (the SDK re-groups).
    await store.enqueue([rec('a', 'u1'), rec('b', 'u2')], WINDOW);
    await deliverAll(store);
    await store.enqueue([rec('c', 'u3'), rec('d', 'u4')], WINDOW);
    const regrouped = await store.enqueue([rec('all', ['u1', 'u2', 'u3', 'u4'])], WINDOW);
    expect(regrouped.results[0]).toMatchObject({ ok: true, duplicate: true });
    // A batch with one new event is stored (it cannot be trimmed without altering it).
    const partly = await store.enqueue([rec('partly', ['u1', 'u5'])], WINDOW);
    expect(partly.results[0]).toMatchObject({ ok: true, duplicate: false });
    // And a single event already inside a queued batch is a duplicate.
    expect((await store.enqueue([rec('single', 'u5')], WINDOW)).results[0]).toMatchObject({ duplicate: true });
    // A batch sharing one event with a queued one (u3) and bringing a new one (u6) is stored.
    expect((await store.enqueue([rec('overlap', ['u3', 'u6'])], WINDOW)).results[0]).toMatchObject({ ok: true, duplicate: false });
    expect((await store.enqueue([rec('single6', 'u6')], WINDOW)).results[0]).toMatchObject({ duplicate: true });
    expect((await store.counters()).queued).toBe(4); // c, d, partly, overlap
  });

  it('a key delivered while other events enqueued with it are still queued is a duplicate, then and after they go', async () => {
    const { store } = setup();
    await store.enqueue([rec('a', 'k1'), rec('b', 'k2')], WINDOW);
    const [a] = await store.readDue(Number.MAX_SAFE_INTEGER, 1);
    await store.settle([{ seq: a!.seq, record: a, kind: 'delivered' }]);
    expect((await store.enqueue([rec('a2', 'k1')], WINDOW)).results[0]).toMatchObject({ ok: true, duplicate: true });
    await deliverAll(store);
    const again = await store.enqueue([rec('a3', 'k1'), rec('b3', 'k2'), rec('c3', 'k3')], WINDOW);
    expect(again.results.map((r) => r.ok && r.duplicate)).toEqual([true, true, false]);
    expect((await store.counters()).queued).toBe(1);
  });

  it('clear() forgets delivered keys', async () => {
    const { store } = setup();
    await store.enqueue([rec('a', 'k')], WINDOW);
    await deliverAll(store);
    await store.clear();
    expect((await store.enqueue([rec('b', 'k')], WINDOW)).results[0]).toMatchObject({ duplicate: false });
  });
});

describe.each(IMPLEMENTATIONS)('%s store: content de-duplication, edges', (_kind, open) => {
  const setup = () => openTestStore(open);

  // The basics of de-duplication by key are in dedupe.test.ts; these are its edges.
  describe('de-duplication by key: edges', () => {
    const keyed = (id: string, key: string): NewRecord => ({ ...plain(id), keys: [key] });
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
});
