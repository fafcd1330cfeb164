// Wires service-worker events to the store and the flusher. Listeners are added
// synchronously when installOutbox() is called (call it at the top level of the worker
// script), and every piece of async work is kept alive with waitUntil().
import { type Flusher, createFlusher } from '../src/delivery/flusher.js';
import { createSender } from '../src/delivery/send.js';
import { OutboxError } from '../src/errors.js';
import {
  type BroadcastMessage,
  type EnqueueResult,
  MESSAGE_PREFIX,
  type OutboxEventName,
  type OutboxEvents,
  PROTOCOL_VERSION,
  type Stats,
  type WireEvent,
  type WorkerReply,
} from '../src/protocol.js';
import { type NewRecord, type Store, openStore } from '../src/store/store.js';
import { checkBodySize, isAllowedEndpoint, parseHttpUrl } from '../src/validate.js';
import { type OutboxOptions, resolveOptions } from './options.js';

/** The tag of this library's Background Sync registration (namespaced). */
export const SYNC_TAG = 'sw-outbox:deliver';
/** The Web Lock held while a flusher pass runs. */
export const FLUSH_LOCK = 'sw-outbox:flush';
/** Most events accepted in one enqueue message. */
const MAX_EVENTS_PER_MESSAGE = 1000;

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
  /** Removes the listeners and stops the flusher (for tests and hot reload). */
  uninstall(): void;
}

export function installOutbox(options: OutboxOptions = {}): OutboxHandle {
  const opts = resolveOptions(options);
  const scope = self as unknown as ServiceWorkerGlobalScope;
  const store: Store = openStore({ maxDeadLetters: opts.maxDeadLetters });
  const isOffline = () => scope.navigator.onLine === false;
  let syncDepth = 0;

  const broadcast = <K extends OutboxEventName>(name: K, detail: OutboxEvents[K]): void => {
    const message = { type: 'sw-outbox/event', v: PROTOCOL_VERSION, name, detail } as BroadcastMessage;
    void scope.clients
      .matchAll({ type: 'window', includeUncontrolled: true })
      .then((clients) => {
        for (const client of clients) client.postMessage(message);
      })
      .catch(() => {});
  };

  // Stats go out at most every 200 ms, trailing, so a burst costs one read.
  let statsTimer: ReturnType<typeof setTimeout> | undefined;
  const statsChanged = () => {
    statsTimer ??= setTimeout(() => {
      statsTimer = undefined;
      void stats().then(
        (s) => broadcast('stats', s),
        () => {},
      );
    }, 200);
  };

  const registration = scope.registration as ServiceWorkerRegistration & { sync?: SyncManager };
  const requestSync = async (): Promise<void> => {
    const sync = registration.sync;
    if (!sync) return; // No Background Sync (Firefox, Safari): the other wake-ups cover it.
    // Inside a sync event, registering the same tag again while online makes Chromium
    // fire it again at once: a tight loop. The sync handler asks for a later retry instead.
    if (syncDepth > 0 && !isOffline()) return;
    try {
      if (!(await sync.getTags()).includes(SYNC_TAG)) await sync.register(SYNC_TAG);
    } catch {
      // Permission denied or unsupported here: the other wake-ups still apply.
    }
  };

  const flusher: Flusher = createFlusher({
    store,
    send: createSender(opts, undefined, isOffline),
    backoff: opts.backoff,
    maxAgeMs: opts.maxAgeMs,
    concurrency: opts.concurrency,
    pageSize: Math.max(50, opts.concurrency * 8),
    now: Date.now,
    random: Math.random,
    isOffline,
    // One flusher at a time per origin: during an update the old worker can still be
    // in a pass when the new one starts; both sending the same events would duplicate them.
    exclusive: scope.navigator.locks
      ? <T>(pass: () => Promise<T>) => scope.navigator.locks.request(FLUSH_LOCK, pass) as Promise<T>
      : undefined,
    refuse: (record) => {
      if (typeof record.id !== 'string' || typeof record.body !== 'string' || typeof record.url !== 'string') {
        return 'corrupted record: id, url and body must be strings';
      }
      let url: URL;
      try {
        url = parseHttpUrl(record.url, 'stored url');
      } catch (error) {
        return (error as Error).message;
      }
      if (!isAllowedEndpoint(url, opts.endpoints)) return `${url.href} is not in this outbox's endpoints`;
      return undefined;
    },
    onHeld: () => void requestSync(),
    emit: {
      delivered: (d) => broadcast('delivered', d),
      retry: (d) => broadcast('retry', d),
      deadLetter: (d) => broadcast('dead-letter', d),
      dropped: (d) => broadcast('dropped', d),
      changed: statsChanged,
    },
  });

  async function stats(): Promise<Stats> {
    const [counters, next] = await Promise.all([store.counters(), store.nextAttemptAt()]);
    const blocked = flusher.blockedUntil();
    return {
      queued: counters.queued,
      deadLettered: counters.deadLettered,
      dropped: counters.dropped,
      delivered: counters.delivered,
      retried: counters.retried,
      inFlight: flusher.inFlight(),
      nextAttemptAt: next === undefined ? null : Math.max(next, blocked),
    };
  }

  // Connectivity came back: events held only by network failures are due now;
  // server-imposed delays (Retry-After, 5xx backoff) still hold.
  async function reconnected(holds: ('offline' | 'network')[]): Promise<void> {
    flusher.unblock(holds);
    await store.release(holds, Date.now());
  }

  async function enqueue(events: unknown): Promise<EnqueueResult[]> {
    if (!Array.isArray(events) || events.length === 0 || events.length > MAX_EVENTS_PER_MESSAGE) {
      throw new OutboxError('invalid-message', `enqueue.events must be an array of 1 to ${MAX_EVENTS_PER_MESSAGE} events`);
    }
    const results: EnqueueResult[] = new Array(events.length);
    const records: NewRecord[] = [];
    const positions: number[] = [];
    events.forEach((raw: unknown, i) => {
      const id = typeof raw === 'object' && raw !== null && typeof (raw as WireEvent).id === 'string' ? (raw as WireEvent).id : '';
      try {
        const e = checkWireEvent(raw);
        const url = parseHttpUrl(e.url, 'event.url');
        if (!isAllowedEndpoint(url, opts.endpoints)) {
          throw new OutboxError(
            'endpoint-not-allowed',
            `event.url ${JSON.stringify(url.href)} is not in this outbox's endpoints (${opts.endpoints!.map((u) => u.href).join(', ')})`,
          );
        }
        checkBodySize(e.body, opts.maxBodyBytes, 'event body');
        records.push({ id: e.id, url: url.href, body: e.body });
        positions.push(i);
      } catch (error) {
        const err = error instanceof OutboxError ? error : new OutboxError('invalid-event', String(error));
        results[i] = { id, ok: false, code: err.code, message: err.message };
      }
    });
    if (records.length > 0) {
      try {
        const { results: stored, droppedIds } = await store.enqueue(records, opts);
        stored.forEach((r, j) => {
          results[positions[j]!] = r.ok ? { id: r.id, ok: true } : { id: r.id, ok: false, code: r.error.code, message: r.error.message };
        });
        if (droppedIds.length) broadcast('dropped', { ids: droppedIds, reason: 'overflow' });
      } catch (error) {
        const err = error instanceof OutboxError ? error : new OutboxError('storage-error', String(error));
        positions.forEach((p, j) => {
          results[p] = { id: records[j]!.id, ok: false, code: err.code, message: err.message };
        });
      }
      statsChanged();
    }
    return results;
  }

  async function handle(data: Record<string, unknown>): Promise<WorkerReply> {
    const v = PROTOCOL_VERSION;
    if (data.v !== PROTOCOL_VERSION) {
      throw new OutboxError(
        'protocol-mismatch',
        `message speaks protocol version ${String(data.v)}, this worker speaks ${PROTOCOL_VERSION}; reload the page`,
      );
    }
    switch (data.type) {
      case 'sw-outbox/enqueue': {
        const results = await enqueue(data.events);
        return { type: 'sw-outbox/enqueued', v, results };
      }
      case 'sw-outbox/flush':
        await reconnected(['offline', 'network']);
        await flusher.kick();
        return { type: 'sw-outbox/done', v };
      case 'sw-outbox/online':
        await reconnected(['offline', 'network']);
        return { type: 'sw-outbox/done', v };
      case 'sw-outbox/wake':
      case 'sw-outbox/stats':
        return { type: 'sw-outbox/stats', v, stats: await stats() };
      case 'sw-outbox/clear':
        await store.clear();
        statsChanged();
        return { type: 'sw-outbox/done', v };
      default:
        throw new OutboxError('invalid-message', `unknown message type ${JSON.stringify(String(data.type)).slice(0, 80)}`);
    }
  }

  const onMessage = (event: ExtendableMessageEvent): void => {
    const data: unknown = event.data;
    // Not ours (Workbox's SKIP_WAITING, an app's own messages): leave it alone.
    if (typeof data !== 'object' || data === null || typeof (data as { type?: unknown }).type !== 'string') return;
    if (!(data as { type: string }).type.startsWith(MESSAGE_PREFIX)) return;
    const port = event.ports[0];
    const reply = (message: WorkerReply) => {
      try {
        port?.postMessage(message);
      } catch {
        // The page is gone; the work is done regardless.
      }
    };
    const work = handle(data as Record<string, unknown>).then(reply, (error: unknown) => {
      const err = error instanceof OutboxError ? error : new OutboxError('storage-error', String(error));
      reply({ type: 'sw-outbox/error', v: PROTOCOL_VERSION, code: err.code, message: err.message });
    });
    // Any message from a page is also a wake-up: a pass for whatever is due.
    event.waitUntil(work.then(() => flusher.kick()).catch(() => {}));
  };

  const onSync = (event: Event): void => {
    const e = event as SyncEvent;
    if (e.tag !== SYNC_TAG) return;
    syncDepth++;
    e.waitUntil(
      (async () => {
        try {
          await reconnected(['offline']);
          await flusher.kick();
          const s = await stats();
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
    event.waitUntil(flusher.kick().catch(() => {}));
  };

  scope.addEventListener('message', onMessage);
  scope.addEventListener('sync', onSync);
  scope.addEventListener('activate', onActivate);
  // Worker start is a wake-up too: whatever is due goes now.
  void flusher.kick().catch(() => {});

  return {
    flush: () => flusher.kick(),
    stats,
    clear: () => store.clear(),
    uninstall() {
      scope.removeEventListener('message', onMessage);
      scope.removeEventListener('sync', onSync);
      scope.removeEventListener('activate', onActivate);
      flusher.stop();
      store.close();
    },
  };
}

function checkWireEvent(raw: unknown): WireEvent {
  if (typeof raw !== 'object' || raw === null) throw new OutboxError('invalid-message', 'each event must be an object {id, url, body}');
  const e = raw as Record<string, unknown>;
  if (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > 200) {
    throw new OutboxError('invalid-message', 'event.id must be a string of 1 to 200 characters');
  }
  if (typeof e.body !== 'string') throw new OutboxError('invalid-message', `event ${e.id}: body must be a string`);
  if (typeof e.url !== 'string') throw new OutboxError('invalid-url', `event ${e.id}: url must be a string`);
  return { id: e.id, url: e.url, body: e.body };
}
