// Type tests of the service-worker entry, `sw-outbox/worker` (lib WebWorker). Checked by
// `npm run typecheck:types` against dist/types; nothing here runs.
import {
  type DeadLetterPage,
  type DiscardResult,
  installOutbox,
  OutboxError,
  type OutboxErrorCode,
  type OutboxHandle,
  type OutboxOptions,
  optionsFromQuery,
  type RequeueResult,
  type Stats,
  type StorageUsage,
  SYNC_TAG,
} from 'sw-outbox/worker';
import { type Equal, expectType } from './expect.js';

declare const self: ServiceWorkerGlobalScope;

const outbox = installOutbox();
expectType<Equal<typeof outbox, OutboxHandle>>();
installOutbox({
  endpoints: ['https://logx.optimizely.com', 'https://collector.example/v1/'],
  backoff: { baseMs: 1000, maxMs: 300_000 },
  maxAgeMs: 7 * 24 * 3600_000,
  maxQueueSize: 10_000,
  overflow: 'drop-oldest',
  timeoutMs: 30_000,
  batching: 'off',
  credentials: 'omit',
  maxDeadLetters: 1000,
  maxBodyBytes: 1 << 20,
  concurrency: 4,
  idHeader: 'X-Event-Id',
});
installOutbox({ backoff: { baseMs: 500 }, overflow: 'reject-new', credentials: 'include', idHeader: false });
installOutbox(optionsFromQuery(self.location.search));
expectType<Equal<ReturnType<typeof optionsFromQuery>, OutboxOptions>>();

// @ts-expect-error endpoints is a list
installOutbox({ endpoints: 'https://logx.optimizely.com' });
// @ts-expect-error overflow is 'drop-oldest' or 'reject-new'
installOutbox({ overflow: 'drop-newest' });
installOutbox({ batching: 'optimizely', batchMaxVisitors: 50, batchMaxBytes: 65_536, dedupeWindowMs: 3_600_000 });
// @ts-expect-error batching is 'off' or 'optimizely'
installOutbox({ batching: 'segment' });
// @ts-expect-error credentials is a RequestCredentials
installOutbox({ credentials: 'always' });
// @ts-expect-error backoff is an object
installOutbox({ backoff: 1000 });
// @ts-expect-error unknown option
installOutbox({ retries: 3 });

expectType<Equal<ReturnType<OutboxHandle['flush']>, Promise<void>>>();
expectType<Equal<ReturnType<OutboxHandle['stats']>, Promise<Stats>>>();
expectType<Equal<ReturnType<OutboxHandle['clear']>, Promise<void>>>();
expectType<Equal<ReturnType<OutboxHandle['uninstall']>, void>>();
// The worker's stats() reports the origin's storage too (persisted(), estimate()); persist() is the page's.
void outbox.stats().then((s) => {
  expectType<Equal<typeof s.persisted, boolean | null>>();
  expectType<Equal<typeof s.storage, StorageUsage | null>>();
});
// @ts-expect-error only a page can ask for persistence: the handle has no persistStorage
void outbox.persistStorage();
expectType<Equal<ReturnType<OutboxHandle['deadLetters']>, Promise<DeadLetterPage>>>();
expectType<Equal<ReturnType<OutboxHandle['retryDeadLetters']>, Promise<RequeueResult>>>();
expectType<Equal<ReturnType<OutboxHandle['discardDeadLetters']>, Promise<DiscardResult>>>();
void outbox.deadLetters({ limit: 10 }).then((p) => outbox.retryDeadLetters(p.letters.map((l) => l.id)));
// @ts-expect-error limit is a number
void outbox.deadLetters({ limit: '10' });
// The handle is usable from the app's own listeners.
self.addEventListener('message', (event) => {
  if ((event.data as { type?: unknown } | null)?.type === 'APP_FLUSH') event.waitUntil(outbox.flush());
});

// The sync tag is a literal, namespaced.
const tag: 'sw-outbox:deliver' = SYNC_TAG;
expectType<Equal<typeof tag, typeof SYNC_TAG>>();
const err = new OutboxError('invalid-option', 'x');
expectType<Equal<typeof err.code, OutboxErrorCode>>();

// @ts-expect-error createDispatcher lives in 'sw-outbox'
import { createDispatcher } from 'sw-outbox/worker';
void createDispatcher;
