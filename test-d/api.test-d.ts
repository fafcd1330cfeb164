// Type tests of the page entry, `sw-outbox`: what compiles, and (@ts-expect-error) what
// must not. Checked by `npm run typecheck:types` against dist/types; nothing here runs.
import {
  type ClosingDispatcher,
  closingDispatcher,
  createDispatcher,
  type DeadLetter,
  type DeadLetterDetail,
  type DeadLetterPage,
  type DeadLettersQuery,
  type DiscardedDetail,
  type DiscardResult,
  type DegradedDetail,
  type DeliveredDetail,
  type Dispatcher,
  type DispatcherOptions,
  type DispatchResponse,
  type DroppedDetail,
  OutboxError,
  type OutboxErrorCode,
  type OutboxEvent,
  type OutboxEventName,
  type OutboxEvents,
  type OutboxMode,
  type RequeuedDetail,
  type RequeueResult,
  type RetryDetail,
  type Stats,
  type StorageUsage,
} from 'sw-outbox';
import { Workbox } from 'workbox-window';
import { type Equal, expectType } from './expect.js';

declare const registration: ServiceWorkerRegistration;

// --- createDispatcher: every accepted form of `serviceWorker` -------------------------
const dispatcher = createDispatcher({ serviceWorker: '/sw.js' });
expectType<Equal<typeof dispatcher, Dispatcher>>();
createDispatcher({ serviceWorker: new URL('/sw.js', location.href), scope: '/' });
createDispatcher({ serviceWorker: new Workbox('/sw.js') });
createDispatcher({ serviceWorker: registration, ackTimeoutMs: 5000, maxPostAttempts: 2, maxBodyBytes: 1024, wakeIntervalMs: 1000 });
const options: DispatcherOptions = { serviceWorker: '/sw.js' };
createDispatcher(options);

// @ts-expect-error serviceWorker is required
createDispatcher({});
// @ts-expect-error options are required
createDispatcher();
// @ts-expect-error serviceWorker is a URL, a Workbox or a registration, not a number
createDispatcher({ serviceWorker: 1 });
// @ts-expect-error unknown option
createDispatcher({ serviceWorker: '/sw.js', endpoints: ['https://x.example'] });
// @ts-expect-error ackTimeoutMs is a number
createDispatcher({ serviceWorker: '/sw.js', ackTimeoutMs: '10s' });

// --- dispatchEvent: Optimizely v6 (promise) and v3–v5 (callback) ----------------------
const event: OutboxEvent = { url: 'https://logx.optimizely.com/v1/events', httpVerb: 'POST', params: { visitors: [] } };
expectType<Equal<ReturnType<Dispatcher['dispatchEvent']>, Promise<DispatchResponse>>>();
void dispatcher.dispatchEvent(event).then((response) => expectType<Equal<typeof response.statusCode, number>>());
void dispatcher.dispatchEvent(event, (response) => expectType<Equal<typeof response, DispatchResponse>>());
// @ts-expect-error params is required
void dispatcher.dispatchEvent({ url: 'https://x.example/', httpVerb: 'POST' });
// @ts-expect-error url is required
void dispatcher.dispatchEvent({ httpVerb: 'POST', params: {} });
// @ts-expect-error the callback takes a {statusCode} object
void dispatcher.dispatchEvent(event, (status: string) => status);

// The Optimizely SDK's EventDispatcher shapes are satisfied structurally.
interface SdkV6EventDispatcher {
  dispatchEvent(event: { url: string; httpVerb: 'POST' | 'GET'; params: unknown }): Promise<{ statusCode?: number }>;
}
interface SdkV5EventDispatcher {
  dispatchEvent(
    event: { url: string; httpVerb: 'POST' | 'GET'; params: unknown },
    callback: (response: { statusCode: number }) => void,
  ): void;
}
const asV6: SdkV6EventDispatcher = dispatcher;
const asV5: SdkV5EventDispatcher = dispatcher;
void asV6;
void asV5;

// closingDispatcher: the v6 batch processor's `closingEventDispatcher` (promise form only).
const closing = closingDispatcher(dispatcher);
expectType<Equal<typeof closing, ClosingDispatcher>>();
expectType<Equal<ReturnType<ClosingDispatcher['dispatchEvent']>, Promise<DispatchResponse>>>();
const closingAsV6: SdkV6EventDispatcher = closing;
void closingAsV6;
// @ts-expect-error it takes a dispatcher
closingDispatcher({});
// @ts-expect-error the promise form only (v6's)
void closing.dispatchEvent(event, () => {});

// --- send, flush, stats, clear, close ------------------------------------------------
expectType<Equal<ReturnType<Dispatcher['send']>, Promise<DispatchResponse>>>();
void dispatcher.send('https://collector.example/v1/events', { any: ['json', 1, true, null] });
// @ts-expect-error the URL is required
void dispatcher.send({ any: 'json' });
expectType<Equal<ReturnType<Dispatcher['flush']>, Promise<void>>>();
expectType<Equal<ReturnType<Dispatcher['stats']>, Promise<Stats>>>();
expectType<Equal<ReturnType<Dispatcher['clear']>, Promise<void>>>();
expectType<Equal<ReturnType<Dispatcher['close']>, Promise<void>>>();
declare const stats: Stats;
expectType<
  Equal<
    Pick<Stats, 'queued' | 'deadLettered' | 'dropped' | 'delivered'>,
    { queued: number; deadLettered: number; dropped: number; delivered: number }
  >
>();
expectType<Equal<typeof stats.nextAttemptAt, number | null>>();

// --- on(name, handler): the detail type follows the name ------------------------------
const off = dispatcher.on('delivered', (d) => expectType<Equal<typeof d, DeliveredDetail>>());
expectType<Equal<typeof off, () => void>>();
dispatcher.on('retry', (d) => expectType<Equal<typeof d, RetryDetail>>());
dispatcher.on('dead-letter', (d) => expectType<Equal<typeof d, DeadLetterDetail>>());
dispatcher.on('dropped', (d) => expectType<Equal<typeof d, DroppedDetail>>());
dispatcher.on('stats', (d) => expectType<Equal<typeof d, Stats>>());
expectType<Equal<OutboxEventName, keyof OutboxEvents>>();
dispatcher.on('degraded', (d) => expectType<Equal<typeof d, DegradedDetail>>());
dispatcher.on('requeued', (d) => expectType<Equal<typeof d, RequeuedDetail>>());
dispatcher.on('discarded', (d) => expectType<Equal<typeof d, DiscardedDetail>>());
expectType<Equal<OutboxEventName, 'delivered' | 'retry' | 'dead-letter' | 'dropped' | 'stats' | 'degraded' | 'requeued' | 'discarded'>>();
expectType<Equal<typeof stats.mode, OutboxMode>>();
expectType<Equal<OutboxMode, 'service-worker' | 'page' | 'memory'>>();
expectType<Equal<typeof stats.degraded, boolean>>();
// The dispatcher's new options: rewrite, fallback (installOutbox options or false), registrationTimeoutMs.
createDispatcher({
  serviceWorker: '/sw.js',
  rewrite: { 'https://logx.optimizely.com/v1/events': '/collect' },
  fallback: { endpoints: ['https://logx.optimizely.com'], batching: 'optimizely', dedupeWindowMs: 0 },
  registrationTimeoutMs: 5000,
});
createDispatcher({ serviceWorker: '/sw.js', fallback: false });
// @ts-expect-error fallback is options or false, not true
createDispatcher({ serviceWorker: '/sw.js', fallback: true });
// @ts-expect-error batching is 'off' or 'optimizely'
createDispatcher({ serviceWorker: '/sw.js', fallback: { batching: 'segment' } });
// @ts-expect-error unknown event name
dispatcher.on('sent', () => {});
// @ts-expect-error the handler of 'delivered' gets DeliveredDetail, not Stats
dispatcher.on('delivered', (d: Stats) => d);

// --- dead letters: listed (paged), sent again, discarded ------------------------------
expectType<Equal<ReturnType<Dispatcher['deadLetters']>, Promise<DeadLetterPage>>>();
expectType<Equal<ReturnType<Dispatcher['retryDeadLetters']>, Promise<RequeueResult>>>();
expectType<Equal<ReturnType<Dispatcher['discardDeadLetters']>, Promise<DiscardResult>>>();
const firstPage = await dispatcher.deadLetters();
const query: DeadLettersQuery = { limit: 50, before: firstPage.next ?? undefined };
void dispatcher.deadLetters(query);
expectType<Equal<typeof firstPage.next, string | null>>();
declare const letter: DeadLetter;
expectType<Equal<typeof letter.reason, 'http-4xx' | 'http-status' | 'expired' | 'invalid'>>();
expectType<Equal<typeof letter.firstAttemptAt, number | null>>();
expectType<Equal<typeof letter.lastAttemptAt, number | null>>();
expectType<
  Equal<
    Pick<DeadLetter, 'id' | 'url' | 'body' | 'status' | 'attempts' | 'createdAt' | 'deadAt'>,
    { id: string; url: string; body: string; status: number; attempts: number; createdAt: number; deadAt: number }
  >
>();
void dispatcher.retryDeadLetters();
void dispatcher.retryDeadLetters(firstPage.letters.map((l) => l.id)).then((r) => expectType<Equal<typeof r.requeued, string[]>>());
void dispatcher.discardDeadLetters(['id']).then((r) => expectType<Equal<keyof typeof r, 'discarded' | 'notFound'>>());
expectType<Equal<keyof RequeueResult, 'requeued' | 'alreadyQueued' | 'queueFull' | 'notFound'>>();
expectType<Equal<Pick<Stats, 'requeued' | 'discarded'>, { requeued: number; discarded: number }>>();
// @ts-expect-error the cursor is the `next` string, not a number
void dispatcher.deadLetters({ before: 12 });
// @ts-expect-error unknown option
void dispatcher.deadLetters({ cursor: 'x' });
// @ts-expect-error ids are strings
void dispatcher.retryDeadLetters([1, 2]);
// @ts-expect-error an array of ids, not one
void dispatcher.discardDeadLetters('id');
const argCode: OutboxErrorCode = 'invalid-argument';
void argCode;

// --- storage the browser keeps: persistStorage(), stats().persisted and .storage ----------
expectType<Equal<ReturnType<Dispatcher['persistStorage']>, Promise<boolean>>>();
void dispatcher.persistStorage().then((granted) => expectType<Equal<typeof granted, boolean>>());
createDispatcher({ serviceWorker: '/sw.js', persistStorage: 'first-event' });
createDispatcher({ serviceWorker: '/sw.js', persistStorage: 'never' });
expectType<Equal<DispatcherOptions['persistStorage'], 'never' | 'first-event' | undefined>>();
// @ts-expect-error persistStorage is 'never' or 'first-event', not a boolean
createDispatcher({ serviceWorker: '/sw.js', persistStorage: true });
// @ts-expect-error not a moment the dispatcher knows
createDispatcher({ serviceWorker: '/sw.js', persistStorage: 'always' });
expectType<Equal<typeof stats.persisted, boolean | null>>();
expectType<Equal<typeof stats.storage, StorageUsage | null>>();
expectType<Equal<StorageUsage, { usage: number; quota: number }>>();
// Narrowed before use: null where the browser cannot tell.
if (stats.storage) expectType<Equal<typeof stats.storage.usage, number>>();
// @ts-expect-error storage may be null
void stats.storage.quota;

// --- errors --------------------------------------------------------------------------
try {
  await dispatcher.dispatchEvent(event);
} catch (error) {
  if (error instanceof OutboxError) {
    expectType<Equal<typeof error.code, OutboxErrorCode>>();
    expectType<Equal<typeof error.name, 'OutboxError'>>();
    // @ts-expect-error codes are a closed union
    if (error.code === 'no-such-code') throw error;
  }
}
const code: OutboxErrorCode = 'queue-full';
// @ts-expect-error not a code
const notACode: OutboxErrorCode = 'queue-overflow';
void code;
void notACode;

// --- the worker entry is not the page's ----------------------------------------------
// @ts-expect-error installOutbox lives in 'sw-outbox/worker'
import { installOutbox } from 'sw-outbox';
void installOutbox;
