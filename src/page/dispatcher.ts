// The page side: validate, serialise once, post to the service worker, settle on the
// worker's commit acknowledgement.
//
// - Events dispatched in the same task travel in one message (one structured clone).
// - A message the worker never answers (killed between receipt and reply) is posted
//   again with the same ids; the store keeps one copy per queued id, so a resend cannot
//   duplicate an event still queued. (If the first copy was already delivered, the
//   resend queues it again: an at-least-once duplicate, dropped by id at the collector.)
import { Workbox, messageSW } from 'workbox-window';
import { OutboxError, type OutboxErrorCode, describe } from '../errors.js';
import {
  type BroadcastMessage,
  type EnqueueResult,
  type OutboxEventName,
  type OutboxEvents,
  PROTOCOL_VERSION,
  type PageMessage,
  type Stats,
  type WireEvent,
  type WorkerReply,
} from '../protocol.js';
import { DEFAULT_MAX_BODY_BYTES, parseHttpUrl, serializeParams, validateEvent } from '../validate.js';

export interface DispatcherOptions {
  /**
   * The service worker that runs `installOutbox`: a script URL (registered for you with
   * workbox-window), a `Workbox` instance, or a `ServiceWorkerRegistration`.
   */
  serviceWorker: string | URL | Workbox | ServiceWorkerRegistration;
  /** Registration scope when `serviceWorker` is a URL. @default the script's folder */
  scope?: string;
  /** How long to wait for the worker's commit before posting again. @default 10000 */
  ackTimeoutMs?: number;
  /** Posts of one batch before giving up with `worker-unavailable`. @default 3 */
  maxPostAttempts?: number;
  /** Largest body, UTF-8 bytes of `JSON.stringify(params)`. @default 1048576 */
  maxBodyBytes?: number;
  /** While the worker reports a backlog, ping it this often (revives a stopped worker). @default 5000 */
  wakeIntervalMs?: number;
}

/** The Optimizely SDK's event shape: `{url, httpVerb, params}`. */
export interface OutboxEvent {
  url: string;
  httpVerb?: 'POST' | string;
  params: unknown;
}

export interface DispatchResponse {
  statusCode: number;
}

export interface Dispatcher {
  /**
   * Stores the event durably and resolves `{statusCode: 202}` once the worker has
   * committed it. Serves Optimizely SDK v6 (promise) and v3–v5 (callback) alike.
   * Bad input rejects with an OutboxError, and the callback gets a 4xx status.
   */
  dispatchEvent(event: OutboxEvent, callback?: (response: DispatchResponse) => void): Promise<DispatchResponse>;
  /** The same for any JSON beacon: POST `JSON.stringify(body)` to `url`. */
  send(url: string, body: unknown): Promise<DispatchResponse>;
  /** Asks for delivery now; resolves when that attempt is over. */
  flush(): Promise<void>;
  stats(): Promise<Stats>;
  on<K extends OutboxEventName>(name: K, handler: (detail: OutboxEvents[K]) => void): () => void;
  /** Empties the queue and the dead-letter store (for sign-out). */
  clear(): Promise<void>;
  /** Stops listening; later calls reject with `closed`. Resolves when pending events are acknowledged. */
  close(): Promise<void>;
}

const EVENT_NAMES: readonly OutboxEventName[] = ['delivered', 'retry', 'dead-letter', 'dropped', 'stats'];

interface Pending {
  event: WireEvent;
  resolve(response: DispatchResponse): void;
  reject(error: OutboxError): void;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const o = resolvePageOptions(options);
  const container: ServiceWorkerContainer | undefined = typeof navigator !== 'undefined' ? navigator.serviceWorker : undefined;
  let closed = false;
  let outgoing: Pending[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const handlers = new Map<OutboxEventName, Set<(detail: never) => void>>();
  let knownQueued = 0;
  let wakeTimer: ReturnType<typeof setInterval> | undefined;

  // --- finding the worker -----------------------------------------------------------
  let target: Promise<() => ServiceWorker | null> | undefined;
  const resolveTarget = (): Promise<() => ServiceWorker | null> => {
    target ??= (async () => {
      if (!container) throw new OutboxError('worker-unavailable', 'this browser has no service worker API (navigator.serviceWorker)');
      const sw = o.serviceWorker;
      if (isWorkbox(sw)) {
        // Follow the Workbox's registration, not the worker it first gave: after an update
        // that worker is redundant, and workbox-window's getSW() stays on it for any update
        // it deems external (a second one, or one more than a minute after register()).
        const first = await sw.getSW();
        const registration = (await container.getRegistrations()).find((r) => [r.installing, r.waiting, r.active].includes(first));
        if (!registration) return () => first;
        return () => registration.active ?? registration.waiting ?? registration.installing;
      }
      const registration =
        typeof sw === 'string' || sw instanceof URL
          ? await new Workbox(String(sw), o.scope ? { scope: o.scope } : undefined).register({ immediate: true })
          : sw;
      if (!registration) throw new OutboxError('worker-unavailable', `service worker ${describe(String(sw))} was not registered`);
      // The newest worker that can take messages; an installing one can (first visit).
      return () => registration.active ?? registration.waiting ?? registration.installing;
    })().catch((cause: unknown) => {
      target = undefined;
      throw cause instanceof OutboxError
        ? cause
        : new OutboxError('worker-unavailable', `service worker registration failed: ${(cause as Error)?.message ?? String(cause)}`, {
            cause,
          });
    });
    return target;
  };

  async function post(message: PageMessage): Promise<WorkerReply> {
    const pick = await resolveTarget();
    let lastError: unknown;
    for (let attempt = 1; attempt <= o.maxPostAttempts; attempt++) {
      const worker = pick();
      if (!worker) {
        lastError = new Error('the registration has no worker');
        await new Promise((r) => setTimeout(r, 100 * attempt));
        continue;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const reply = await Promise.race([
          messageSW(worker, message) as Promise<WorkerReply>,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${o.ackTimeoutMs} ms`)), o.ackTimeoutMs);
          }),
        ]);
        if (reply?.type === 'sw-outbox/error') throw new OutboxError(reply.code as OutboxErrorCode, reply.message);
        return reply;
      } catch (error) {
        if (error instanceof OutboxError) throw error;
        lastError = error;
      } finally {
        clearTimeout(timer);
      }
    }
    throw new OutboxError(
      'worker-unavailable',
      `the service worker did not answer after ${o.maxPostAttempts} attempts: ${(lastError as Error)?.message ?? String(lastError)}`,
      { cause: lastError },
    );
  }

  // --- enqueue, batched per task ------------------------------------------------------
  function sendOutgoing(): void {
    const batch = outgoing;
    outgoing = [];
    const done = post({ type: 'sw-outbox/enqueue', v: PROTOCOL_VERSION, events: batch.map((p) => p.event) }).then(
      (reply) => {
        const results = reply.type === 'sw-outbox/enqueued' ? reply.results : [];
        const byId = new Map<string, EnqueueResult>(results.map((r) => [r.id, r]));
        for (const p of batch) {
          const r = byId.get(p.event.id);
          if (r?.ok) p.resolve({ statusCode: 202 });
          else if (r) p.reject(new OutboxError(r.code as OutboxErrorCode, r.message));
          else p.reject(new OutboxError('invalid-message', `the worker sent no result for event ${p.event.id}`));
        }
        knownQueued += batch.length;
        armWake();
      },
      (error: OutboxError) => {
        for (const p of batch) p.reject(error);
      },
    );
    track(done);
  }

  function enqueue(event: WireEvent): Promise<DispatchResponse> {
    return new Promise<DispatchResponse>((resolve, reject) => {
      if (outgoing.length === 0) queueMicrotask(sendOutgoing);
      outgoing.push({ event, resolve, reject });
    });
  }

  function track(promise: Promise<unknown>): void {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  }

  function checkOpen(): void {
    if (closed) throw new OutboxError('closed', 'this dispatcher was closed; create a new one');
  }

  // --- events from the worker -------------------------------------------------------
  const onMessage = (event: MessageEvent): void => {
    const data = event.data as BroadcastMessage | undefined;
    if (data?.type !== 'sw-outbox/event' || !EVENT_NAMES.includes(data.name)) return;
    if (data.name === 'stats') {
      knownQueued = data.detail.queued;
      armWake();
    }
    // A copy: a handler that unsubscribes must not make us skip the next one.
    for (const handler of [...(handlers.get(data.name) ?? [])]) {
      try {
        (handler as (d: unknown) => void)(data.detail);
      } catch (error) {
        reportLater(error);
      }
    }
  };

  async function wake(): Promise<void> {
    try {
      const reply = await post({ type: 'sw-outbox/wake', v: PROTOCOL_VERSION });
      if (reply.type === 'sw-outbox/stats') knownQueued = reply.stats.queued;
      armWake();
    } catch {
      // Reported by the next dispatchEvent; a wake-up is best effort.
    }
  }

  // While the worker holds a backlog, ping it now and then: a message starts a worker
  // that was stopped mid-flush, and its start resumes delivery.
  function armWake(): void {
    if (knownQueued > 0 && !wakeTimer && !closed) {
      wakeTimer = setInterval(() => void wake(), o.wakeIntervalMs);
    } else if (knownQueued <= 0 && wakeTimer) {
      clearInterval(wakeTimer);
      wakeTimer = undefined;
    }
  }

  const onOnline = (): void => {
    void post({ type: 'sw-outbox/online', v: PROTOCOL_VERSION }).catch(() => {});
  };
  const onVisible = (): void => {
    if (document.visibilityState === 'visible') void wake();
  };

  if (container) {
    container.addEventListener('message', onMessage);
    // Messages to a page are queued until it starts them (addEventListener alone does not).
    container.startMessages();
  }
  if (typeof window !== 'undefined') window.addEventListener('online', onOnline);
  if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisible);
  // Register now, so a first visit gets its worker as early as possible; then wake it.
  // A worker without a fetch handler is not started by page loads, so after a browser
  // restart nothing else would resume a backlog until Background Sync's next retry.
  void wake();

  const dispatcher: Dispatcher = {
    dispatchEvent(event, callback) {
      if (callback !== undefined && typeof callback !== 'function') {
        return Promise.reject(new OutboxError('invalid-event', `callback must be a function, got ${describe(callback)}`));
      }
      let promise: Promise<DispatchResponse>;
      try {
        checkOpen();
        const { url, body } = validateEvent(event, o.maxBodyBytes);
        promise = enqueue({ id: newId(), url, body });
      } catch (error) {
        promise = Promise.reject(error);
      }
      if (callback !== undefined) {
        // v3–v5 callers ignore the promise: don't leave it rejected and unhandled.
        promise.catch(() => {});
        promise.then(
          (response) => callSafely(callback, response),
          (error: unknown) => callSafely(callback, { statusCode: statusFor(error) }),
        );
      }
      return promise;
    },

    send(url, body) {
      try {
        checkOpen();
        const parsed = parseHttpUrl(url, 'url');
        return enqueue({ id: newId(), url: parsed.href, body: serializeParams(body, o.maxBodyBytes, 'body') });
      } catch (error) {
        return Promise.reject(error);
      }
    },

    async flush() {
      checkOpen();
      await post({ type: 'sw-outbox/flush', v: PROTOCOL_VERSION });
    },

    async stats() {
      checkOpen();
      const reply = await post({ type: 'sw-outbox/stats', v: PROTOCOL_VERSION });
      if (reply.type !== 'sw-outbox/stats') throw new OutboxError('invalid-message', `unexpected reply ${reply.type} to stats`);
      knownQueued = reply.stats.queued;
      armWake();
      return reply.stats;
    },

    on(name, handler) {
      if (!EVENT_NAMES.includes(name)) {
        throw new OutboxError('invalid-option', `on(): unknown event ${describe(name)}; expected one of ${EVENT_NAMES.join(', ')}`);
      }
      if (typeof handler !== 'function')
        throw new OutboxError('invalid-option', `on(): handler must be a function, got ${describe(handler)}`);
      let set = handlers.get(name);
      if (!set) handlers.set(name, (set = new Set()));
      set.add(handler as (detail: never) => void);
      return () => void set.delete(handler as (detail: never) => void);
    },

    async clear() {
      checkOpen();
      await post({ type: 'sw-outbox/clear', v: PROTOCOL_VERSION });
    },

    async close() {
      if (closed) return;
      closed = true;
      if (outgoing.length) sendOutgoing();
      container?.removeEventListener('message', onMessage);
      if (typeof window !== 'undefined') window.removeEventListener('online', onOnline);
      if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisible);
      if (wakeTimer) clearInterval(wakeTimer);
      wakeTimer = undefined;
      handlers.clear();
      await Promise.allSettled([...inFlight]);
    },
  };
  return dispatcher;
}

function resolvePageOptions(options: DispatcherOptions): Required<Omit<DispatcherOptions, 'scope'>> & { scope?: string } {
  if (typeof options !== 'object' || options === null) {
    throw new OutboxError('invalid-option', `createDispatcher: options must be an object {serviceWorker}, got ${describe(options)}`);
  }
  const sw = options.serviceWorker;
  if (!(typeof sw === 'string' && sw !== '') && !(sw instanceof URL) && !isWorkbox(sw) && !isRegistration(sw)) {
    throw new OutboxError(
      'invalid-option',
      `createDispatcher: serviceWorker must be a script URL, a Workbox or a ServiceWorkerRegistration, got ${describe(sw)}`,
    );
  }
  const int = (field: keyof DispatcherOptions, fallback: number, min: number): number => {
    const value = options[field];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new OutboxError('invalid-option', `createDispatcher: ${field} must be an integer ≥ ${min}, got ${describe(value)}`);
    }
    return value;
  };
  if (options.scope !== undefined && typeof options.scope !== 'string') {
    throw new OutboxError('invalid-option', `createDispatcher: scope must be a string, got ${describe(options.scope)}`);
  }
  return {
    serviceWorker: sw,
    scope: options.scope,
    ackTimeoutMs: int('ackTimeoutMs', 10_000, 1),
    maxPostAttempts: int('maxPostAttempts', 3, 1),
    maxBodyBytes: int('maxBodyBytes', DEFAULT_MAX_BODY_BYTES, 2),
    wakeIntervalMs: int('wakeIntervalMs', 5000, 100),
  };
}

// Duck-typed: an app may bundle its own copy of workbox-window, and `instanceof` would
// then refuse a perfectly good Workbox.
function isWorkbox(value: unknown): value is Workbox {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Workbox).getSW === 'function' &&
    typeof (value as Workbox).messageSW === 'function'
  );
}

function isRegistration(value: unknown): value is ServiceWorkerRegistration {
  return (
    (typeof ServiceWorkerRegistration !== 'undefined' && value instanceof ServiceWorkerRegistration) ||
    (typeof value === 'object' &&
      value !== null &&
      'installing' in value &&
      'active' in value &&
      typeof (value as ServiceWorkerRegistration).update === 'function')
  );
}

function statusFor(error: unknown): number {
  const code = error instanceof OutboxError ? error.code : undefined;
  switch (code) {
    case 'queue-full':
    case 'quota-exceeded':
      return 507;
    case 'worker-unavailable':
    case 'storage-error':
    case 'closed':
      return 503;
    case 'endpoint-not-allowed':
      return 403;
    case 'body-too-large':
      return 413;
    default:
      return 400;
  }
}

function callSafely(callback: (response: DispatchResponse) => void, response: DispatchResponse): void {
  try {
    callback(response);
  } catch (error) {
    // The caller's bug must not touch the queue; surface it without breaking our flow.
    reportLater(error);
  }
}

function reportLater(error: unknown): void {
  setTimeout(() => {
    throw error;
  });
}

function newId(): string {
  return crypto.randomUUID();
}
