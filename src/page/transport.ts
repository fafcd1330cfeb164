// The transport: how a message of the page reaches the outbox and its answer comes back.
// - Find the worker: the service worker given as a script URL (registered here), a
//   workbox-window `Workbox` or a `ServiceWorkerRegistration` (findWorker).
// - Post and wait for the answer, matched by request id; post again (same event ids) when
//   none comes within `ackTimeoutMs`: the store keeps one copy per queued id.
// - Fall back: no service worker (API absent, registration refused or timed out, worker
//   silent), and the fallback takes over: the same engine and store in a dedicated worker,
//   `dist/fallback.js` (worker/fallback.ts), loaded only then (fallback). Once it
//   holds the events, it keeps them: the page does not switch back.
// - Neither can start while the browser is offline: messages wait for `online`.
import { OutboxError, type OutboxErrorCode, describe } from '../errors.js';
import { PROTOCOL_VERSION, type PageMessage, type ReplyEnvelope, type WorkerReply } from '../protocol.js';
import { type Settings, fail } from './options.js';

/** Where the events are kept: by the service worker, or by the fallback's dedicated worker. */
export type Mode = 'service-worker' | 'page';

export interface Connection {
  /** The worker most recently started (undefined until one is). `'page'` stays. */
  mode?: Mode;
  /** Posts `message` (connecting first) and resolves to its answer; a `sw-outbox/error` answer rejects. */
  post(message: PageMessage): Promise<WorkerReply>;
  /** Hands a reply that came as a message to the page to the post waiting for it. */
  reply(envelope: ReplyEnvelope): void;
  /** Ends the fallback's worker, if one was started. */
  close(): void;
}

/** One worker, reached by posting: the service worker, or the fallback's dedicated worker. */
interface Transport {
  mode: Mode;
  post(message: PageMessage): Promise<WorkerReply>;
  close?(): void;
}

/** A post that got no answer is sent again after this many ms times its attempt number. */
export const RETRY_STEP_MS = 100;

/** `promise`, or a rejection after `ms`. */
const timeout = <T>(promise: Promise<T>, ms: number): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(Error(`no answer within ${ms} ms`)), ms))]);

/**
 * The connection to the outbox of this page's dispatcher. `onMessage` hears what the
 * fallback's worker sends (replies and broadcast events, as the service worker's come to
 * the page's `navigator.serviceWorker`).
 * Longer than a function should be (~125 lines): `fallback` shares its state (the replies, the
 * request ids, transportTo); as a top-level function taking them it cost the page entry
 * 10 B of gzip it cannot spare (the package test's budget).
 */
export function createConnection(settings: Settings, onMessage: (event: MessageEvent) => void): Connection {
  const replies = new Map<number, (reply: WorkerReply) => void>();
  // Request ids: every dispatcher of the page hears every reply, so each starts at random.
  let lastRid = Math.floor(Math.random() * 2 ** 40);
  // The transport in use; one that failed to start is forgotten, so the next message tries afresh.
  let transport: Promise<Transport> | undefined;

  // Posts and waits for the answer; posts again (same ids) if none comes.
  const transportTo = (mode: Mode, target: () => unknown, close?: () => void): Transport => ({
    mode,
    close,
    async post(message) {
      let error: unknown;
      for (let attempt = 1; attempt <= settings.maxPostAttempts; attempt++) {
        try {
          const rid = ++lastRid;
          const worker = target() as ServiceWorker;
          worker.postMessage({ ...message, rid });
          // The answer comes back as a ReplyEnvelope to this page (connection.reply); a
          // worker still installing may instead fail its install (then no answer would come).
          return await timeout(
            new Promise<WorkerReply>((resolve, reject) => {
              replies.set(rid, resolve);
              if (worker.state === 'installing') {
                worker.addEventListener('statechange', () => worker.state === 'redundant' && reject(Error('the worker failed to install')));
              }
            }),
            settings.ackTimeoutMs,
          ).finally(() => replies.delete(rid));
        } catch (e) {
          error = e;
          await new Promise((r) => setTimeout(r, RETRY_STEP_MS * attempt));
        }
      }
      throw error;
    },
  });

  const use = (next: Promise<Transport>): Promise<Transport> => {
    transport = next;
    next.then(
      (t) => (connection.mode = t.mode),
      () => transport === next && (transport = undefined),
    );
    return next;
  };
  const getTransport = (): Promise<Transport> =>
    transport ??
    use(
      timeout(findWorker(settings), settings.registrationTimeoutMs)
        .then((pick) => transportTo('service-worker', pick))
        .catch(fallback),
    );

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

  // No service worker: the same engine and store in a dedicated worker. It is a file of
  // the package (dist/fallback.js, self-contained) that bundlers copy as an asset for
  // `new URL(..., import.meta.url)`, and only such a browser loads it.
  async function fallback(cause: unknown): Promise<Transport> {
    const { fallback: options, swUrl } = settings;
    if (options === false) fail('worker-unavailable', `no service worker: ${(cause as Error)?.message ?? cause}`, cause);
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
        v: PROTOCOL_VERSION,
        // Explicit options (checked strictly there), else the worker URL, whose query the
        // fallback reads only where it is the ready-made worker's (fallbackOptionsFromUrl).
        options,
        url: swUrl?.href,
      }),
    ]);
    if (reply.type === 'sw-outbox/error') fail(reply.code as OutboxErrorCode, reply.message);
    return t;
  }

  const connection: Connection = {
    async post(message) {
      let t = await connect();
      let reply: WorkerReply;
      try {
        reply = await t.post(message);
      } catch (error) {
        if (t.mode !== 'service-worker')
          throw fail('worker-unavailable', `the fallback did not answer: ${(error as Error)?.message}`, error);
        // The service worker went silent: the fallback takes the message (same store, same ids).
        t = await use(fallback(error));
        reply = await t.post(message);
      }
      return reply.type === 'sw-outbox/error' ? fail(reply.code as OutboxErrorCode, reply.message) : reply;
    },
    reply: ({ rid, reply }) => replies.get(rid)?.(reply),
    close: () =>
      void transport?.then(
        (t) => t.close?.(),
        () => {},
      ),
  };
  return connection;
}

/**
 * Resolves to a function giving the newest worker that can take messages (an installing
 * one can: first visit).
 */
async function findWorker({ serviceWorker: sw, scope }: Settings): Promise<() => ServiceWorker | null | undefined> {
  const container = navigator.serviceWorker;
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
