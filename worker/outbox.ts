// Wires service-worker events to the outbox engine. Listeners are added synchronously
// when installOutbox() is called (call it at the top level of the worker script), and
// every piece of async work is kept alive with waitUntil().
import { type Engine, createEngine } from '../src/engine/engine.js';
import { type OutboxOptions, resolveOptions } from '../src/engine/options.js';
import {
  type BroadcastMessage,
  type DeadLetterPage,
  type DeadLettersQuery,
  type DiscardResult,
  FLUSH_LOCK,
  PROTOCOL_VERSION,
  type RequeueResult,
  type Stats,
} from '../src/protocol.js';
import { openStore } from '../src/store/store.js';

/** The tag of this library's Background Sync registration (namespaced). */
export const SYNC_TAG = 'sw-outbox:deliver';

// lib.webworker has no Background Sync types.
interface SyncManager {
  register(tag: string): Promise<void>;
  getTags(): Promise<string[]>;
}
interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
  readonly lastChance: boolean;
}

export interface OutboxHandle {
  /** Sends what is due now; resolves when that pass is over. */
  flush(): Promise<void>;
  stats(): Promise<Stats>;
  /** Empties the queue and the dead-letter store. */
  clear(): Promise<void>;
  /** One page of dead letters, newest first; pass its `next` as `before` for the following page. */
  deadLetters(query?: DeadLettersQuery): Promise<DeadLetterPage>;
  /** Puts these dead letters (all when omitted) back in the queue, due now, with the same ids; then delivers. */
  retryDeadLetters(ids?: string[]): Promise<RequeueResult>;
  /** Deletes these dead letters (all when omitted) for good. */
  discardDeadLetters(ids?: string[]): Promise<DiscardResult>;
  /** Removes the listeners and stops the flusher (for tests and hot reload). */
  uninstall(): void;
}

export function installOutbox(options: OutboxOptions = {}): OutboxHandle {
  const opts = resolveOptions(options);
  const scope = self as unknown as ServiceWorkerGlobalScope;
  const isOffline = () => scope.navigator.onLine === false;
  let syncDepth = 0;

  const registration = scope.registration as ServiceWorkerRegistration & { sync?: SyncManager };
  const requestSync = async (): Promise<void> => {
    // No Background Sync (Firefox, Safari, or removed): the other wake-ups cover it —
    // worker start and activate, every message from a page (each page sends one when it
    // comes back online or becomes visible), and this worker's timer for the next retry.
    const sync = registration.sync;
    if (!sync) return;
    // Inside a sync event, registering the same tag again while online makes Chromium
    // fire it again at once: a tight loop. The sync handler asks for a later retry instead.
    if (syncDepth > 0 && !isOffline()) return;
    try {
      if (!(await sync.getTags()).includes(SYNC_TAG)) await sync.register(SYNC_TAG);
    } catch {
      // Permission denied or unsupported here: the other wake-ups still apply.
    }
  };

  const engine: Engine = createEngine(opts, openStore({ maxDeadLetters: opts.maxDeadLetters }), {
    mode: 'service-worker',
    broadcast(name, detail) {
      const message = { type: 'sw-outbox/event', v: PROTOCOL_VERSION, name, detail } as BroadcastMessage;
      void scope.clients
        .matchAll({ type: 'window', includeUncontrolled: true })
        .then((clients) => {
          for (const client of clients) client.postMessage(message);
        })
        .catch(() => {});
    },
    onHeld: () => void requestSync(),
    isOffline,
    // persisted() and estimate() for stats() (persist() is the page's: not exposed in workers).
    storage: scope.navigator.storage,
    // One flusher at a time per origin: during an update the old worker can still be in
    // a pass when the new one starts, and a page without a worker may share the store.
    exclusive: scope.navigator.locks
      ? <T>(pass: () => Promise<T>) => scope.navigator.locks.request(FLUSH_LOCK, pass) as Promise<T>
      : undefined,
  });

  const onMessage = (event: ExtendableMessageEvent): void => {
    const work = engine.answer(event.data, event.ports[0], event.source as Client | null);
    if (work) event.waitUntil(work);
  };

  const onSync = (event: Event): void => {
    const e = event as SyncEvent;
    if (e.tag !== SYNC_TAG) return;
    syncDepth++;
    e.waitUntil(
      (async () => {
        try {
          await engine.reconnected(['offline']);
          await engine.kick();
          const s = await engine.stats();
          // Still queued (held by backoff): fail this sync so the browser schedules
          // another one later, even across restarts. Meanwhile this worker's timer
          // retries on schedule for as long as it lives.
          if (s.queued > 0 && !e.lastChance) {
            throw new Error(`sw-outbox: ${s.queued} events still queued; asking for a later sync`);
          }
        } finally {
          syncDepth--;
        }
      })(),
    );
  };

  const onActivate = (event: ExtendableEvent): void => {
    event.waitUntil(engine.kick().catch(() => {}));
  };

  scope.addEventListener('message', onMessage);
  scope.addEventListener('sync', onSync);
  scope.addEventListener('activate', onActivate);
  // Worker start is a wake-up too: whatever is due goes now (including events a page
  // queued in the same store while no worker was there).
  void engine.kick().catch(() => {});

  return {
    flush: () => engine.kick(),
    stats: engine.stats,
    clear: engine.clear,
    deadLetters: engine.deadLetters,
    retryDeadLetters: engine.retryDeadLetters,
    discardDeadLetters: engine.discardDeadLetters,
    uninstall() {
      scope.removeEventListener('message', onMessage);
      scope.removeEventListener('sync', onSync);
      scope.removeEventListener('activate', onActivate);
      engine.stop();
    },
  };
}
