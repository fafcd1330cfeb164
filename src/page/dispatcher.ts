// The dispatcher: what a page holds (createDispatcher), composed of the page's parts:
// - options.ts: the options, checked once (readOptions);
// - batcher.ts: events share a message (createBatcher);
// - transport.ts: the message reaches the service worker, else the fallback (createConnection);
// - beacon.ts: keepalive copies as the page goes (createBeacon);
// - closing.ts: closingDispatcher, for the batch an SDK flushes as the page goes.
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
  type DeadLetterPage,
  type DeadLettersQuery,
  type DiscardResult,
  type EnqueueReply,
  MAX_EVENTS_PER_MESSAGE,
  type OutboxEventName,
  type OutboxEvents,
  PROTOCOL_VERSION,
  type PageMessage,
  type ReplyEnvelope,
  type RequeueResult,
  type ResultReply,
  type Stats,
  type StatsReply,
  type WireEvent,
  type WorkerReply,
} from '../protocol.js';
import { toJson } from '../validate.js';
import { createBatcher } from './batcher.js';
import { createBeacon } from './beacon.js';
import { type DispatcherOptions, badOption, fail, readOptions } from './options.js';
import { createConnection } from './transport.js';

export type { DispatcherOptions } from './options.js';

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
   * Stores the event durably and resolves `{statusCode: 202}` once it is committed.
   * Serves Optimizely SDK v6 (promise) and v3–v5 (callback) alike. Bad input rejects
   * with an OutboxError, and the callback gets a 4xx status.
   */
  dispatchEvent(event: OutboxEvent, callback?: (response: DispatchResponse) => void): Promise<DispatchResponse>;
  /** The same for any JSON beacon: POST `JSON.stringify(body)` to `url`. */
  send(url: string, body: unknown): Promise<DispatchResponse>;
  /** Asks for delivery now; resolves when that attempt is over. */
  flush(): Promise<void>;
  /** Counts, where events are kept (`mode`, `degraded`), and the origin's storage (`persisted`, `storage`). */
  stats(): Promise<Stats>;
  /**
   * Asks the browser to keep this origin's storage until the user deletes it
   * (`navigator.storage.persist()`, which only a page may call). Resolves `true` when it
   * is persistent now, `false` when the browser refused or has no Storage API.
   */
  persistStorage(): Promise<boolean>;
  on<K extends OutboxEventName>(name: K, handler: (detail: OutboxEvents[K]) => void): () => void;
  /** Empties the queue and the dead-letter store (for sign-out). */
  clear(): Promise<void>;
  /** One page of dead letters, newest first; pass its `next` as `before` for the following page. */
  deadLetters(query?: DeadLettersQuery): Promise<DeadLetterPage>;
  /** Puts these dead letters (all when omitted) back in the queue, due now, with the same ids. */
  retryDeadLetters(ids?: string[]): Promise<RequeueResult>;
  /** Deletes these dead letters (all when omitted) for good. */
  discardDeadLetters(ids?: string[]): Promise<DiscardResult>;
  /** Later calls reject with `closed`. Resolves when pending events are acknowledged; then stops listening. */
  close(): Promise<void>;
}

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
const ACCEPTED = 202;
const v = PROTOCOL_VERSION;

/** An event on its way, and how to settle the call that gave it. */
type Pending = [event: WireEvent, resolve: (r: DispatchResponse) => void, reject: (e: OutboxError) => void];

/**
 * Why the outbox refused the `i`th event of an enqueue message, or undefined if it took
 * it. The reply lists the refused ones (`failed`); a worker of an older version answers
 * every event (`results`).
 */
export function refusal({ failed, results }: EnqueueReply, i: number): { code: string; message: string } | undefined {
  if (failed) return failed.find((f) => f.i === i);
  const r = results?.[i];
  return r?.ok ? undefined : ((r as { code: string; message: string }) ?? { code: 'invalid-message', message: 'no result for the event' });
}

/**
 * Event ids: unique without a random draw each (crypto.randomUUID costs more than the rest
 * of a dispatch, and exists only in secure contexts): 96 random bits, then a count.
 */
function eventIds(): () => string {
  const prefix = [...crypto.getRandomValues(new Uint32Array(3))].map((n) => n.toString(36)).join('-');
  let last = 0;
  return () => `${prefix}-${++last}`;
}

// Stats of a worker of an older version (the one still active during an update) lack the storage fields.
const filled = (stats: Partial<Stats>) => ({ persisted: null, storage: null, ...stats }) as Stats;

// The composition: its locals are the dispatcher's state, shared by the listeners and the
// methods it returns, so it is longer than a part; each piece of policy lives in a part.
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const settings = readOptions(options);
  const container = navigator.serviceWorker;
  // Handlers run as event listeners: one that throws is reported, and the others still run.
  const bus = new EventTarget();
  const inFlight = new Set<Promise<unknown>>();
  // Events this page answers for (see onPageHide): not acknowledged yet, or acknowledged
  // by the fallback (whose worker ends with the page) and not seen delivered.
  const waiting = new Map<string, WireEvent>();
  const nextId = eventIds();
  const connection = createConnection(settings, onMessage);
  const batcher = createBatcher(sendBatch, MAX_EVENTS_PER_MESSAGE);
  const beacon = createBeacon(settings);
  let askPersist = settings.persistStorage === 'first-event';
  let hiding = false;
  let closed = false;
  let wakeTimer: ReturnType<typeof setInterval> | undefined;

  const checkOpen = (): void => {
    if (closed) fail('closed', 'this dispatcher was closed');
  };
  // Only a page may ask (persist() is not exposed in workers); no Storage API (not a secure context): refused.
  const persistStorage = async (): Promise<boolean> => {
    checkOpen();
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
          batch.forEach(([event, resolve, reject], i) => {
            const r = refusal(reply as EnqueueReply, i);
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
      checkOpen();
      const body = toJson(params, what);
      const event: WireEvent = { id: nextId(), url: String(url), body };
      if (what !== 'body') {
        event.dedupe = true;
        event.verb = verb;
      }
      waiting.set(event.id, event);
      // 202 still waits for the commit. As the page hides (an SDK flushing on pagehide),
      // the message goes at the end of this task; where no service worker holds the
      // events, a keepalive copy goes at once.
      if ((hiding || closing) && connection.mode !== 'service-worker') beacon.send(event);
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
    for (const event of waiting.values()) beacon.send(event);
  }

  // Back from the back/forward cache (pagehide with `persisted`, then this): the page lives
  // on, so events go as before pagehide, batched and without keepalive copies; the next
  // pagehide has its budget again. (Becoming visible also wakes the worker: onVisible.)
  function onPageShow(): void {
    hiding = false;
    beacon.reset();
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
    checkOpen();
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
      if (!EVENT_NAMES.includes(name)) badOption('on(): name', `one of ${EVENT_NAMES}`, name);
      if (typeof handler !== 'function') badOption('on(): handler', 'a function', handler);
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
