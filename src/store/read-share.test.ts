// readDue's `share`: at most that many events per destination in one read, in their
// order, the rest of the page left to the others; the same on both stores (IndexedDB
// through fake-indexeddb, and memory).
import { afterEach, describe, expect, it } from 'vitest';
import { IMPLEMENTATIONS, T0, closeStores, openTestStore } from './both-stores.fixture.js';
import type { EnqueueLimits } from './store.js';

const ROOMY: EnqueueLimits = { maxQueueSize: 10_000, overflow: 'drop-oldest' };
const A = 'https://a.example';
const B = 'https://b.example';

afterEach(closeStores);

describe.each(IMPLEMENTATIONS)('%s store: readDue shares a page between destinations', (_kind, open) => {
  function setup() {
    const { store } = openTestStore(open);
    const enqueue = (origin: string, prefix: string, n: number) =>
      store.enqueue(
        Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, url: `${origin}/v1/events`, body: JSON.stringify({ i }) })),
        ROOMY,
      );
    return { store, enqueue };
  }
  const ids = (records: { id: string }[]) => records.map((r) => r.id);

  it('fresh events: A queued first takes only its share, B the rest, each in order', async () => {
    const { store, enqueue } = setup();
    await enqueue(A, 'a', 300);
    await enqueue(B, 'b', 10);
    const page = await store.readDue(T0, 20, undefined, undefined, 10);
    expect(ids(page)).toEqual([...Array.from({ length: 10 }, (_, i) => `a${i}`), ...Array.from({ length: 10 }, (_, i) => `b${i}`)]);
    // Without a share, A's backlog fills the page.
    expect(ids(await store.readDue(T0, 20))).toEqual(Array.from({ length: 20 }, (_, i) => `a${i}`));
  });

  it('retries count towards the share too, and a share larger than the page changes nothing', async () => {
    const { store, enqueue } = setup();
    await enqueue(A, 'a', 6);
    const tried = await store.readDue(T0, 6);
    await store.settle(
      tried.map((r) => ({
        seq: r.seq,
        record: r,
        kind: 'retry' as const,
        attempts: 1,
        tries: 1,
        nextAttemptAt: T0,
        hold: 'server' as const,
        status: 503,
      })),
    );
    await enqueue(A, 'n', 4);
    await enqueue(B, 'b', 4);
    const page = await store.readDue(T0, 100, undefined, undefined, 5);
    expect(page.filter((r) => r.url.startsWith(A))).toHaveLength(5);
    expect(ids(page.filter((r) => r.url.startsWith(B)))).toEqual(['b0', 'b1', 'b2', 'b3']);
    expect(await store.readDue(T0, 100, undefined, undefined, 1000)).toHaveLength(14);
  });
});
