// The page the Optimizely end-to-end tests drive (e2e/optimizely*.spec.ts). It imports the
// *built* package (dist/, like an installed dependency) and the real SDKs: v6
// (`@optimizely/optimizely-sdk`), v5 and v4 (npm aliases `optimizely-sdk-v5`,
// `optimizely-sdk-v4`), with the bundled datafile (./datafile.ts). Nothing here talks to
// Optimizely: the SDKs address every event to https://logx.optimizely.com/v1/events and
// the dispatcher's `rewrite` sends it to the test collector instead.
//
// `window.harness.start(options)` sets up one SDK with `createDispatcher(...)` as its
// dispatcher; every call the SDK makes to `dispatchEvent` is recorded (`calls`, with
// `JSON.stringify(event.params)`, the exact body the collector must receive), and every
// answer it gets (`answers`). `?snippet=v6` instead runs a README snippet as it is
// (./snippets/), exposing what it exports as `window.snippet`.
import * as v6 from '@optimizely/optimizely-sdk';
import * as v5 from 'optimizely-sdk-v5';
import * as v4 from 'optimizely-sdk-v4';
import { closingDispatcher, createDispatcher, type Dispatcher } from 'sw-outbox';
import { datafile, datafileObject, EVENT_KEY, EXPERIMENT_KEY, FLAG_KEY } from './datafile';

export type SdkName = 'v4' | 'v5' | 'v6-forwarding' | 'v6-batch';
/** What the SDK hears back from a dispatch (v6 only; v4/v5 always get the dispatcher's answer). */
export type AckMode =
  | 'pass' // the dispatcher's own answer
  | 'lost-once' // the first call of each body is enqueued, then the SDK is told 500 (a lost ack): it retries
  | 'hold'; // enqueued, but the SDK never hears back (as if the page unloaded first)

export interface StartOptions {
  sdk: SdkName;
  /** The query string of `/sw.js` (the ready-made worker's options). */
  sw: string;
  /** `createDispatcher`'s `rewrite` option. */
  rewrite: Record<string, string>;
  /** SDK batching: v4/v5 `eventBatchSize`, v6 batch processor `batchSize`. */
  batchSize?: number;
  /** SDK batching: v4/v5 `eventFlushInterval`, v6 batch processor `flushInterval` (ms). */
  flushInterval?: number;
  /** v6 batch processor `maxRetries`. */
  maxRetries?: number;
  ack?: AckMode;
  /** v6 batch processor: `closingEventDispatcher: closingDispatcher(dispatcher)`, its calls recorded in `closingCalls`. */
  closing?: boolean;
}

export interface Call {
  url: string;
  httpVerb: string;
  body: string;
}

interface Client {
  decide(user: string): string | null;
  activate(user: string): string | null;
  track(user: string, tags?: Record<string, unknown>): void;
  close(): Promise<unknown>;
}

export interface Harness {
  datafileObject: typeof datafileObject;
  /** Every dispatchEvent call the SDK made, in order. */
  calls: Call[];
  /** Every answer the SDK got: the callback's argument (v4/v5) or the promise's outcome (v6). */
  answers: unknown[];
  /** Every call the SDK made to its closingEventDispatcher (`closing: true`). */
  closingCalls: Call[];
  dispatcher?: Dispatcher;
  client?: Client;
  start(options: StartOptions): Promise<void>;
  /** Decides the flag for each user (one impression each); returns the variation keys. */
  decide(users: string[]): (string | null)[];
  /** v4/v5 legacy `activate` of the A/B test (one impression each). */
  activate(users: string[]): (string | null)[];
  /** Tracks `purchase` for each user (one conversion each). */
  track(users: string[], tags?: Record<string, unknown>): void;
  /** Hands hand-made params to the dispatcher, as an SDK would. */
  dispatchRaw(params: unknown[]): Promise<unknown[]>;
  /** The SDK's persisted-event store (v6 batch processor): its keys in localStorage. */
  storedEventKeys(): string[];
  close(): Promise<void>;
}

declare global {
  interface ImportMeta {
    /** Vite's lazy glob import (the e2e program has no vite/client types). */
    glob<T>(patterns: string[]): Record<string, () => Promise<T>>;
  }
  interface Window {
    harness: Harness;
    snippet?: { dispatcher: Dispatcher; optimizely: unknown };
    snippetError?: string;
  }
}

const SDK_URL = 'https://logx.optimizely.com/v1/events';
const attributes = { plan: 'pro ✓' };
const calls: Call[] = [];
const answers: unknown[] = [];
const closingCalls: Call[] = [];

function recordCall(event: { url: string; httpVerb?: string; params: unknown }): void {
  calls.push({ url: event.url, httpVerb: String(event.httpVerb), body: JSON.stringify(event.params) });
}

/**
 * The dispatcher, given to the SDK itself (not a wrapper): its `dispatchEvent` is
 * replaced by one that records the call and the answer, then calls the original.
 */
function instrument(dispatcher: Dispatcher): Dispatcher {
  const original = dispatcher.dispatchEvent;
  dispatcher.dispatchEvent = (event, callback) => {
    recordCall(event);
    const answer = (response: unknown) => void answers.push(response);
    if (callback) {
      return original(event, (response) => {
        answer(response);
        callback(response);
      });
    }
    return original(event).then(
      (response) => {
        answer(response);
        return response;
      },
      (error: Error) => {
        answer({ error: error.message });
        throw error;
      },
    );
  };
  return dispatcher;
}

/** A v6 EventDispatcher in front of the (instrumented) dispatcher, for the ack modes. */
function withAck(dispatcher: Dispatcher, ack: AckMode): v6.EventDispatcher {
  if (ack === 'pass') return dispatcher as v6.EventDispatcher;
  const seen = new Set<string>();
  return {
    async dispatchEvent(event) {
      const response = await dispatcher.dispatchEvent(event);
      if (ack === 'hold') return new Promise<never>(() => {});
      const body = JSON.stringify(event.params);
      if (seen.has(body)) return response;
      seen.add(body);
      return { statusCode: 500 };
    },
  };
}

function legacyClient(client: v5.Client | v4.Client | null): Client {
  if (!client) throw new Error('createInstance returned null');
  return {
    decide: (user) => client.createUserContext(user, attributes)?.decide(FLAG_KEY).variationKey ?? null,
    activate: (user) => client.activate(EXPERIMENT_KEY, user, attributes),
    track: (user, tags) => client.track(EVENT_KEY, user, attributes, tags as v5.EventTags),
    close: () => client.close(),
  };
}

async function start(o: StartOptions): Promise<void> {
  const raw = createDispatcher({ serviceWorker: `/sw.js?${o.sw}`, rewrite: o.rewrite });
  // (Made before `instrument` replaces dispatchEvent: the closing dispatcher is the package's own.)
  const closing = closingDispatcher(raw);
  const dispatcher = instrument(raw);
  harness.dispatcher = dispatcher;
  const batching = { batchSize: o.batchSize ?? 1, flushInterval: o.flushInterval ?? 100 };
  let client: Client;
  if (o.sdk === 'v4') {
    // No sdkKey: no datafile manager, no polling. v4 has no ODP.
    client = legacyClient(
      v4.createInstance({
        datafile,
        eventDispatcher: dispatcher,
        eventBatchSize: batching.batchSize,
        eventFlushInterval: batching.flushInterval,
        logLevel: 'error',
      }),
    );
  } else if (o.sdk === 'v5') {
    // No sdkKey: no polling; odpOptions.disabled: no ODP manager (no VUID, no ODP requests).
    client = legacyClient(
      v5.createInstance({
        datafile,
        eventDispatcher: dispatcher,
        eventBatchSize: batching.batchSize,
        eventFlushInterval: batching.flushInterval,
        odpOptions: { disabled: true },
        logLevel: 'error',
      }),
    );
  } else {
    // A static config manager: no polling. No odpManager and no vuidManager: both are
    // opt-in in v6, so the SDK makes no requests of its own.
    const eventDispatcher = withAck(dispatcher, o.ack ?? 'pass');
    const eventProcessor =
      o.sdk === 'v6-forwarding'
        ? v6.createForwardingEventProcessor(eventDispatcher)
        : v6.createBatchEventProcessor({
            eventDispatcher,
            batchSize: batching.batchSize,
            flushInterval: batching.flushInterval,
            ...(o.maxRetries === undefined ? {} : { maxRetries: o.maxRetries }),
            ...(o.closing
              ? {
                  closingEventDispatcher: {
                    dispatchEvent(event: v6.LogEvent) {
                      closingCalls.push({ url: event.url, httpVerb: String(event.httpVerb), body: JSON.stringify(event.params) });
                      return closing.dispatchEvent(event);
                    },
                  },
                }
              : {}),
          });
    const sdk = v6.createInstance({
      projectConfigManager: v6.createStaticProjectConfigManager({ datafile }),
      eventProcessor,
      logger: v6.createLogger({ level: v6.ERROR }),
    });
    await sdk.onReady({ timeout: 5000 });
    client = {
      decide: (user) => sdk.createUserContext(user, attributes).decide(FLAG_KEY).variationKey,
      activate: () => {
        throw new Error('activate: v4/v5 only in this harness');
      },
      track: (user, tags) => sdk.createUserContext(user, attributes).trackEvent(EVENT_KEY, tags as v6.EventTags),
      close: () => sdk.close(),
    };
  }
  harness.client = client;
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`harness: call start() first (${what})`);
  return value;
}

const harness: Harness = {
  datafileObject,
  calls,
  answers,
  closingCalls,
  start,
  decide: (users) => users.map((u) => need(harness.client, 'decide').decide(u)),
  activate: (users) => users.map((u) => need(harness.client, 'activate').activate(u)),
  track: (users, tags) => {
    for (const u of users) need(harness.client, 'track').track(u, tags);
  },
  dispatchRaw: (list) =>
    Promise.all(
      list.map((params) =>
        need(harness.dispatcher, 'dispatchRaw')
          .dispatchEvent({ url: SDK_URL, httpVerb: 'POST', params })
          .then(
            (r) => r,
            (e: Error & { code?: string }) => ({ error: e.code ?? e.message }),
          ),
      ),
    ),
  storedEventKeys: () => Object.keys(localStorage).filter((k) => k.startsWith('optly_event:')),
  async close() {
    await harness.client?.close();
    await harness.dispatcher?.close();
  },
};
window.harness = harness;

// ?snippet=<name>: run a README snippet exactly as written. A glob, not import(): the
// type-checker must not follow it, since snippets/v4.ts and v5.ts are checked against the
// v4 and v5 types in programs of their own (snippets/tsconfig.v4.json, tsconfig.v5.json).
type SnippetModule = { dispatcher: Dispatcher; optimizely: unknown };
const snippets = import.meta.glob<SnippetModule>(['./snippets/v*.ts']);
const snippet = new URLSearchParams(location.search).get('snippet');
if (snippet !== null) {
  const load = snippets[`./snippets/${snippet}.ts`];
  if (!load) window.snippetError = `no snippet ${snippet}`;
  else
    load().then(
      (m) => (window.snippet = m),
      (e: Error) => (window.snippetError = e.message),
    );
}
