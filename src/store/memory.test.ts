// What only the memory store does: its events live in the object, and it settles
// asynchronously all the same.
import { afterEach, describe, expect, it } from 'vitest';
import { ROOMY, T0, closeStores, ids, openTestStore, rec } from './both-stores.fixture.js';
import { openMemoryStore } from './memory.js';

afterEach(closeStores);

describe('memory store only', () => {
  it('keeps its events in the object: another memory store starts empty', async () => {
    const { store } = openTestStore(openMemoryStore, { name: 'same-name' });
    await store.enqueue([rec('a')], ROOMY);
    const { store: other } = openTestStore(openMemoryStore, { name: 'same-name' });
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
