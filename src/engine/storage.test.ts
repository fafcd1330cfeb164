// The storage fields of stats(): what `navigator.storage` says where the outbox runs
// (persisted(), estimate()), null where it cannot say, and never a stats() that fails or
// waits on the quota manager for long.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PROTOCOL_VERSION } from '../protocol.js';
import { openMemoryStore } from '../store/memory.js';
import { openStore } from '../store/store.js';
import { createEngine, type Engine } from './engine.js';
import { resolveOptions } from './options.js';
import { createStorageProbe, STORAGE_WAIT_MS, type StorageManagerLike } from './storage.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A StorageManager whose answers the test sets, counting calls. */
function manager(persisted: boolean, estimate: { usage?: number; quota?: number }) {
  const calls = { persisted: 0, estimate: 0 };
  const m = {
    calls,
    persisted: async () => {
      calls.persisted++;
      return persisted;
    },
    estimate: async () => {
      calls.estimate++;
      return estimate;
    },
  };
  return m;
}

describe('createStorageProbe', () => {
  it('answers persisted() and estimate() as the browser gives them', async () => {
    const probe = createStorageProbe(manager(true, { usage: 12_345, quota: 1e9 }));
    expect(await probe()).toEqual({ persisted: true, storage: { usage: 12_345, quota: 1e9 } });
    const best = createStorageProbe(manager(false, { usage: 0, quota: 5e8 }));
    expect(await best()).toEqual({ persisted: false, storage: { usage: 0, quota: 5e8 } });
  });

  it('null for both where there is no StorageManager (not a secure context, an old browser)', async () => {
    expect(await createStorageProbe(undefined)()).toEqual({ persisted: null, storage: null });
    expect(await createStorageProbe({})()).toEqual({ persisted: null, storage: null });
  });

  it('null for a figure whose call fails, throws, or answers nonsense; the other still answers', async () => {
    const rejects: StorageManagerLike = { persisted: async () => true, estimate: () => Promise.reject(new Error('quota manager gone')) };
    expect(await createStorageProbe(rejects)()).toEqual({ persisted: true, storage: null });
    const throws: StorageManagerLike = {
      persisted: () => {
        throw new TypeError('Illegal invocation');
      },
      estimate: async () => ({ usage: 10, quota: 100 }),
    };
    expect(await createStorageProbe(throws)()).toEqual({ persisted: null, storage: { usage: 10, quota: 100 } });
    // Safari before 17: no estimate(); an estimate without quota; a persisted() that is not a boolean.
    const partial: StorageManagerLike = { persisted: async () => 'yes' as unknown as boolean };
    expect(await createStorageProbe(partial)()).toEqual({ persisted: null, storage: null });
    for (const estimate of [{ usage: 10 }, { usage: -1, quota: 100 }, { usage: Number.NaN, quota: 100 }, { usage: 1, quota: Infinity }]) {
      expect(await createStorageProbe(manager(false, estimate))(), JSON.stringify(estimate)).toEqual({ persisted: false, storage: null });
    }
  });

  it('calls the methods on the manager (a StorageManager method called unbound throws Illegal invocation)', async () => {
    const self = {
      usage: 7,
      async persisted(this: { usage: number }) {
        return this.usage === 7;
      },
      async estimate(this: { usage: number }) {
        return { usage: this.usage, quota: 70 };
      },
    };
    expect(await createStorageProbe(self)()).toEqual({ persisted: true, storage: { usage: 7, quota: 70 } });
  });

  it('calls made while a query runs share it; the next call asks again', async () => {
    const m = manager(false, { usage: 1, quota: 2 });
    const probe = createStorageProbe(m);
    await Promise.all([probe(), probe(), probe()]);
    expect(m.calls).toEqual({ persisted: 1, estimate: 1 });
    await probe();
    expect(m.calls).toEqual({ persisted: 2, estimate: 2 });
  });

  it('a query that hangs: the last answer after STORAGE_WAIT_MS (null before any), and its late answer serves the next call', async () => {
    vi.useFakeTimers();
    let answer: ((e: { usage: number; quota: number }) => void) | undefined;
    let hang = true;
    const m: StorageManagerLike = {
      persisted: async () => true,
      estimate: () => (hang ? new Promise((resolve) => (answer = resolve)) : Promise.resolve({ usage: 3, quota: 30 })),
    };
    const probe = createStorageProbe(m);
    const first = probe();
    await vi.advanceTimersByTimeAsync(STORAGE_WAIT_MS - 1);
    let settled = false;
    void first.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await first).toEqual({ persisted: null, storage: null });
    // A second call while the first query still hangs shares it, and times out the same way.
    const second = probe();
    await vi.advanceTimersByTimeAsync(STORAGE_WAIT_MS);
    expect(await second).toEqual({ persisted: null, storage: null });
    // The quota manager answers at last: that answer is the last one, which a later query
    // that hangs too gets after the wait.
    answer!({ usage: 5, quota: 50 });
    await vi.advanceTimersByTimeAsync(0);
    const third = probe();
    await vi.advanceTimersByTimeAsync(STORAGE_WAIT_MS);
    expect(await third).toEqual({ persisted: true, storage: { usage: 5, quota: 50 } });
    // A query that answers in time gives its own answer.
    answer!({ usage: 6, quota: 60 });
    await vi.advanceTimersByTimeAsync(0);
    hang = false;
    expect(await probe()).toEqual({ persisted: true, storage: { usage: 3, quota: 30 } });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe.each(['IndexedDB', 'memory'] as const)('%s: stats() carries the storage fields', (kind) => {
  const engines: Engine[] = [];
  afterEach(() => {
    for (const e of engines.splice(0)) e.stop();
  });
  const setup = (storage?: StorageManagerLike) => {
    const store = kind === 'memory' ? openMemoryStore() : openStore({ name: `engine-storage-${Math.random().toString(36).slice(2)}` });
    const engine = createEngine(resolveOptions(), store, {
      mode: kind === 'memory' ? 'memory' : 'page',
      broadcast: () => {},
      isOffline: () => true,
      storage,
    });
    engines.push(engine);
    return engine;
  };

  it("persisted and storage from the host's navigator.storage, beside the counts", async () => {
    const engine = setup(manager(true, { usage: 4096, quota: 1 << 30 }));
    await engine.handle({
      type: 'sw-outbox/enqueue',
      v: PROTOCOL_VERSION,
      events: [{ id: 'a', url: 'https://collector.example/e', body: '{}' }],
    });
    expect(await engine.stats()).toMatchObject({ queued: 1, persisted: true, storage: { usage: 4096, quota: 1 << 30 } });
    const reply = await engine.handle({ type: 'sw-outbox/stats', v: PROTOCOL_VERSION });
    expect(reply).toMatchObject({ type: 'sw-outbox/stats', stats: { persisted: true, storage: { usage: 4096, quota: 1 << 30 } } });
  });

  it('null, not absent, where the host has no Storage API; a failing one does not fail stats()', async () => {
    const none = await setup().stats();
    expect(none).toHaveProperty('persisted', null);
    expect(none).toHaveProperty('storage', null);
    const failing = setup({ persisted: () => Promise.reject(new Error('x')), estimate: () => Promise.reject(new Error('y')) });
    expect(await failing.stats()).toMatchObject({ queued: 0, persisted: null, storage: null });
  });
});
