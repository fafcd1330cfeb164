// What the engine's pieces share, handed to each as one typed object: the options, the
// store, the host (the service worker or the dedicated fallback worker: it supplies the
// DOM-less globals), the flusher, and the trailing stats broadcast.
//   engine.ts        the composition: createEngine wires store, flusher and host
//   answers.ts       the protocol's answers: a message in, a reply out (handle, answer, replier)
//   enqueue.ts       enqueue: wire events validated into records, de-duplication keys, the store's verdict
//   dead-letters.ts  listing, retrying and discarding dead letters, arguments checked strictly
//   stats.ts         stats(): counters, destinations, storage facts
import type { Flusher } from '../delivery/flusher.js';
import type { OutboxEventName, OutboxEvents, OutboxMode, Stats } from '../protocol.js';
import type { Store } from '../store/store.js';
import type { ResolvedOptions } from './options.js';
import type { StorageManagerLike } from './storage.js';

export interface EngineHost {
  mode: OutboxMode;
  /** Tells every page about an outcome. */
  broadcast<K extends OutboxEventName>(name: K, detail: OutboxEvents[K]): void;
  /** Delivery is held back (offline, collector down): ask the platform for a wake-up. */
  onHeld?(): void;
  /** Runs a flusher pass exclusively across every context sharing the store (a Web Lock). */
  exclusive?: <T>(pass: () => Promise<T>) => Promise<T>;
  isOffline(): boolean;
  fetch?: typeof fetch;
  /** The host's `navigator.storage`, for stats().persisted and stats().storage (absent: null). */
  storage?: StorageManagerLike;
}

export interface EngineContext {
  readonly opts: ResolvedOptions;
  readonly store: Store;
  readonly host: EngineHost;
  readonly flusher: Flusher;
  /** Stats go out to the pages soon (at most every 200 ms, trailing: a burst costs one read). */
  readonly statsChanged: () => void;
  readonly stats: () => Promise<Stats>;
  /** Connectivity came back: events held only for these reasons are due now. */
  readonly reconnected: (holds: ('offline' | 'network')[]) => Promise<void>;
}
