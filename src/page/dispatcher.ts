// The page side: serialise once, post to the service worker, settle on the worker's
// commit acknowledgement. Kept thin on purpose (it is on every page): the worker (or the
// page-side fallback, loaded only when needed) validates URLs, endpoints and sizes and
// answers each event with a result.
//
// - Events travel together, as JSON strings (a string is cheaper to clone than the object
//   it encodes): one message until 5 ms pass without an event, or 50 ms after the first.
// - A message the worker never answers (killed between receipt and reply) is posted
//   again with the same ids; the store keeps one copy per queued id.
// - No service worker (API absent, registration refused or timed out, worker silent):
//   the fallback takes over: the same engine and store in a dedicated worker
//   (worker/fallback.ts, which a bundler emits as a file of its own, loaded only then).
//   On `pagehide`, what this page queued there and has not seen delivered goes out with
//   `fetch(..., {keepalive: true})` within the 64 KB budget (it stays queued: at-least-once).
import type { Workbox } from 'workbox-window';
import { type OutboxOptions, endpointsFromQuery } from '../outbox-options.js';
import { OutboxError, type OutboxErrorCode, describe } from '../errors.js';
import { rewriteUrl, toJson } from '../validate.js';
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

export interface DispatcherOptions {
  /**
   * The service worker that runs `installOutbox`: a script URL (registered for you, as
   * workbox-window's `Workbox` would), a `Workbox` instance, or a `ServiceWorkerRegistration`.
   */
  serviceWorker: string | URL | Workbox | ServiceWorkerRegistration;
  /** Registration scope when `serviceWorker` is a URL. @default the script's folder */
  scope?: string;
  /** How long to wait for the worker's commit before posting again. @default 10000 */
  ackTimeoutMs?: number;
  /** Posts of one batch before the worker counts as unavailable. @default 3 */
  maxPostAttempts?: number;
  /** Largest body, UTF-8 bytes of `JSON.stringify(params)`. @default 1048576 */
  maxBodyBytes?: number;
  /** While the worker reports a backlog, ping it this often (revives a stopped worker). @default 5000 */
  wakeIntervalMs?: number;
  /**
   * Endpoint rewriting, for a first-party proxy: each key is a URL prefix matched against
   * the event's URL, its value what replaces it (an absolute URL, or a path on this
   * page's origin). The body is untouched. Checked here (a bad entry throws
   * `invalid-option` from createDispatcher), applied where events are stored.
   * @example { 'https://logx.optimizely.com/v1/events': '/collect/v1/events' }
   */
  rewrite?: Record<string, string>;
  /**
   * Where no service worker can run (API absent, registration refused or timed out), a
   * page-side outbox with the same store and delivery code takes over (loaded lazily).
   * Its options (`installOutbox`'s, checked strictly: an unknown or invalid one refuses
   * the events with `invalid-option`). By default, those in the `serviceWorker` URL's
   * query string where that query is the ready-made worker's options (every key an
   * option; an app's own worker URL, `/sw.js?v=3`, is not, and is ignored; an option
   * with an invalid value is left out, with a console warning, except `endpoints`: see
   * fallbackOptionsFromUrl). `false`: no fallback, calls reject with `worker-unavailable`.
   */
  fallback?: OutboxOptions | false;
  /** How long registration may take before the fallback takes over. @default 10000 */
  registrationTimeoutMs?: number;
  /**
   * When the dispatcher asks the browser to keep this origin's storage (the queue with
   * it) rather than evict it: `'never'` (call `persistStorage()` yourself, at a moment of
   * your choosing), or `'first-event'`: once, as this page's first event is accepted.
   * Chromium and Safari decide silently, by how much the user uses the site (installed,
   * bookmarked, visited often); Firefox asks the user with a prompt at that moment.
   * @default 'never'
   */
  persistStorage?: 'never' | 'first-event';
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

/** What the page talks to: the service worker, or the fallback's dedicated worker. */
interface Transport {
  mode: 'service-worker' | 'page';
  post(message: PageMessage): Promise<WorkerReply>;
  close?(): void;
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
/** Integer options: [name, default, minimum]. */
const INTEGERS = [
  ['ackTimeoutMs', 10_000, 1],
  ['maxPostAttempts', 3, 1],
  ['maxBodyBytes', 1 << 20, 2],
  ['wakeIntervalMs', 5000, 100],
  ['registrationTimeoutMs', 10_000, 1],
] as const;

/** A message goes once no event came for QUIET_MS, or MAX_WAIT_MS after its first event. */
const QUIET_MS = 5;
const MAX_WAIT_MS = 50;

type Settle = [resolve: (r: DispatchResponse) => void, reject: (e: OutboxError) => void];

const fail = (code: OutboxErrorCode, message: string, cause?: unknown): never => {
  throw new OutboxError(code, message, { cause });
};

/** `promise`, or a rejection after `ms`. */
const timeout = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(Error(`no answer within ${ms} ms`)), ms))]);

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  // --- options -----------------------------------------------------------------------
  const bad = (field: string, expected: string, value: unknown) =>
    fail('invalid-option', `${field} must be ${expected}, got ${describe(value)}`);
  if (typeof options !== 'object' || !options) bad('options', 'an object {serviceWorker}', options);
  const { serviceWorker: sw, scope, rewrite, fallback: fallbackOptions, persistStorage: when = 'never' } = options;
  if (!(sw && (typeof sw === 'string' || typeof sw === 'object'))) {
    bad('serviceWorker', 'a script URL, a Workbox or a ServiceWorkerRegistration', sw);
  }
  // Settings of ours that cannot work are one error here, not every event refused later:
  // a script URL that is no URL, a bad `rewrite` entry. (An explicit `fallback` is checked
  // where it is used, strictly, by the fallback: this entry cannot afford installOutbox's
  // checks.)
  let swUrl: URL | undefined;
  try {
    swUrl = typeof sw === 'string' || sw instanceof URL ? new URL(sw, location.href) : undefined;
  } catch {
    bad('serviceWorker', 'a script URL', sw);
  }
  // Resolved as the worker resolves them (resolveRewrites, whose messages this entry
  // cannot afford: the same checks, one message): each value an http(s) URL or a path
  // against the page's URL, the longest prefix first. For the pagehide copies; the
  // enqueue message still carries `rewrite`, which the worker resolves again.
  const rewrites: [string, string][] = [];
  if (rewrite) {
    if (typeof rewrite !== 'object' || Array.isArray(rewrite)) bad('rewrite', 'an object {urlPrefix: replacement}', rewrite);
    for (const from in rewrite) {
      const to = rewrite[from];
      let href = '';
      try {
        href = new URL(to!, location.href).href;
      } catch {}
      if (!(to && typeof to === 'string' && /^https?:/.test(href))) bad(`rewrite[${describe(from)}]`, 'an http(s) URL or a path', to);
      rewrites.push([from, href.endsWith('/') && !to!.endsWith('/') ? href.slice(0, -1) : href]);
    }
    rewrites.sort((x, y) => y[0].length - x[0].length);
  }
  const o = {} as Record<(typeof INTEGERS)[number][0], number>;
  for (const [name, fallback, min] of INTEGERS) {
    const value = options[name] ?? fallback;
    o[name] = Number.isInteger(value) && value >= min ? value : bad(name, `an integer ≥ ${min}`, value);
  }
  if (when !== 'never' && when !== 'first-event') bad('persistStorage', '"never" or "first-event"', when);
  let askPersist = when === 'first-event';
  const container = navigator.serviceWorker;
  const v = PROTOCOL_VERSION;
  // Handlers run as event listeners: one that throws is reported, and the others still run.
  const bus = new EventTarget();
  const inFlight = new Set<Promise<unknown>>();
  // Events this page answers for (see onPageHide): not acknowledged yet, or acknowledged
  // by the fallback (whose worker ends with the page) and not seen delivered.
  const waiting = new Map<string, WireEvent>();
  let inFallback: unknown;
  let swReady: unknown;
  let hiding: unknown;
  let budget = 0;
  let closed: unknown;
  let outgoing: WireEvent[] = [];
  let settles: Settle[] = [];
  let wakeTimer: ReturnType<typeof setInterval> | undefined;
  const replies = new Map<number, (reply: WorkerReply) => void>();
  // Request ids: every dispatcher of the page hears every reply, so each starts at random.
  let lastRid = Math.floor(Math.random() * 2 ** 40);
  // Event ids: unique without a random draw each (crypto.randomUUID costs more than the
  // rest of a dispatch, and exists only in secure contexts): 96 random bits, then a count.
  const idPrefix = [...crypto.getRandomValues(new Uint32Array(3))].map((n) => n.toString(36)).join('-');
  let lastId = 0;

  // Stats of a worker of an older version (the one still active during an update) lack the storage fields.
  const filled = (stats: Partial<Stats>) => ({ persisted: null, storage: null, ...stats }) as Stats;
  // Only a page may ask (persist() is not exposed in workers); no Storage API (not a secure context): refused.
  const persistStorage = async (): Promise<boolean> => {
    if (closed) fail('closed', 'this dispatcher was closed');
    try {
      return (await navigator.storage?.persist()) === true;
    } catch {
      return false;
    }
  };

  // --- finding the outbox: the service worker, else the fallback ----------------------
  // Posts and waits for the answer; posts again (same ids) if none comes.
  const transportTo = (mode: Transport['mode'], target: () => unknown, close?: () => void): Transport => ({
    mode,
    close,
    async post(message) {
      let error: unknown;
      for (let attempt = 1; attempt <= o.maxPostAttempts; attempt++) {
        try {
          const rid = ++lastRid;
          const worker = target() as ServiceWorker;
          worker.postMessage({ ...message, rid });
          // The answer comes back as a ReplyEnvelope to this page (see onMessage); a worker
          // still installing may instead fail its install (then no answer would come).
          return await timeout(
            new Promise<WorkerReply>((resolve, reject) => {
              replies.set(rid, resolve);
              if (worker.state === 'installing') {
                worker.addEventListener('statechange', () => worker.state === 'redundant' && reject(Error('the worker failed to install')));
              }
            }),
            o.ackTimeoutMs,
          ).finally(() => replies.delete(rid));
        } catch (e) {
          error = e;
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
      throw error;
    },
  });

  // No service worker: the same engine and store in a dedicated worker. It is a file of
  // the package (dist/fallback.js, self-contained) that bundlers copy as an asset for
  // `new URL(..., import.meta.url)`, and only such a browser loads it.
  const fallback = async (cause: unknown): Promise<Transport> => {
    if (fallbackOptions === false) fail('worker-unavailable', `no service worker: ${(cause as Error)?.message ?? cause}`, cause);
    const worker = new Worker(new URL(/* @vite-ignore */ './fallback.js', import.meta.url), { name: 'sw-outbox' });
    worker.onmessage = onMessage;
    const t = transportTo(
      'page',
      () => worker,
      () => worker.terminate(),
    );
    // A script that cannot be fetched (offline on a first visit) or throws fires `error`
    // at once: no waiting out every post's timeout for an answer that cannot come.
    const reply = await Promise.race([
      new Promise<never>((_, reject) => (worker.onerror = () => reject(Error('the fallback worker did not start')))),
      t.post({
        type: 'sw-outbox/configure',
        v,
        // Explicit options (checked strictly there), else the worker URL, whose query the
        // fallback reads only where it is the ready-made worker's (fallbackOptionsFromUrl).
        options: fallbackOptions,
        url: swUrl?.href,
      }),
    ]);
    if (reply.type === 'sw-outbox/error') fail(reply.code as OutboxErrorCode, reply.message);
    inFallback = 1;
    swReady = 0;
    return t;
  };

  // The transport in use; one that failed to start is forgotten, so the next message tries afresh.
  let transport: Promise<Transport> | undefined;
  const use = (next: Promise<Transport>): Promise<Transport> => {
    transport = next;
    next.catch(() => transport === next && (transport = undefined));
    return next;
  };
  const getTransport = (): Promise<Transport> =>
    transport ??
    use(
      timeout(findWorker(), o.registrationTimeoutMs)
        .then((pick) => {
          swReady = 1;
          return transportTo('service-worker', pick);
        })
        .catch(fallback),
    );

  // Resolves to a function giving the newest worker that can take messages (an
  // installing one can: first visit).
  async function findWorker(): Promise<() => ServiceWorker | null | undefined> {
    if (!container) throw Error('no service worker API');
    let r = sw as ServiceWorkerRegistration | undefined;
    if (typeof sw === 'string' || sw instanceof URL) {
      // Registered as workbox-window's `Workbox.register({immediate: true})` would: that is
      // this one call, and Workbox would be 2.2 KB of a 4 KB entry. An app that uses
      // workbox-window passes its own `Workbox` (below). Started at once, not after a
      // lazily loaded chunk: a first visit that goes offline right away still gets its worker.
      r = await container.register(String(sw), { scope });
    } else if ('getSW' in sw) {
      // A Workbox: follow its registration, not the worker it first gave (after an
      // update that one is redundant, and getSW() stays on it for "external" updates).
      const first = await sw.getSW();
      r = (await container.getRegistrations()).find((x) => [x.installing, x.waiting, x.active].includes(first));
      if (!r) return () => first;
    }
    const registration = r ?? fail('worker-unavailable', `${describe(String(sw))} was not registered`);
    return () => registration.active ?? registration.waiting ?? registration.installing;
  }

  // Neither worker could start. Offline (a first visit that lost the network before the
  // scripts came): the events wait in the page, and the next 'online' tries again. Else
  // (a script missing, refused): worker-unavailable.
  async function connect(): Promise<Transport> {
    for (;;) {
      try {
        return await getTransport();
      } catch (error) {
        if (navigator.onLine !== false) {
          throw error instanceof OutboxError ? error : fail('worker-unavailable', `no outbox: ${(error as Error)?.message}`, error);
        }
        await new Promise((online) => addEventListener('online', online, { once: true }));
      }
    }
  }

  async function post(message: PageMessage): Promise<WorkerReply> {
    let t = await connect();
    let reply: WorkerReply;
    try {
      reply = await t.post(message);
    } catch (error) {
      if (t.mode !== 'service-worker') throw fail('worker-unavailable', `the fallback did not answer: ${(error as Error)?.message}`, error);
      // The service worker went silent: the fallback takes the message (same store, same ids).
      t = await use(fallback(error));
      reply = await t.post(message);
    }
    return reply.type === 'sw-outbox/error' ? fail(reply.code as OutboxErrorCode, reply.message) : reply;
  }

  // --- enqueue, batched while events keep coming --------------------------------------
  let firstAt = 0;
  let lastAt = 0;
  function sendSoon(): void {
    const now = performance.now();
    const quiet = now - lastAt;
    if (outgoing.length && quiet < QUIET_MS && now - firstAt < MAX_WAIT_MS) setTimeout(sendSoon, QUIET_MS - quiet);
    else sendOutgoing();
  }

  function sendOutgoing(): void {
    const events = outgoing;
    const batch = settles;
    outgoing = [];
    settles = [];
    if (events.length) {
      const done = post({
        type: 'sw-outbox/enqueue',
        v,
        events,
        // Endpoint rewriting, page limits: applied (and checked) where events are stored.
        ...(rewrite && { rewrite, base: location.href }),
        maxBodyBytes: o.maxBodyBytes,
        // The refused events only in the reply (one result per event costs the page a clone each).
        failedOnly: true,
      }).then(
        (reply) => {
          const { failed, results } = reply as EnqueueReply;
          batch.forEach(([resolve, reject], i) => {
            // The refused ones, by position (a worker of an older version answers every event).
            const r = failed
              ? failed.find((f) => f.i === i)
              : results?.[i]?.ok
                ? undefined
                : ((results?.[i] as { code: string; message: string }) ?? { code: 'invalid-message', message: 'no result for the event' });
            if (r || !inFallback) waiting.delete(events[i]!.id);
            if (r) reject(new OutboxError(r.code as OutboxErrorCode, r.message));
            else {
              resolve({ statusCode: 202 });
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
          for (const [i, [, reject]] of batch.entries()) {
            waiting.delete(events[i]!.id);
            reject(error);
          }
        },
      );
      inFlight.add(done);
      void done.finally(() => inFlight.delete(done));
    }
  }

  // `verb` is given by dispatchEvent only: its events are de-duplicated by content.
  // `closing`: the page is going (closingDispatcher): the message goes at once, and a
  // keepalive copy too where no service worker holds the events, as on pagehide.
  function enqueue(url: unknown, params: unknown, what: string, verb?: unknown, closing?: unknown): Promise<DispatchResponse> {
    return new Promise<DispatchResponse>((resolve, reject) => {
      if (closed) fail('closed', 'this dispatcher was closed');
      const body = toJson(params, what);
      // Events share a message until 5 ms pass without one, or 50 ms since the first (a
      // burst spread over tasks costs the main thread a message or two, not one per 5 ms:
      // each message and its reply cost the page far more than an event; 202 still waits
      // for the commit). As the page hides (an SDK flushing on pagehide), the message goes
      // at the end of this task; and where no service worker holds the events, a
      // keepalive copy goes at once.
      lastAt = performance.now();
      if (!outgoing.length) {
        firstAt = lastAt;
        hiding ? queueMicrotask(sendOutgoing) : setTimeout(sendSoon, QUIET_MS);
      }
      const event: WireEvent = { id: `${idPrefix}-${++lastId}`, url: String(url), body };
      if (what !== 'body') {
        event.dedupe = true;
        event.verb = verb;
      }
      outgoing.push(event);
      waiting.set(event.id, event);
      if (closing) lastChance();
      if ((hiding || closing) && !swReady) beacon(event);
      settles.push([resolve, reject]);
      if (closing || outgoing.length === MAX_EVENTS_PER_MESSAGE) sendOutgoing();
    });
  }

  // --- events from the worker, wake-ups -------------------------------------------------
  function onMessage({ data }: MessageEvent<BroadcastMessage | ReplyEnvelope>): void {
    if (data?.type === 'sw-outbox/reply') replies.get(data.rid)?.(data.reply);
    if (data?.type === 'sw-outbox/event') {
      if (data.name === 'stats') noteQueued(data.detail.queued);
      for (const id of (data.detail as { ids?: string[] }).ids ?? []) waiting.delete(id);
      bus.dispatchEvent(new CustomEvent(data.name, { detail: data.name === 'stats' ? filled(data.detail) : data.detail }));
    }
  }

  // The page is going away with events it answers for: not acknowledged yet (a first
  // visit whose worker is still installing), or kept by the fallback, whose worker ends
  // with the page. They go out now as keepalive requests, within their 64 KB budget, to
  // their (rewritten) URL if the outbox's endpoints allow it, as the SDKs' own last-chance
  // beacons do. They may also be delivered later from the store: at-least-once.
  // Where a last-chance copy may go, worked out once as the page hides: only where every
  // allow-list that applies allows it: the explicit `fallback`'s endpoints, and those of
  // the worker URL's query (the ready-made worker's, and the default fallback's: read
  // with endpointsFromQuery as both read them, so the same URL gives the same list). Each
  // entry is read as the outbox reads it (an absolute URL; an origin allows its every
  // path, a longer URL is a prefix); a list the outbox would refuse (`endpoints=http:`,
  // `endpoints=`, not an array) allows nothing here, rather than any URL. (An entry of
  // another scheme, `ftp://x`, which the outbox refuses too, can only match event URLs
  // of that scheme, which fetch does not send anywhere.)
  let allowed: string[][] | undefined;
  function onPageHide(): void {
    hiding = 1;
    // What waits for its message goes now: a timer may not run again.
    sendOutgoing();
    lastChance();
    for (const event of waiting.values()) beacon(event);
  }

  // The keepalive budget and allow-lists, once per time the page goes.
  function lastChance(): void {
    if (allowed) return;
    budget = 60_000;
    allowed = [];
    for (const list of [fallbackOptions ? fallbackOptions.endpoints : undefined, swUrl && endpointsFromQuery(swUrl.searchParams)]) {
      try {
        if (list) allowed.push(list.map((e) => new URL(e).href));
      } catch {
        allowed.push([]);
      }
    }
  }

  // Back from the back/forward cache (pagehide with `persisted`, then this): the page lives
  // on, so events go as before pagehide, batched and without keepalive copies; the next
  // pagehide has its budget again. (Becoming visible also wakes the worker: onVisible.)
  const onPageShow = (): void => {
    hiding = allowed = undefined;
  };

  function beacon({ url: original, body }: WireEvent): void {
    const url = rewriteUrl(original, rewrites);
    if (allowed!.every((list) => list.some((e) => url.startsWith(e))) && (budget -= body.length * 3) > 0) {
      fetch(url, {
        method: 'POST',
        // Cross-origin, a JSON content type needs a CORS preflight, and Chromium drops
        // a keepalive request that needs one once the page is gone: this last-chance
        // copy goes as text (the body is the same JSON).
        headers: { 'content-type': url.startsWith(location.origin) ? 'application/json' : 'text/plain;charset=UTF-8' },
        body,
        keepalive: true,
        credentials: fallbackOptions ? fallbackOptions.credentials : undefined,
      }).catch(() => {});
    }
  }

  const wake = (type: 'wake' | 'online' = 'wake'): void =>
    void post({ type: `sw-outbox/${type}`, v }).then(
      (reply) => reply.type === 'sw-outbox/stats' && noteQueued(reply.stats.queued),
      // Best effort: reported by the next dispatchEvent.
      () => {},
    );

  // While the worker holds a backlog, ping it now and then: a message starts a worker
  // that was stopped mid-flush, and its start resumes delivery.
  function noteQueued(queued: number): void {
    if (queued > 0 && !wakeTimer && !closed) wakeTimer = setInterval(wake, o.wakeIntervalMs);
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
  };

  listen('addEventListener');
  addEventListener('pagehide', onPageHide);
  addEventListener('pageshow', onPageShow);
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
  ): Promise<WorkerReply> =>
    closed ? fail('closed', 'this dispatcher was closed') : post({ type: `sw-outbox/${type}`, v, arg } as PageMessage);
  const result = (reply: WorkerReply) => (reply as ResultReply).result as never;
  return {
    // (A third argument, `closing`, is closingDispatcher's.)
    dispatchEvent(event, callback, closing?: unknown) {
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
      if (!EVENT_NAMES.includes(name)) bad('on(): name', `one of ${EVENT_NAMES}`, name);
      if (typeof handler !== 'function') bad('on(): handler', 'a function', handler);
      const listener = (event: Event) => handler((event as CustomEvent).detail);
      bus.addEventListener(name, listener);
      return () => bus.removeEventListener(name, listener);
    },

    async close() {
      if (closed) return;
      closed = 1;
      sendOutgoing();
      noteQueued(0);
      // Still listening until every answer is in (the replies come as messages to the
      // page; without the listener each would wait out its timeout, then the fallback's).
      await Promise.allSettled(inFlight);
      listen('removeEventListener');
      removeEventListener('pagehide', onPageHide);
      removeEventListener('pageshow', onPageShow);
      void transport?.then(
        (t) => t.close?.(),
        () => {},
      );
    },
  };
}

/** An Optimizely SDK v6 `EventDispatcher`: what `closingDispatcher` returns. */
export interface ClosingDispatcher {
  dispatchEvent(event: OutboxEvent): Promise<DispatchResponse>;
}

/**
 * For the Optimizely SDK v6 batch event processor's `closingEventDispatcher`, used for the
 * batch it flushes as the page goes (`pagehide`, `close()`). The SDK's default is its
 * sendBeacon dispatcher, which it leaves out once you pass your own `eventDispatcher`:
 * this one takes that batch as `dispatcher` does an event dispatched during `pagehide`:
 * posted to the worker at once, not batched with others, with a keepalive copy (within
 * the 64 KB budget, to allowed endpoints only) where no service worker holds the events
 * yet (a first visit, the fallback). It resolves `{statusCode: 202}` once committed, as
 * `dispatchEvent` does: a batch the page did not live to see acknowledged stays in the
 * SDK's event store, and its re-send is stored once (`dedupeWindowMs`).
 * @example createBatchEventProcessor({ eventDispatcher: dispatcher, closingEventDispatcher: closingDispatcher(dispatcher) })
 */
export function closingDispatcher(dispatcher: Dispatcher): ClosingDispatcher {
  const dispatch = dispatcher.dispatchEvent as (event: OutboxEvent, callback: undefined, closing: 1) => Promise<DispatchResponse>;
  return { dispatchEvent: (event) => dispatch(event, undefined, 1) };
}
