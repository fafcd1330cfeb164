// Content de-duplication: a record with a `key` is stored once while that key is
// queued, or delivered less than `dedupeWindowMs` ago. Both store implementations.
import { afterEach, describe, expect, it } from 'vitest';
import { openMemoryStore } from './memory.js';
import { type EnqueueLimits, type NewRecord, type Store, type StoreOptions, openStore } from './store.js';

const T0 = 1_700_000_000_000;
const HOUR = 3600_000;
const WINDOW: EnqueueLimits = { maxQueueSize: 1000, overflow: 'drop-oldest', dedupeWindowMs: HOUR };
const opened: Store[] = [];
let counter = 0;

afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

const rec = (id: string, key?: string | string[]): NewRecord => ({
  id,
  url: 'https://c.example/v1/events',
  body: `{"id":"${id}"}`,
  ...(key ? { keys: typeof key === 'string' ? [key] : key } : {}),
});

describe.each([
  ['IndexedDB', openStore],
  ['memory', openMemoryStore],
] as [string, (o: StoreOptions) => Store][])('%s store: content de-duplication', (_, open) => {
  function setup() {
    const clock = { now: T0 };
    const store = open({ name: `dedupe-${++counter}-${Math.random()}`, now: () => clock.now });
    opened.push(store);
    return { store, clock };
  }
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
