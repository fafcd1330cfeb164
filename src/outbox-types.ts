// The public shapes the outbox answers with: stats(), the events of on(), dead letters and
// what retrying or discarding them did. Types only; the wire messages that carry them are
// in protocol.ts (which re-exports these), the page and the worker export them to users.

/**
 * Where events are kept and sent from: a service worker; the page's fallback (a
 * dedicated worker, same store); or only memory (`memory`: IndexedDB is blocked).
 */
export type OutboxMode = 'service-worker' | 'page' | 'memory';

/** Counts kept in IndexedDB, so they survive worker and browser restarts. */
export interface Stats {
  mode: OutboxMode;
  /** True when events are kept only in memory (storage is blocked): they live as long as the page. */
  degraded: boolean;
  /** Events stored and not yet delivered. */
  queued: number;
  /** Events in the dead-letter store (permanent errors, expired). */
  deadLettered: number;
  /** Events removed without delivery: queue overflow, dead-letter store overflow. */
  dropped: number;
  /** Events delivered with a 2xx. */
  delivered: number;
  /** Failed attempts that were rescheduled. */
  retried: number;
  /** Dead letters put back in the queue by `retryDeadLetters()`. */
  requeued: number;
  /** Dead letters deleted by `discardDeadLetters()`. */
  discarded: number;
  /** Requests being sent right now by this worker. */
  inFlight: number;
  /** Epoch ms of the earliest scheduled retry, or null when nothing waits. */
  nextAttemptAt: number | null;
  /**
   * Per destination (an origin): those with events queued, or tried or held since the
   * worker started. Each is delivered, backed off and held on its own.
   */
  destinations: DestinationStats[];
  /**
   * Whether the browser keeps this origin's storage (the outbox's IndexedDB with it)
   * until the user deletes it: `navigator.storage.persisted()`, asked where the outbox
   * runs. `false`: best-effort, evictable under storage pressure (and, in Safari, deleted
   * after 7 days of use without a visit). `null`: the browser cannot tell (no Storage API:
   * not a secure context, an old browser; or a worker of an older version). Ask for it
   * with the dispatcher's `persistStorage()`.
   */
  persisted: boolean | null;
  /**
   * `navigator.storage.estimate()` where the outbox runs: bytes this origin uses (all its
   * IndexedDB and caches, not the outbox's alone) and may use; an estimate, padded by the
   * browser. `null` where the browser has no estimate (Safari before 17), or it failed.
   */
  storage: StorageUsage | null;
}

/** `navigator.storage.estimate()`, in bytes, for the whole origin. */
export interface StorageUsage {
  usage: number;
  quota: number;
}

export interface DestinationStats {
  /** The origin, e.g. `https://logx.optimizely.com`. */
  destination: string;
  /** Events queued for it. */
  queued: number;
  /** Epoch ms when it is next tried: the end of its hold, now (past) when due, null when nothing waits. */
  nextAttemptAt: number | null;
  /** Why it is held back (`server`: a retryable status or `Retry-After`; `timeout`; `network`; `offline`), or null. */
  heldFor: 'server' | 'timeout' | 'network' | 'offline' | null;
  /** The status of its last answer (0: a network error or a timeout), null before any attempt by this worker. */
  lastStatus: number | null;
  /** Epoch ms of its last attempt by this worker, or null. */
  lastAttemptAt: number | null;
}

export interface DeliveredDetail {
  ids: string[];
  status: number;
}
export interface RetryDetail {
  ids: string[];
  /** HTTP status, or 0 for a network error or timeout. */
  status: number;
  reason: 'server' | 'network' | 'offline' | 'timeout';
  nextAttemptAt: number;
}
/**
 * Why an event went to the dead-letter store: a permanent HTTP status, older than
 * maxAgeMs, or a stored record that cannot be sent (corrupted, or its URL is not, or no
 * longer, in the worker's endpoints).
 */
export type DeadLetterReason = 'permanent' | 'expired' | 'invalid';

export interface DeadLetterDetail {
  ids: string[];
  status: number;
  reason: DeadLetterReason;
}
export interface DroppedDetail {
  ids: string[];
  reason: 'overflow' | 'dead-letter-overflow';
}

export interface DegradedDetail {
  reason: string;
}
/** Dead letters put back in the queue (due now, attempts reset, the same ids). */
export interface RequeuedDetail {
  ids: string[];
}
/** Dead letters deleted for good. */
export interface DiscardedDetail {
  ids: string[];
}

/**
 * One event of the dead-letter store, as `deadLetters()` lists it.
 * `reason`: `'http-4xx'` (refused with a 4xx status that is not retried), `'http-status'`
 * (refused with another status that is not retried: 1xx, 3xx, 501…), `'expired'` (older
 * than maxAgeMs before it was delivered) or `'invalid'` (a stored record that cannot be
 * sent: corrupted, or its URL is not, or no longer, in the worker's endpoints).
 */
export interface DeadLetter {
  /** The event's stable id (the same id again if it is sent again). */
  id: string;
  url: string;
  /** The body as it would be POSTed (`JSON.stringify(params)`). */
  body: string;
  /** The HTTP status of the last answer: the refusal, or for `expired` the last retried status; 0 if none (network errors, never tried). */
  status: number;
  reason: 'http-4xx' | 'http-status' | 'expired' | 'invalid';
  /** Why, in words, when the status alone does not say (`invalid`). */
  detail?: string;
  /** Attempts made (requests that carried it). */
  attempts: number;
  /** Epoch ms of its first and last attempt; null if it was never tried (or, for events stored by an older version, not known). */
  firstAttemptAt: number | null;
  lastAttemptAt: number | null;
  /** Epoch ms when it was stored, and when it went to the dead-letter store. */
  createdAt: number;
  deadAt: number;
}
/** `deadLetters()` options: at most `limit` letters (1 to 1000, default 100), those after the cursor `before`. */
export interface DeadLettersQuery {
  limit?: number | undefined;
  /** The `next` cursor of the previous page (undefined: the first page). */
  before?: string | undefined;
}
/** One page of dead letters, newest first (by the order events were stored); `next` is the cursor for the following page (`before`), null on the last one. */
export interface DeadLetterPage {
  letters: DeadLetter[];
  next: string | null;
}
/** What `retryDeadLetters()` did, by event id. */
export interface RequeueResult {
  /** Back in the queue, due now, attempts reset. */
  requeued: string[];
  /** Left in the dead-letter store: an event with the same id (or the same Optimizely event uuids) is queued already, and goes instead. */
  alreadyQueued: string[];
  /** Left in the dead-letter store: the queue is at maxQueueSize (a dead letter never evicts a queued event). */
  queueFull: string[];
  /** Asked for, and not in the dead-letter store. */
  notFound: string[];
}
/** What `discardDeadLetters()` did, by event id. */
export interface DiscardResult {
  discarded: string[];
  notFound: string[];
}

export interface OutboxEvents {
  delivered: DeliveredDetail;
  retry: RetryDetail;
  'dead-letter': DeadLetterDetail;
  dropped: DroppedDetail;
  stats: Stats;
  /** Events are kept only in memory from now on (IndexedDB is blocked). */
  degraded: DegradedDetail;
  /** `retryDeadLetters()` put these back in the queue. */
  requeued: RequeuedDetail;
  /** `discardDeadLetters()` deleted these. */
  discarded: DiscardedDetail;
}
export type OutboxEventName = keyof OutboxEvents;
