// The flusher: one pass at a time reads due events in pages, sends them, and writes each
// outcome in a transaction of its own (coalesced by the store). Never holds a
// transaction across a fetch.
//
// - kick() asks for a pass; calls during a pass set "again" and share the next pass.
// - A retryable failure stops the pass (a circuit breaker, in memory): the rest of the
//   queue is not hammered while the collector or the network is down. The breaker's
//   deadline is the failed event's persisted nextAttemptAt, so nothing is lost with it.
// - Retries are driven by a timer armed for the earliest nextAttemptAt while the worker
//   lives; the schedule itself is persisted, so a worker that dies loses only the timer.
//   (No waitUntil() is held open waiting for retries: an event kept open for minutes
//   holds up browser shutdown and is cut short by the browser anyway.)
import type { DeadLetterDetail, DeadLetterReason, DeliveredDetail, DroppedDetail, RetryDetail } from '../protocol.js';
import type { QueuedRecord, Settlement, Store } from '../store/store.js';
import { type BatchLimits, type Unit, groupForBatching, split } from './batching.js';
import { type BackoffOptions, type Decision, type SendResult, backoffDelay, classifyStatus, decide } from './policy.js';
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
  now: () => number;
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
  /** Called when a pass stopped because delivery failed (ask the browser for a wake-up). */
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

type Retry = Extract<Decision, { kind: 'retry' }>;

export type BlockReason = 'offline' | 'network' | 'server' | 'timeout';

export interface Flusher {
  kick(): Promise<void>;
  /** Clears the breaker if it was set for one of these reasons (connectivity came back). */
  unblock(reasons: readonly BlockReason[]): void;
  inFlight(): number;
  /** When the breaker lets the next pass send, or 0. */
  blockedUntil(): number;
  stop(): void;
}

export function createFlusher(o: FlusherOptions): Flusher {
  let running: Promise<void> | undefined;
  let waiting: { promise: Promise<void>; resolve(): void; reject(e: unknown): void } | undefined;
  let inFlight = 0;
  let blockedUntil = 0;
  let blockReason: BlockReason = 'offline';
  // Passes in a row stopped by a retryable failure. The breaker backs off on its own
  // count: otherwise each pass would probe with a fresh event at attempt 1, and a dead
  // collector would see a steady stream of short-delay attempts.
  let failedPasses = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  function kick(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (!waiting) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      waiting = { promise, resolve, reject };
    }
    const promise = waiting.promise;
    running ??= loop();
    return promise;
  }

  async function loop(): Promise<void> {
    while (waiting) {
      const current = waiting;
      waiting = undefined;
      try {
        await (o.exclusive ? o.exclusive(pass) : pass());
        current.resolve();
      } catch (error) {
        current.reject(error);
      }
    }
    running = undefined;
    await armTimer().catch(() => {});
  }

  async function armTimer(): Promise<void> {
    if (stopped) return;
    const next = await nextDue();
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    // stop() may have been called while we awaited the store: arm nothing then.
    if (next === undefined || stopped) return;
    // setTimeout's delay is a signed 32-bit int; longer waits would fire at once.
    const delay = Math.min(Math.max(0, next - o.now()), 2 ** 31 - 1);
    timer = setTimeout(() => {
      timer = undefined;
      void kick().catch(() => {});
    }, delay);
  }

  async function nextDue(): Promise<number | undefined> {
    const next = await o.store.nextAttemptAt();
    return next === undefined ? undefined : Math.max(next, blockedUntil);
  }

  // Events past maxAgeMs leave the queue whatever their schedule (a long Retry-After
  // must not keep an expired event queued), swept at most once a second.
  let lastSweep = Number.NEGATIVE_INFINITY;
  async function sweepExpired(now: number): Promise<void> {
    if (now - lastSweep < 1000) return;
    lastSweep = now;
    for (;;) {
      const { expiredIds, droppedIds } = await o.store.expire(now - o.maxAgeMs, o.pageSize);
      if (expiredIds.length) o.emit.deadLetter({ ids: expiredIds, status: 0, reason: 'expired' });
      if (droppedIds.length) o.emit.dropped({ ids: droppedIds, reason: 'dead-letter-overflow' });
      if (expiredIds.length < o.pageSize) break;
    }
    // Keys of delivered events past the de-duplication window.
    if (o.dedupeWindowMs !== undefined) while ((await o.store.forget(now - o.dedupeWindowMs, 500)) === 500);
  }

  async function pass(): Promise<void> {
    await sweepExpired(o.now());
    // The next page is read while this one is sent (none of this page's events: they stay
    // queued until settled), so the lanes do not wait for the store between pages.
    let next: Promise<QueuedRecord[]> | undefined;
    try {
      for (;;) {
        const now = o.now();
        if (now < blockedUntil) return;
        if (o.isOffline()) {
          // Don't spend attempts (or grow backoff) while the browser knows it is offline.
          blockedUntil = now + Math.max(o.backoff.baseMs, 1000);
          blockReason = 'offline';
          o.onHeld('offline');
          return;
        }
        const due = await (next ?? o.store.readDue(now, o.pageSize));
        next = undefined;
        if (due.length === 0) return;
        next = o.store.readDue(now, o.pageSize, new Set(due.map((r) => r.seq)));
        const progressed = await sendPage(due.sort((a, b) => a.seq - b.seq));
        if (!progressed) return;
      }
    } finally {
      // A page read ahead and not sent: nothing to do (its events are still queued).
      next?.catch(() => {});
    }
  }

  // Sends one page; returns false when the pass should stop.
  async function sendPage(records: QueuedRecord[]): Promise<boolean> {
    const delivered: { id: string; status: number }[] = [];
    const retried: { id: string; d: Extract<Decision, { kind: 'retry' }> }[] = [];
    const dead: { id: string; status: number; reason: Exclude<DeadLetterReason, 'expired'> }[] = [];
    const dropped: string[] = [];
    const writes: Promise<unknown>[] = [];
    // Set by the first retryable failure (the latest deadline wins); read after the workers end.
    const breaker = { stop: undefined as Retry | undefined };
    let failedWrites = 0;

    const record = (settlements: Settlement[]) =>
      writes.push(
        o.store.settle(settlements).then(
          (r) => dropped.push(...r.droppedIds),
          () => (failedWrites += settlements.length),
        ),
      );

    // Records that must not be sent go to the dead-letter store; the rest become requests.
    const sendable: QueuedRecord[] = [];
    const refused: Settlement[] = [];
    for (const rec of records) {
      const refusal = o.refuse?.(rec);
      if (refusal === undefined) {
        sendable.push(rec);
        continue;
      }
      dead.push({ id: String(rec.id), status: 0, reason: 'invalid' });
      refused.push({
        seq: rec.seq,
        record: rec,
        kind: 'dead',
        status: 0,
        reason: 'invalid',
        tries: Number(rec.tries) || 0,
        detail: refusal,
      });
    }
    if (refused.length) record(refused);
    const units: Unit<QueuedRecord>[] = o.batch
      ? groupForBatching(sendable, o.batch)
      : sendable.map((rec) => ({ records: [rec], url: rec.url, body: rec.body }));

    let next = 0;
    const worker = async () => {
      while (next < units.length && !breaker.stop && !stopped) {
        const unit = units[next++]!;
        inFlight++;
        let result: SendResult;
        try {
          const { records, ...request } = unit;
          result = await o.send({ id: records[0]!.id, ...request });
        } finally {
          inFlight--;
        }
        const at = o.now();
        if (unit.records.length > 1 && result.kind === 'response' && classifyStatus(result.status) === 'permanent') {
          // A merged request refused for good: one bad event must not block the others.
          // Send each half on its own (as a request of its own, regrouped), in this pass.
          for (const half of split(unit.records)) units.push(...groupForBatching(half, o.batch!));
          continue;
        }
        const settlements: Settlement[] = [];
        for (const rec of unit.records) {
          const d = decide(rec, result, o.backoff, at, o.random);
          if (d.kind === 'delivered') {
            delivered.push({ id: rec.id, status: d.status });
            settlements.push({ seq: rec.seq, record: rec, kind: 'delivered' });
          } else if (d.kind === 'dead') {
            dead.push({ id: rec.id, status: d.status, reason: d.reason });
            settlements.push({ seq: rec.seq, record: rec, kind: 'dead', status: d.status, reason: d.reason, tries: rec.tries + 1 });
          } else {
            retried.push({ id: rec.id, d });
            settlements.push({
              seq: rec.seq,
              record: rec,
              kind: 'retry',
              attempts: d.attempts,
              tries: d.tries,
              nextAttemptAt: d.nextAttemptAt,
              hold: d.hold,
              status: d.status,
            });
            // (Another worker of this pool may have set it meanwhile: read it afresh.)
            const previous: Retry | undefined = breaker.stop as Retry | undefined;
            if (!previous || d.nextAttemptAt > previous.nextAttemptAt) breaker.stop = d;
          }
        }
        record(settlements);
      }
    };
    // After a failed pass, probe with one request before opening up again.
    const lanes = failedPasses > 0 ? 1 : o.concurrency;
    await Promise.all(Array.from({ length: Math.min(lanes, units.length) }, worker));
    if (delivered.length) failedPasses = 0;
    await Promise.all(writes);

    for (const status of new Set(delivered.map((x) => x.status))) {
      o.emit.delivered({ ids: delivered.filter((x) => x.status === status).map((x) => x.id), status });
    }
    for (const reason of ['permanent', 'invalid'] as const) {
      const group = dead.filter((x) => x.reason === reason);
      if (group.length) o.emit.deadLetter({ ids: group.map((x) => x.id), status: group[0]!.status, reason });
    }
    if (dropped.length) o.emit.dropped({ ids: dropped, reason: 'dead-letter-overflow' });
    o.emit.changed();

    const stop = breaker.stop;
    if (stop) {
      if (stop.reason !== 'offline') failedPasses++;
      const breakerDelay = stop.reason === 'offline' ? 0 : backoffDelay(failedPasses, o.backoff, o.random);
      blockedUntil = Math.max(stop.nextAttemptAt, o.now() + breakerDelay);
      blockReason = stop.reason;
    }
    if (retried.length) {
      const last = retried[retried.length - 1]!.d;
      // When the next attempt really is: the breaker may hold the queue longer than the event's own schedule.
      const nextAttemptAt = Math.max(last.nextAttemptAt, stop ? blockedUntil : 0);
      o.emit.retry({ ids: retried.map((x) => x.id), status: last.status, reason: last.reason, nextAttemptAt });
    }
    if (stop) {
      o.onHeld(stop.reason);
      return false;
    }
    // If no outcome could be written, the same page would come back: stop here.
    return failedWrites < records.length;
  }

  return {
    kick,
    unblock(reasons) {
      if (reasons.includes(blockReason)) {
        blockedUntil = 0;
        failedPasses = 0;
      }
    },
    inFlight: () => inFlight,
    blockedUntil: () => blockedUntil,
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
