// The flusher: reads due events in pages, sends them per destination (an origin: see
// destination.ts), and writes each outcome in a transaction of its own (coalesced by the
// store). Never holds a transaction across a fetch; deletes an event only after a 2xx for
// the request that carried it.
//
// This file is the loop that composes the pieces (context.ts lists them all):
//   kick() → a session under the lease (`exclusive`) → requestRead → readPages (pages.ts)
//   → distribute to each destination's lanes (lanes.ts) → send → onAnswer → decideUnit
//   and writeOutcomes (settle.ts), trip or reopen the breaker (breaker.ts) → settleIfIdle.
// - kick() asks for a read and resolves when the flusher next goes idle (nothing being
//   read, sent or written); kicks meanwhile share that promise, and one read at a time
//   runs (a "more arrived" flag asks for another after it).
// - Work runs in sessions, each from a read until the flusher is idle again, under
//   `exclusive` (a Web Lock across contexts sharing the store: an old and a new worker,
//   tabs of the fallback), so no two contexts send the same event at once.
// - Retries are driven by a timer (timer.ts); the wall clock's jumps are handled as they
//   are seen (jumps.ts).
import { NO_SKEW, watchClock } from '../clock.js';
import { type DestinationState, blockedUntil, destinationStates, unblock } from './breaker.js';
import type { BlockReason, FlusherContext, FlusherOptions } from './context.js';
import { clockJumped } from './jumps.js';
import { readPages } from './pages.js';
import { DEFAULT_MAX_RETRY_AFTER_MS } from './policy.js';
import { nextDue, rearm } from './timer.js';

export type { BlockReason, DestinationState, FlusherOptions };
export type { FlusherEvents } from './context.js';

export interface Flusher {
  kick(): Promise<void>;
  /** Clears the holds set for one of these reasons (connectivity came back). */
  unblock(reasons: readonly BlockReason[]): void;
  inFlight(): number;
  /** Until when some destination (or all, offline) is held back, or 0. */
  blockedUntil(): number;
  /** What is known of each destination tried (or held) since this flusher started. */
  destinations(): DestinationState[];
  /** The earliest time something queued will be sent (past: due now), or undefined when nothing is queued. */
  nextAttemptAt(): Promise<number | undefined>;
  stop(): void;
}

export function createFlusher(opts: FlusherOptions): Flusher {
  const ctx = createContext(opts);
  return {
    kick: () => kick(ctx),
    unblock: (reasons) => unblock(ctx, reasons),
    inFlight: () => ctx.inFlight,
    blockedUntil: () => blockedUntil(ctx),
    destinations: () => destinationStates(ctx),
    nextAttemptAt: () => nextDue(ctx, false),
    stop: () => stop(ctx),
  };
}

/** A flusher's state at start: nothing known of any destination, nothing in hand. (Exported for tests of the pieces.) */
export function createContext(opts: FlusherOptions): FlusherContext {
  const readClock = watchClock(opts.now, opts.monotonic);
  const ctx: FlusherContext = {
    opts,
    clock: () => {
      const { now, jump } = readClock();
      if (jump !== 0 && !ctx.stopped) clockJumped(ctx, jump, now);
      return now;
    },
    maxWait: Math.max(opts.backoff.maxMs, opts.backoff.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS, opts.backoff.baseMs, 1000),
    dests: new Map(),
    unsettled: new Set(),
    stuck: new Set(),
    offlineUntil: 0,
    inFlight: 0,
    writing: 0,
    stopped: false,
    failure: undefined,
    reading: undefined,
    readAgain: false,
    waiting: undefined,
    session: undefined,
    inSession: false,
    endSession: undefined,
    sessionAgain: false,
    requestRead: () => requestRead(ctx),
    settleIfIdle: () => settleIfIdle(ctx),
    loaded: undefined,
    ageSkew: NO_SKEW,
    jumps: 0,
    rebasing: undefined,
    lastSweep: Number.NEGATIVE_INFINITY,
    announcing: undefined,
    timer: undefined,
  };
  return ctx;
}

/** Asks for a read; resolves (or rejects with the first error) when the flusher next goes idle. */
function kick(ctx: FlusherContext): Promise<void> {
  if (ctx.stopped) return Promise.resolve();
  if (!ctx.waiting) {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    ctx.waiting = { promise, resolve, reject };
  }
  const { promise } = ctx.waiting;
  requestRead(ctx);
  return promise;
}

/** A session under `exclusive`: it runs until settleIfIdle ends it; one asked for while another ends follows it. */
function startSession(ctx: FlusherContext): void {
  if (ctx.session) {
    // One is ending (or waiting for the lock): another after it.
    ctx.sessionAgain = true;
    return;
  }
  let ran = false;
  const run = () =>
    new Promise<void>((resolve) => {
      ran = true;
      ctx.inSession = true;
      ctx.endSession = resolve;
      requestRead(ctx);
    });
  ctx.session = (ctx.opts.exclusive ? ctx.opts.exclusive(run) : run())
    .catch((error: unknown) => {
      ctx.failure ??= { error };
    })
    .finally(() => {
      ctx.session = undefined;
      if (ctx.stopped) return;
      if (!ran) {
        // Another context holds the store (a lease): kick() callers are answered, the timer looks again.
        settleIfIdle(ctx);
        rearm(ctx);
      }
      if (ctx.sessionAgain) {
        ctx.sessionAgain = false;
        startSession(ctx);
      }
    });
}

/** One read loop at a time (in a session): asked for while one runs, another follows it. */
function requestRead(ctx: FlusherContext): void {
  if (ctx.stopped) return;
  if (!ctx.inSession) {
    startSession(ctx);
    return;
  }
  if (ctx.reading) {
    ctx.readAgain = true;
    return;
  }
  ctx.reading = readPages(ctx).finally(() => {
    ctx.reading = undefined;
    if (ctx.readAgain) requestRead(ctx);
    else settleIfIdle(ctx);
  });
}

/** Nothing read, sent or written: the session ends (its lock is released), kick() callers are answered. */
function settleIfIdle(ctx: FlusherContext): void {
  if (ctx.reading || ctx.writing > 0) return;
  for (const d of ctx.dests.values()) if (d.active > 0) return;
  // Later work starts another session.
  ctx.inSession = false;
  ctx.endSession?.();
  ctx.endSession = undefined;
  // Outcomes that could not be written: read again from now on.
  for (const seq of ctx.stuck) ctx.unsettled.delete(seq);
  ctx.stuck.clear();
  const done = ctx.waiting;
  const failed = ctx.failure;
  ctx.waiting = undefined;
  ctx.failure = undefined;
  if (failed) done?.reject(failed.error);
  else done?.resolve();
}

function stop(ctx: FlusherContext): void {
  ctx.stopped = true;
  if (ctx.timer !== undefined) clearTimeout(ctx.timer);
  ctx.waiting?.resolve();
  ctx.waiting = undefined;
}
