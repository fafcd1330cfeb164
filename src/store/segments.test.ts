// The segment scheme of the IndexedDB store: SEGMENT events a record, pages cut inside a
// segment, events leaving it (to `queue` on a retry), nothing left once all are settled,
// and an id or key of a gone event that a segment still indexes.
import { afterEach, describe, expect, it } from 'vitest';
import { ROOMY, T0, closeStores, ids, openTestStore, rec, seqOf } from './both-stores.fixture.js';
import { SEGMENT, freshRecord, segmentOf } from './segments.js';
import { type StoreOptions, openStore } from './store.js';

afterEach(closeStores);

describe('IndexedDB store: segments of fresh events', () => {
  const setup = (options: StoreOptions = {}) => openTestStore(openStore, options);

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
});

describe('seqs of fresh events', () => {
  it('an event of segment s at position i has seq s * SEGMENT + i, due at its creation, never tried', () => {
    const segment = { seg: 3, createdAt: T0, events: [rec('a'), { ...rec('b'), keys: ['k'] }], ids: ['a'], keys: ['k'] };
    expect(freshRecord(segment, 1)).toEqual({
      ...rec('b'),
      keys: ['k'],
      seq: 3 * SEGMENT + 1,
      createdAt: T0,
      nextAttemptAt: T0,
      attempts: 0,
      tries: 0,
    });
    expect(freshRecord(segment, 2)).toBeUndefined();
    expect(segmentOf(3 * SEGMENT + 1)).toBe(3);
    expect(segmentOf(3 * SEGMENT + SEGMENT - 1)).toBe(3);
    expect(segmentOf(4 * SEGMENT)).toBe(4);
  });
});
