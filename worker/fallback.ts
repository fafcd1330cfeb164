// The no-service-worker fallback: a dedicated worker, started by the page's dispatcher
// only where no service worker runs (API absent, in-app web views, some private modes,
// registration refused or timed out). It hosts the same engine as the service worker —
// same store, validation, de-duplication, backoff, status rules, batching — off the
// main thread, and speaks the same protocol.
// - One flusher per origin: passes run under the Web Lock the service worker uses too,
//   so tabs (and a service worker that appears later) never send the same event at once;
//   events queued here live in the worker's store, so a later worker delivers them.
// - Wake-ups: start, every message (the page sends one on `online` and when it becomes
//   visible), `online` here, and the retry timer.
// - No IndexedDB (blocked storage): a memory-only queue, announced by a `degraded`
//   event and `stats().degraded`, never an exception into the caller.
// The page does the `pagehide` keepalive requests itself: this worker ends with it.
import { type Engine, createEngine, replier } from '../src/engine/engine.js';
import { fallbackOptionsFromUrl, resolveOptions } from '../src/engine/options.js';
import {
  type BroadcastMessage,
  type ConfigureMessage,
  FLUSH_LOCK,
  type OutboxEventName,
  type OutboxEvents,
  PROTOCOL_VERSION,
  type WorkerReply,
} from '../src/protocol.js';
import { openMemoryStore } from '../src/store/memory.js';
import { type Store, openStore } from '../src/store/store.js';

declare const self: DedicatedWorkerGlobalScope;

/** How long a flushing lease lasts without renewal (contexts without Web Locks). */
const LEASE_MS = 10_000;
/** Channel on which the tab that flushes tells the others about outcomes. */
const CHANNEL = 'sw-outbox';

let engine: Promise<Engine> | undefined;
const early: MessageEvent[] = [];

/**
 * The engine's options. `options`: the page's explicit `fallback` (null: none), checked strictly (an
 * unknown or invalid option, or no object at all, refuses with `invalid-option`). Else
 * `url`, the service worker's script URL: its query counts only where it is unambiguously
 * the ready-made worker's options, and at most one warning says what was ignored
 * (fallbackOptionsFromUrl; only an invalid `endpoints` refuses).
 */
function optionsOf({ options, url }: ConfigureMessage) {
  if (options != null || typeof url !== 'string') return resolveOptions(options ?? {});
  const read = fallbackOptionsFromUrl(url, self.location.href);
  if (read.warning) console.warn(read.warning);
  return resolveOptions(read.options);
}

async function start(config: ConfigureMessage): Promise<Engine> {
  const opts = optionsOf(config);
  let store: Store = openStore({ maxDeadLetters: opts.maxDeadLetters });
  let degraded: string | undefined;
  try {
    await store.counters();
  } catch (error) {
    store.close();
    store = openMemoryStore({ maxDeadLetters: opts.maxDeadLetters });
    degraded = `IndexedDB is unavailable (${(error as Error)?.message ?? String(error)}); events are kept in memory only, while the page lives`;
  }
  const post = <K extends OutboxEventName>(name: K, detail: OutboxEvents[K]) =>
    self.postMessage({ type: 'sw-outbox/event', v: PROTOCOL_VERSION, name, detail } as BroadcastMessage);
  // Other tabs hear the outcomes of the flushing tab (a memory queue is this tab's alone).
  const channel = degraded === undefined ? new BroadcastChannel(CHANNEL) : undefined;
  if (channel) channel.onmessage = (event: MessageEvent<BroadcastMessage>) => self.postMessage(event.data);
  if (degraded !== undefined) post('degraded', { reason: degraded });
  const locks = self.navigator.locks;
  // One flusher per origin: the Web Lock the service worker takes too; where there is
  // none (a page that is not a secure context), a lease in the store, renewed each pass.
  const owner = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const exclusive =
    degraded !== undefined
      ? undefined
      : locks
        ? <T>(pass: () => Promise<T>) => locks.request(FLUSH_LOCK, pass) as Promise<T>
        : async <T>(pass: () => Promise<T>): Promise<T> => {
            if (!(await store.lease(owner, Date.now(), LEASE_MS))) {
              // Another tab is flushing: look again in a second (it releases when done).
              await new Promise((r) => setTimeout(r, LEASE_MS / 10));
              return undefined as T;
            }
            const renew = setInterval(() => void store.lease(owner, Date.now(), LEASE_MS).catch(() => {}), LEASE_MS / 3);
            try {
              return await pass();
            } finally {
              clearInterval(renew);
              await store.lease(owner, Date.now(), 0).catch(() => false);
            }
          };
  const e = createEngine(opts, store, {
    mode: degraded === undefined ? 'page' : 'memory',
    broadcast(name, detail) {
      post(name, detail);
      channel?.postMessage({ type: 'sw-outbox/event', v: PROTOCOL_VERSION, name, detail });
    },
    isOffline: () => self.navigator.onLine === false,
    exclusive,
    storage: self.navigator.storage,
  });
  self.addEventListener(
    'online',
    () =>
      void e
        .reconnected(['offline', 'network'])
        .then(
          () => e.kick(),
          () => e.kick(),
        )
        .catch(() => {}),
  );
  void e.kick().catch(() => {});
  return e;
}

const respond = (event: MessageEvent, reply: WorkerReply): void => replier(event.data, event.ports[0], self)(reply);

const refusal = (error: { code?: string; message?: string }): WorkerReply => ({
  type: 'sw-outbox/error',
  v: PROTOCOL_VERSION,
  code: error.code ?? 'invalid-option',
  message: String(error.message),
});

self.onmessage = (event: MessageEvent) => {
  const data = event.data as { type?: unknown; options?: unknown } | null;
  if (data?.type === 'sw-outbox/configure') {
    engine ??= start(data as ConfigureMessage);
    void engine.then(
      () => respond(event, { type: 'sw-outbox/done', v: PROTOCOL_VERSION }),
      (error) => respond(event, refusal(error)),
    );
    for (const e of early.splice(0)) self.onmessage?.(e);
    return;
  }
  if (!engine) {
    early.push(event);
    return;
  }
  void engine.then(
    (e) => e.answer(event.data, event.ports[0], self),
    (error) => respond(event, refusal(error)),
  );
};
