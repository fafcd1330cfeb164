// The store and a wall clock that jumps: what was written before a back jump moves back
// with it (at the start of the first write after it, so nothing written after moves), no
// schedule outlasts the longest wait, and small steps change nothing. Both stores.
import { openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { CLOCK_TOLERANCE_MS } from '../clock.js';
import { IMPLEMENTATIONS, type OpenStore, T0, closeLater, closeStores, openTestStore } from './both-stores.fixture.js';
import { type EnqueueLimits, type NewRecord, type Store, openStore } from './store.js';

const HOUR = 3600_000;
const ROOMY: EnqueueLimits = { maxQueueSize: 10_000, overflow: 'drop-oldest' };
const URL_ = 'https://collector.example/v1/events';
const rec = (id: string): NewRecord => ({ id, url: URL_, body: JSON.stringify({ id }) });
const ids = (records: { id: string }[]) => records.map((r) => r.id);

afterEach(closeStores);

const setupWith = (open: OpenStore) => openTestStore(open);

/** Every queued record by id (read far in the future: all are due then). */
async function byId(store: Store) {
  return new Map((await store.readDue(Number.MAX_SAFE_INTEGER, 1000)).map((r) => [r.id, r]));
}

describe.each(IMPLEMENTATIONS)('%s store: the clock goes back', (_kind, open) => {
  /** At T0: 'fresh' never tried; 'retry' failed (due in 2 s); a hold for 3 s. */
  async function writeAtT0(store: Store) {
    await store.enqueue([rec('fresh'), rec('retry')], ROOMY);
    const retry = (await byId(store)).get('retry')!;
    await store.settle([{ seq: retry.seq, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 2000, hold: 'server', status: 503 }]);
    await store.saveDestinationHolds({
      'https://collector.example': { until: T0 + 3000, reason: 'server', failures: 1, lastStatus: 503 },
    });
  }

  it('an hour back: events written before are due as they were (fresh at once, a retry in its 2 s), holds too', async () => {
    const { store, clock } = setupWith(open);
    await writeAtT0(store);
    clock.now = T0 - HOUR;
    // Before any write: the store has not looked (the flusher's first act is rebase()).
    expect(ids(await store.readDue(clock.now, 10))).toEqual([]);

    expect(await store.rebase(HOUR)).toEqual({ ms: 0, since: 0 });
    expect(ids(await store.readDue(clock.now, 10))).toEqual(['fresh']);
    const all = await byId(store);
    expect(all.get('fresh')).toMatchObject({ createdAt: clock.now, nextAttemptAt: clock.now });
    expect(all.get('retry')).toMatchObject({
      createdAt: clock.now,
      nextAttemptAt: clock.now + 2000,
      firstAttemptAt: clock.now,
      lastAttemptAt: clock.now,
    });
    expect(await store.nextAttemptAt()).toBe(clock.now);
    expect((await store.destinationHolds())['https://collector.example']!.until).toBe(clock.now + 3000);
    expect(ids(await store.readDue(clock.now + 2000, 10))).toEqual(['fresh', 'retry']);
  });

  it('the first write after the jump moves what was there before it, not what it writes itself', async () => {
    const { store, clock } = setupWith(open);
    await writeAtT0(store);
    clock.now = T0 - HOUR;
    // A retry settled after the jump (in the jumped clock), as the first write.
    const fresh = (await byId(store)).get('fresh')!;
    await store.settle([
      { seq: fresh.seq, record: fresh, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: clock.now + 500, hold: 'server', status: 503 },
    ]);
    const all = await byId(store);
    expect(all.get('fresh')!.nextAttemptAt).toBe(clock.now + 500);
    expect(all.get('retry')!.nextAttemptAt).toBe(clock.now + 2000);
    // Looked at once: a later write moves nothing again.
    await store.rebase(HOUR);
    expect((await byId(store)).get('retry')!.nextAttemptAt).toBe(clock.now + 2000);
  });

  it('the jump is known as far as the last write: a lower bound, so never sooner than asked, never longer', async () => {
    const { store, clock } = setupWith(open);
    await writeAtT0(store);
    // Ten quiet minutes pass (nothing written), then the clock goes back an hour.
    clock.now = T0 + 10 * 60_000 - HOUR;
    await store.rebase(HOUR);
    // Known: 50 minutes back (from the last write at T0). The retry, due 2 s after T0 by the old
    // clock, is due 2 s after T0 − 50 min by the new one: no later than asked (2 s from when it was set).
    const retry = (await byId(store)).get('retry')!;
    expect(retry.nextAttemptAt).toBe(T0 - 50 * 60_000 + 2000);
    expect(retry.nextAttemptAt - clock.now).toBeLessThanOrEqual(2000);
  });

  it(`steps back within ${CLOCK_TOLERANCE_MS} ms move nothing`, async () => {
    const { store, clock } = setupWith(open);
    await writeAtT0(store);
    clock.now = T0 - CLOCK_TOLERANCE_MS + 1;
    await store.rebase(HOUR);
    const all = await byId(store);
    expect(all.get('retry')!.nextAttemptAt).toBe(T0 + 2000);
    expect(all.get('fresh')!.createdAt).toBe(T0);
  });

  it('rebase(maxWaitMs) brings a schedule beyond the longest wait back to it', async () => {
    const { store, clock } = setupWith(open);
    await writeAtT0(store);
    const retry = (await byId(store)).get('retry')!;
    await store.settle([
      { seq: retry.seq, kind: 'retry', attempts: 2, tries: 2, nextAttemptAt: T0 + 100 * HOUR, hold: 'server', status: 503 },
    ]);
    clock.now = T0 + 10;
    await store.rebase(5000);
    expect((await byId(store)).get('retry')!.nextAttemptAt).toBe(T0 + 10 + 5000);
    expect(await store.nextAttemptAt()).toBe(T0); // 'fresh'
  });

  it('the age skew is saved, returned, and its time moves back with the clock', async () => {
    const { store, clock } = setupWith(open);
    expect(await store.rebase(HOUR, { ms: 86_400_000, since: T0 })).toEqual({ ms: 86_400_000, since: T0 });
    expect(await store.rebase(HOUR)).toEqual({ ms: 86_400_000, since: T0 });
    clock.now = T0 - HOUR;
    expect(await store.rebase(HOUR)).toEqual({ ms: 86_400_000, since: T0 - HOUR });
    // Not a counter: stats never show it.
    expect(await store.counters()).not.toHaveProperty('clock');
  });
});

describe('IndexedDB store: the lease and the clock', () => {
  it('a lease taken before the clock went back lasts at most its ttl from the jump, not an hour more', async () => {
    const { store, clock } = setupWith(openStore);
    expect(await store.lease('a', clock.now, 10_000)).toBe(true);
    clock.now = T0 - HOUR + 4000;
    expect(await store.lease('b', clock.now, 10_000)).toBe(false);
    clock.now += 10_001;
    expect(await store.lease('b', clock.now, 10_000)).toBe(true);
  });

  it('a lease that runs beyond its ttl (written by a store that did not know the clock) is free', async () => {
    const name = `clock-lease-${Math.random().toString(36).slice(2)}`;
    const store = openStore({ name, now: () => T0 });
    closeLater(store);
    expect(await store.lease('a', T0, 10_000)).toBe(true);
    store.close();
    // As another version of the code might have left it: no high-water mark, a lease an hour long.
    const raw = await openDB(name);
    const counters = await raw.get('meta', 'counters');
    await raw.put('meta', { ...counters, clock: undefined }, 'counters');
    await raw.put('meta', { owner: 'a', until: T0 + HOUR }, 'lease');
    raw.close();
    const again = openStore({ name, now: () => T0 });
    closeLater(again);
    expect(await again.lease('b', T0 + 1, 10_000)).toBe(true);
  });
});
