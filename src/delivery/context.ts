// The flusher's state, handed to each of its pieces as one typed object (no piece keeps
// state of its own, none captures another's in a closure):
// - what it was given (FlusherOptions: the store, the sender, the clocks, the limits);
// - what it knows of each destination (Dest: its feed, lanes, breaker, probe and hold);
// - the records in hand (read and not settled yet: later reads skip them, they are still
//   queued: nothing is deleted before its 2xx);
// - where the loop is (reading, writing, the session under the lease, kick() callers).
//
// The pieces, in the order an event meets them (each file's header says what it keeps):
//   flusher.ts   the loop: kick(), sessions under the lease, requestRead, settleIfIdle
//   pages.ts     reading due records in pages, a fair share per destination; expiry
//   lanes.ts     a destination's lanes: feed → send → answer
//   settle.ts    an answer's outcomes → settlements written, then events announced
//   breaker.ts   a destination's breaker, probe and hold (persisted); offline holds
//   timer.ts     the timer armed for the next attempt
//   jumps.ts     the wall clock's jumps: holds moved, the store rebased
// Lower pieces reach the loop through `requestRead` and `settleIfIdle` (set by flusher.ts),
// so no import runs back up.
import type { AgeSkew } from '../clock.js';
import type { DeadLetterDetail, DeadLetterReason, DeliveredDetail, DroppedDetail, RetryDetail } from '../protocol.js';
import type { QueuedRecord, Store } from '../store/store.js';
import type { BatchLimits, Unit } from './batching.js';
import type { BackoffOptions, Decision } from './policy.js';
import type { Sender } from './send.js';

export interface FlusherOptions {
  store: Store;
  send: Sender;
  backoff: BackoffOptions;
  maxAgeMs: number;
  /** Keys of delivered events are forgotten after this long. @default 0 */
  dedupeWindowMs?: number;
  /** Opt-in Optimizely batching: events of one context share a request. */
  batch?: BatchLimits;
  /** Requests in flight at once. */
  concurrency: number;
  /** Events read per page. */
  pageSize: number;
  /** The wall clock (epoch ms): schedules are stored in it. */
  now: () => number;
  /**
   * A monotonic clock (ms, e.g. `performance.now()`), against which the wall clock's jumps
   * are measured both ways; without it, only back jumps are seen (see clock.ts).
   */
  monotonic?: () => number;
  random: () => number;
  isOffline: () => boolean;
  /**
   * Why a stored record must not be sent (corrupted, URL not allowed), or undefined.
   * Checked before every send: records can come from other code writing the same store.
   */
  refuse?: (record: QueuedRecord) => string | undefined;
  /**
   * Runs a pass exclusively across every context that flushes the same store (an old
   * and a new worker version during an update, tabs of the no-worker fallback), e.g.
   * with a Web Lock. Without it, passes are exclusive within this flusher only.
   */
  exclusive?: <T>(pass: () => Promise<T>) => Promise<T>;
  /** Called when delivery is held back (ask the browser for a wake-up). */
  onHeld(reason: BlockReason): void;
  emit: FlusherEvents;
}

export interface FlusherEvents {
  delivered(detail: DeliveredDetail): void;
  retry(detail: RetryDetail): void;
  deadLetter(detail: DeadLetterDetail): void;
  dropped(detail: DroppedDetail): void;
  changed(): void;
}

export type BlockReason = 'offline' | 'network' | 'server' | 'timeout';

/** A retryable failure's decision (policy.ts). */
export type Retry = Extract<Decision, { kind: 'retry' }>;

/** What the flusher knows of one destination (an origin: see destination.ts). */
export interface Dest {
  key: string;
  /** Units read and ready to send. */
  feed: Unit<QueuedRecord>[];
  /** Lanes sending. */
  active: number;
  /** Outcomes being written. */
  writes: number;
  /** Held back until then (epoch ms). */
  until: number;
  reason: BlockReason;
  /** Retryable failures in a row (the breaker's backoff grows with it). */
  failures: number;
  /** Times it was held: a request sent before the last time tells nothing new (its failure does not count again, its success does not reopen). */
  epoch: number;
  /** One request at a time, until one gets through. */
  probing: boolean;
  /** Its hold is in the store. */
  persisted: boolean;
  lastStatus: number | null;
  lastAttemptAt: number | null;
}

/** Outcomes of one write, announced once it is committed (settle.ts). */
export interface Outcome {
  delivered: { id: string; status: number }[];
  dead: { id: string; status: number; reason: Exclude<DeadLetterReason, 'expired'> }[];
  retried: string[];
  retry?: Retry;
}

/** Outcomes written in the same commit, waiting for their announcement (a microtask later). */
export interface Announcements {
  outcomes: [Dest | undefined, Outcome][];
  dropped: string[];
}

export interface FlusherContext {
  readonly opts: FlusherOptions;
  /** The wall clock, its jumps handled as they are seen (jumps.ts). */
  readonly clock: () => number;
  /** The longest wait ever set: backoff, a `Retry-After`, an offline hold. A stored one beyond it is read as this. */
  readonly maxWait: number;
  readonly dests: Map<string, Dest>;
  /** Read and not settled yet (in a feed, in flight, being written): later reads skip them (they are still queued). */
  readonly unsettled: Set<number>;
  /** Seqs whose outcome could not be written: skipped until the flusher is next idle. */
  readonly stuck: Set<number>;
  /** Every destination is held until then (offline), or 0. */
  offlineUntil: number;
  /** Requests being sent. */
  inFlight: number;
  /** Writes of outcomes not committed yet. */
  writing: number;
  stopped: boolean;
  /** The first error of this session, for kick() callers. */
  failure: { error: unknown } | undefined;

  // --- the loop (flusher.ts) ---
  /** The read loop running (pages.ts), and whether another read was asked for meanwhile. */
  reading: Promise<void> | undefined;
  readAgain: boolean;
  /** kick() callers until the flusher is next idle: one promise for all of them. */
  waiting: { promise: Promise<void>; resolve(): void; reject(e: unknown): void } | undefined;
  /** The session under `exclusive` (the lease): running, one ending, and whether another follows. */
  session: Promise<void> | undefined;
  inSession: boolean;
  endSession: (() => void) | undefined;
  sessionAgain: boolean;
  /** Asks for a read (starting a session if none runs): the loop's, reached from below. */
  readonly requestRead: () => void;
  /** Answers kick() callers and ends the session if nothing is read, sent or written. */
  readonly settleIfIdle: () => void;

  // --- the clock (jumps.ts), the store's first look, expiry (pages.ts), the timer ---
  /** The store rebased and the holds loaded, once per flusher. */
  loaded: Promise<void> | undefined;
  /** Forward jumps of the clock left out of events' age (persisted by the store). */
  ageSkew: AgeSkew;
  /** Jumps seen so far. */
  jumps: number;
  /** The store's rebase in progress: reads wait for it. */
  rebasing: Promise<void> | undefined;
  /** When expired events were last swept. */
  lastSweep: number;
  announcing: Announcements | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The destination's state, made on first sight. */
export function destinationFor(ctx: FlusherContext, key: string): Dest {
  let d = ctx.dests.get(key);
  if (!d) {
    d = {
      key,
      feed: [],
      active: 0,
      writes: 0,
      until: 0,
      reason: 'server',
      failures: 0,
      epoch: 0,
      probing: false,
      persisted: false,
      lastStatus: null,
      lastAttemptAt: null,
    };
    ctx.dests.set(key, d);
  }
  return d;
}

/** Held back at `at`: by its own breaker, or because every destination is (offline). */
export const isHeld = (ctx: FlusherContext, d: Dest, at: number): boolean => at < d.until || at < ctx.offlineUntil;

/** Something of it is in hand: sending, ready to send, or being written. */
export const isBusy = (d: Dest): boolean => d.active > 0 || d.feed.length > 0 || d.writes > 0;
