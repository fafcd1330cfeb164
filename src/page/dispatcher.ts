// The dispatcher: what a page holds (createDispatcher), composed of the page's parts:
// - options.ts: the options, checked once (readOptions);
// - batcher.ts: events share a message (createBatcher);
// - transport.ts: the message reaches the service worker, else the fallback (createConnection);
// - beacon.ts: keepalive copies as the page goes (createBeacon), one per page-hide;
// - closing.ts: closingDispatcher, for the batch an SDK flushes as the page goes;
// - types.ts: the public types (Dispatcher, OutboxEvent, DispatchResponse).
// What it keeps itself: the events it answers for (`waiting`), settling each call on the
// worker's commit acknowledgement, the page's lifecycle (pagehide, pageshow, online,
// visibility) and the wake-ups. Kept thin on purpose (it is on every page): the worker
// (or the fallback) validates URLs, endpoints and sizes and answers each event.
//
// The path of one event: dispatchEvent → enqueue (serialised once: toJson) → batcher.add →
// sendBatch → connection.post (`sw-outbox/enqueue`) → the worker's reply → resolve 202.
import { OutboxError, type OutboxErrorCode, describe } from '../errors.js';
import {
  type BroadcastMessage,
  type EnqueueReply,
  MAX_EVENTS_PER_MESSAGE,
  PROTOCOL_VERSION,
  type PageMessage,
  type ReplyEnvelope,
  type ResultReply,
  type Stats,
  type StatsReply,
  type WireEvent,
  type WorkerReply,
} from '../protocol.js';
import { invalidOption, toJson } from '../validate.js';
import { createBatcher } from './batcher.js';
import { createBeacon } from './beacon.js';
import { type DispatcherOptions, fail, readOptions } from './options.js';
import { createConnection } from './transport.js';
import type { DispatchResponse, Dispatcher } from './types.js';

const EVENT_NAMES = ['delivered', 'retry', 'dead-letter', 'requeued', 'discarded', 'dropped', 'stats', 'degraded'];
/** HTTP-like status given to a v3–v5 callback for each refusal; 400 otherwise. */
const STATUS: Partial<Record<OutboxErrorCode, number>> = {
  'queue-full': 507,
  'quota-exceeded': 507,
  'worker-unavailable': 503,
  'storage-error': 503,
  closed: 503,
  'endpoint-not-allowed': 403,
  'body-too-large': 413,
};
/** Status of an event the outbox committed. */
export const ACCEPTED = 202;

/** An event on its way, and how to settle the call that gave it. */
type Pending = [event: WireEvent, resolve: (r: DispatchResponse) => void, reject: (e: OutboxError) => void];

// Stats of a worker of an older version (the one still active during an update) lack the storage fields.
const filled = (stats: Partial<Stats>) => ({ persisted: null, storage: null, ...stats }) as Stats;

// The composition, longer than a function should be (~225 lines): its locals are the
// dispatcher's state (`waiting`, `hiding`, `closed`, the wake timer), shared by the
// listeners and the methods it returns. Each piece of policy lives in a part; splitting
// this further means passing that state around as objects, which costs the page entry
// gzip bytes its budget does not have (the package test: 3,964 of 3,968 B).
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const settings = readOptions(options);
  const v = PROTOCOL_VERSION;
  const container = navigator.serviceWorker;
  // Handlers run as event listeners: one that throws is reported, and the others still run.
  const bus = new EventTarget();
  const inFlight = new Set<Promise<unknown>>();
  // Events this page answers for (see onPageHide): not acknowledged yet, or acknowledged
  // by the fallback (whose worker ends with the page) and not seen delivered.
  const waiting = new Map<string, WireEvent>();
  // Event ids: unique without a random draw each (crypto.randomUUID costs more than the
  // rest of a dispatch, and exists only in secure contexts): 96 random bits, then a count.
  const idPrefix = [...crypto.getRandomValues(new Uint32Array(3))].map((n) => n.toString(36)).join('-');
  let lastId = 0;
  const connection = createConnection(settings, onMessage);
  const batcher = createBatcher(sendBatch, MAX_EVENTS_PER_MESSAGE);
  let beacon = createBeacon(settings);
  let askPersist = settings.persistStorage === 'first-event';
  let hiding = false;
  let closed = false;
  let wakeTimer: ReturnType<typeof setInterval> | undefined;

  // Only a page may ask (persist() is not exposed in workers); no Storage API (not a secure context): refused.
  const persistStorage = async (): Promise<boolean> => {
    if (closed) fail('closed', 'this dispatcher was closed');
    try {
      return (await navigator.storage?.persist()) === true;
    } catch {
      return false;
    }
  };

  // One enqueue message; each call settles on its event's result, once the worker committed.
  function sendBatch(batch: Pending[]): void {
    const done = connection
      .post({
        type: 'sw-outbox/enqueue',
        v,
        events: batch.map(([event]) => event),
        // Endpoint rewriting, page limits: applied (and checked) where events are stored.
        ...(settings.rewrite && { rewrite: settings.rewrite, base: location.href }),
        maxBodyBytes: settings.maxBodyBytes,
        // The refused events only in the reply (one result per event costs the page a clone each).
        failedOnly: true,
      })
      .then(
        (reply) => {
          // The refused ones, by position: the reply lists them (`failed`); a worker of an
          // older version answers every event (`results`). (Inline: as a function of its
          // own it cost the page entry 22 B of gzip.)
          const { failed, results } = reply as EnqueueReply;
          batch.forEach(([event, resolve, reject], i) => {
            const r = failed
              ? failed.find((f) => f.i === i)
              : results?.[i]?.ok
                ? undefined
                : ((results?.[i] as { code: string; message: string }) ?? { code: 'invalid-message', message: 'no result for the event' });
            // The fallback's worker ends with the page: what it took, the page still answers for.
            if (r || connection.mode !== 'page') waiting.delete(event.id);
            if (r) reject(new OutboxError(r.code as OutboxErrorCode, r.message));
            else {
              resolve({ statusCode: ACCEPTED });
              // This page's first event accepted: the moment to ask to keep the storage it is in.
              if (askPersist) {
                askPersist = false;
                persistStorage().catch(() => {});
              }
            }
          });
          noteQueued(1);
        },
        (error: OutboxError) => {
          for (const [event, , reject] of batch) {
            waiting.delete(event.id);
            reject(error);
          }
        },
      );
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  }

  // `verb` is given by dispatchEvent only: its events are de-duplicated by content.
  // `closing`: the page is going (closingDispatcher): the message goes at once, and a
  // keepalive copy too where no service worker holds the events, as on pagehide.
  function enqueue(url: unknown, params: unknown, what: string, verb?: unknown, closing?: boolean): Promise<DispatchResponse> {
    return new Promise<DispatchResponse>((resolve, reject) => {
      if (closed) fail('closed', 'this dispatcher was closed');
      const body = toJson(params, what);
      const event: WireEvent = { id: `${idPrefix}-${++lastId}`, url: String(url), body };
      if (what !== 'body') {
        event.dedupe = true;
        event.verb = verb;
      }
      waiting.set(event.id, event);
      // 202 still waits for the commit. As the page hides (an SDK flushing on pagehide),
      // the message goes at the end of this task; where no service worker holds the
      // events, a keepalive copy goes at once.
      if ((hiding || closing) && connection.mode !== 'service-worker') beacon(event);
      batcher.add([event, resolve, reject], hiding);
      if (closing) batcher.flush();
    });
  }

  // --- events from the worker, the page's lifecycle, wake-ups ----------------------------
  function onMessage({ data }: MessageEvent<BroadcastMessage | ReplyEnvelope>): void {
    if (data?.type === 'sw-outbox/reply') connection.reply(data);
    if (data?.type === 'sw-outbox/event') {
      if (data.name === 'stats') noteQueued(data.detail.queued);
      for (const id of (data.detail as { ids?: string[] }).ids ?? []) waiting.delete(id);
      bus.dispatchEvent(new CustomEvent(data.name, { detail: data.name === 'stats' ? filled(data.detail) : data.detail }));
    }
  }

  // The page is going away with events it answers for: see beacon.ts.
  function onPageHide(): void {
    hiding = true;
    // What waits for its message goes now: a timer may not run again.
    batcher.flush();
    for (const event of waiting.values()) beacon(event);
  }

  // Back from the back/forward cache (pagehide with `persisted`, then this): the page lives
  // on, so events go as before pagehide, batched and without keepalive copies; the next
  // pagehide has its budget again. (Becoming visible also wakes the worker: onVisible.)
  function onPageShow(): void {
    hiding = false;
    beacon = createBeacon(settings);
  }

  const wake = (type: 'wake' | 'online' = 'wake'): void =>
    void connection.post({ type: `sw-outbox/${type}`, v }).then(
      (reply) => reply.type === 'sw-outbox/stats' && noteQueued(reply.stats.queued),
      // Best effort: reported by the next dispatchEvent.
      () => {},
    );

  // While the worker holds a backlog, ping it now and then: a message starts a worker
  // that was stopped mid-flush, and its start resumes delivery.
  function noteQueued(queued: number): void {
    if (queued > 0 && !wakeTimer && !closed) wakeTimer = setInterval(wake, settings.wakeIntervalMs);
    if ((queued <= 0 || closed) && wakeTimer) wakeTimer = void clearInterval(wakeTimer);
  }

  const onOnline = (): void => wake('online');
  // Becoming visible is a reconnection too: events held by network failures are due.
  const onVisible = (): void => {
    if (document.visibilityState === 'visible') wake('online');
  };
  const listen = (add: 'addEventListener' | 'removeEventListener'): void => {
    container?.[add]('message', onMessage as EventListener);
    window[add]('online', onOnline);
    document[add]('visibilitychange', onVisible);
    window[add]('pagehide', onPageHide);
    window[add]('pageshow', onPageShow);
  };

  listen('addEventListener');
  // Messages to a page are queued until it starts them (addEventListener alone does not).
  container?.startMessages();
  // Register now, so a first visit gets its worker as early as possible; then wake it.
  // A worker without a fetch handler is not started by page loads, so after a browser
  // restart nothing else would resume a backlog until Background Sync's next retry.
  wake();

  // Dead letters too: the worker checks their argument (a bad one: invalid-argument) and answers with a ResultReply.
  const command = async (
    type: 'flush' | 'clear' | 'stats' | `${'' | 'retry-' | 'discard-'}dead-letters`,
    arg?: unknown,
  ): Promise<WorkerReply> => {
    if (closed) fail('closed', 'this dispatcher was closed');
    return connection.post({ type: `sw-outbox/${type}`, v, arg } as PageMessage);
  };
  const result = (reply: WorkerReply) => (reply as ResultReply).result as never;
  return {
    // (A third argument, `closing`, is closingDispatcher's.)
    dispatchEvent(event, callback, closing?: boolean) {
      const promise =
        callback !== undefined && typeof callback !== 'function'
          ? Promise.reject(new OutboxError('invalid-event', `callback must be a function, got ${describe(callback)}`))
          : typeof event !== 'object' || !event || Array.isArray(event)
            ? Promise.reject(new OutboxError('invalid-event', `event must be an object {url, httpVerb, params}, got ${describe(event)}`))
            : // The worker checks the verb (only POST), the URL and the size.
              enqueue(event.url, event.params, 'event.params', event.httpVerb, closing);
      // v3–v5 callers ignore the promise: a callback consumes its rejection.
      promise.then(callback, (error: OutboxError) => callback?.({ statusCode: STATUS[error.code] ?? 400 }));
      return promise;
    },

    send: (url, body) => enqueue(url, body, 'body'),
    flush: () => command('flush').then(() => {}),
    clear: () => command('clear').then(() => {}),
    deadLetters: (query) => command('dead-letters', query).then(result),
    retryDeadLetters: (ids) => command('retry-dead-letters', ids).then(result),
    discardDeadLetters: (ids) => command('discard-dead-letters', ids).then(result),

    async stats() {
      const { stats } = (await command('stats')) as StatsReply;
      noteQueued(stats.queued);
      return filled(stats);
    },

    persistStorage,

    on(name, handler) {
      if (!EVENT_NAMES.includes(name)) invalidOption('on(): name', `one of ${EVENT_NAMES}`, name);
      if (typeof handler !== 'function') invalidOption('on(): handler', 'a function', handler);
      const listener = (event: Event) => handler((event as CustomEvent).detail);
      bus.addEventListener(name, listener);
      return () => bus.removeEventListener(name, listener);
    },

    async close() {
      if (closed) return;
      closed = true;
      batcher.flush();
      noteQueued(0);
      // Still listening until every answer is in (the replies come as messages to the
      // page; without the listener each would wait out its timeout, then the fallback's).
      await Promise.allSettled(inFlight);
      listen('removeEventListener');
      connection.close();
    },
  };
}
