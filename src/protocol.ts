// The wire format between pages and the service worker. Types only: no DOM, no worker
// globals, so both sides (and the no-service-worker fallback) share it.
//
// Every message carries `type` (namespaced so it cannot collide with Workbox's own
// `SKIP_WAITING` / `messageSW` traffic) and `v`, the protocol version. A receiver ignores
// messages whose `type` is not its own and answers a version it does not speak with an
// error, never a crash.

import type { Stats, DeadLetterPage, RequeueResult, DiscardResult, OutboxEvents, OutboxEventName } from './outbox-types.js';

// The public shapes the replies carry, for either side's imports.
export type {
  OutboxMode,
  Stats,
  StorageUsage,
  DestinationStats,
  DeliveredDetail,
  RetryDetail,
  DeadLetterReason,
  DeadLetterDetail,
  DroppedDetail,
  DegradedDetail,
  RequeuedDetail,
  DiscardedDetail,
  DeadLetter,
  DeadLettersQuery,
  DeadLetterPage,
  RequeueResult,
  DiscardResult,
  OutboxEvents,
  OutboxEventName,
} from './outbox-types.js';

export const PROTOCOL_VERSION = 1;
/** Most events one enqueue message may carry. */
export const MAX_EVENTS_PER_MESSAGE = 1000;
export const MESSAGE_PREFIX = 'sw-outbox/';
/** The Web Lock held while a flusher pass runs (by a service worker, or a page without one). */
export const FLUSH_LOCK = 'sw-outbox:flush';

/** One event as it travels from page to worker: the body is already serialised. */
export interface WireEvent {
  /** Stable id, made on the page; enqueueing the same id twice stores it once. */
  id: string;
  url: string;
  /** The Optimizely event's `httpVerb`, checked by the worker (only POST). */
  verb?: unknown;
  /** `JSON.stringify(params)`, made once on the page and never touched again. */
  body: string;
  /**
   * Given to `dispatchEvent` (not `send`): the same event again (same URL and Optimizely
   * event uuids, or same body) within the worker's `dedupeWindowMs` is stored once.
   */
  dedupe?: boolean;
}

export interface EnqueueMessage {
  type: 'sw-outbox/enqueue';
  v: number;
  events: WireEvent[];
  /** The dispatcher's endpoint rewriting: URL prefix → replacement (absolute, or relative to `base`). */
  rewrite?: Record<string, string>;
  /** The page's URL, for relative replacements. */
  base?: string;
  /** The dispatcher's own body limit (the smaller of it and the worker's applies). */
  maxBodyBytes?: number;
  /**
   * Asks for the compact reply: `failed` (the refused events only) instead of `results`
   * (one per event, whose cloning is most of a reply's cost on the page). Without it (a
   * page of an older version), the reply has `results`.
   */
  failedOnly?: boolean;
}
export interface FlushMessage {
  type: 'sw-outbox/flush';
  v: number;
}
export interface StatsMessage {
  type: 'sw-outbox/stats';
  v: number;
}
/** A page saw connectivity come back (or became visible): events held only by network failures are due now. */
export interface OnlineMessage {
  type: 'sw-outbox/online';
  v: number;
}
/** Any message starts a stopped worker; this one asks for a pass for what is due, and is answered with stats. */
export interface WakeMessage {
  type: 'sw-outbox/wake';
  v: number;
}
export interface ClearMessage {
  type: 'sw-outbox/clear';
  v: number;
}
/** One page of dead letters, newest first (see DeadLettersQuery). Answered with a ResultReply of a DeadLetterPage. */
export interface DeadLettersMessage {
  type: 'sw-outbox/dead-letters';
  v: number;
  /** The query (DeadLettersQuery), checked by the worker. */
  arg?: unknown;
}
/** Dead letters back to the queue: these ids, or all when `ids` is absent. Answered with a ResultReply of a RequeueResult. */
export interface RetryDeadLettersMessage {
  type: 'sw-outbox/retry-dead-letters';
  v: number;
  /** The event ids (string[]), checked by the worker; absent: all. */
  arg?: unknown;
}
/** Dead letters deleted for good: these ids, or all when `ids` is absent. Answered with a ResultReply of a DiscardResult. */
export interface DiscardDeadLettersMessage {
  type: 'sw-outbox/discard-dead-letters';
  v: number;
  /** The event ids (string[]), checked by the worker; absent: all. */
  arg?: unknown;
}

/**
 * Page → the dedicated worker of the no-service-worker fallback, first message: its
 * options. `options`: the dispatcher's explicit `fallback` (installOutbox options,
 * checked strictly); without them, `url`: the service worker's script URL, whose query
 * string counts only where it is the ready-made worker's options (fallbackOptionsFromUrl).
 */
export interface ConfigureMessage {
  type: 'sw-outbox/configure';
  v: number;
  options?: unknown;
  url?: string;
}

export type PageMessage =
  | EnqueueMessage
  | FlushMessage
  | StatsMessage
  | OnlineMessage
  | WakeMessage
  | ClearMessage
  | ConfigureMessage
  | DeadLettersMessage
  | RetryDeadLettersMessage
  | DiscardDeadLettersMessage;

export type EnqueueResult = { id: string; ok: true } | { id: string; ok: false; code: string; message: string };

/** An event the worker refused, by its position `i` in the message's `events`. */
export interface EnqueueFailure {
  i: number;
  code: string;
  message: string;
}

export interface EnqueueReply {
  type: 'sw-outbox/enqueued';
  v: number;
  /** One per event, in order (when the message did not ask for `failedOnly`). */
  results?: EnqueueResult[];
  /** With `failedOnly`: the refused events only; every other event is stored. */
  failed?: EnqueueFailure[];
}
export interface StatsReply {
  type: 'sw-outbox/stats';
  v: number;
  stats: Stats;
}
export interface DoneReply {
  type: 'sw-outbox/done';
  v: number;
}
export interface ErrorReply {
  type: 'sw-outbox/error';
  v: number;
  code: string;
  message: string;
}
/** The answer to a dead-letter message: a DeadLetterPage, RequeueResult or DiscardResult. */
export interface ResultReply {
  type: 'sw-outbox/result';
  v: number;
  result: DeadLetterPage | RequeueResult | DiscardResult;
}
export type WorkerReply = EnqueueReply | StatsReply | DoneReply | ErrorReply | ResultReply;

/**
 * A reply to a message that carried a request id `rid` and no port: sent back to the
 * page's client (no MessageChannel per message: that is most of a message's cost).
 */
export interface ReplyEnvelope {
  type: 'sw-outbox/reply';
  rid: number;
  reply: WorkerReply;
}

export type BroadcastMessage = {
  [K in OutboxEventName]: { type: 'sw-outbox/event'; v: number; name: K; detail: OutboxEvents[K] };
}[OutboxEventName];
