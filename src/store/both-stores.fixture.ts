// For tests that run against both stores: the IndexedDB store (through fake-indexeddb, see
// vite.config.ts) and the memory store, which must keep the same rules. Each test file
// runs `describe.each(IMPLEMENTATIONS)`, opens its stores with `openTestStore` and calls
// `afterEach(closeStores)`.
import { openMemoryStore } from './memory.js';
import { type EnqueueLimits, type NewRecord, type Store, type StoreOptions, openStore } from './store.js';

/** An epoch-ms start for injected clocks. */
export const T0 = 1_700_000_000_000;

export type OpenStore = (options: StoreOptions) => Store;

export const IMPLEMENTATIONS: [string, OpenStore][] = [
  ['IndexedDB', openStore],
  ['memory', openMemoryStore],
];

let counter = 0;
const opened: Store[] = [];

/** Closes every store openTestStore opened (call it in afterEach). */
export function closeStores(): void {
  for (const s of opened.splice(0)) s.close();
}

/** Closes `stores` with the others in closeStores (stores a test opened itself). */
export function closeLater(...stores: Store[]): void {
  opened.push(...stores);
}

/**
 * A store with a clock a test moves (`clock.now`, from T0), on a database of its own (a
 * name made unique, unless `options.name` is given: to reopen one), closed by closeStores.
 */
export function openTestStore(open: OpenStore, options: StoreOptions = {}): { store: Store; clock: { now: number }; name: string } {
  const clock = { now: T0 };
  const name = options.name ?? `store-test-${++counter}-${Math.random().toString(36).slice(2)}`;
  const store = open({ now: () => clock.now, ...options, name });
  opened.push(store);
  return { store, clock, name };
}

/** Limits that never overflow. */
export const ROOMY: EnqueueLimits = { maxQueueSize: 10_000, overflow: 'drop-oldest' };

/** An event without keys, for the collector. */
export const rec = (id: string): NewRecord => ({ id, url: 'https://collector.example/v1/events', body: JSON.stringify({ id }) });

export const ids = (records: { id: string }[]) => records.map((r) => r.id);

/** The seq of the queued event `id` (throws if none is queued). */
export async function seqOf(store: Store, id: string): Promise<number> {
  const found = (await store.readDue(Number.MAX_SAFE_INTEGER, 100_000)).find((r) => r.id === id);
  if (!found) throw new Error(`no queued record ${id}`);
  return found.seq;
}
