// The IndexedDB store's write queue: writes that arrive together share a transaction and
// each resolves after its commit; a failing write rolls back its whole batch, rejects every
// caller with a typed storage error, and the store keeps working.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OutboxError } from '../errors.js';
import { ROOMY, T0, closeStores, ids, openTestStore, rec } from './both-stores.fixture.js';
import { type StoreOptions, openStore } from './store.js';

afterEach(() => {
  vi.restoreAllMocks();
  closeStores();
});

describe('IndexedDB store: the write queue', () => {
  const setup = (options: StoreOptions = {}) => openTestStore(openStore, options);

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
});
