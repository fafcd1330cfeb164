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

  /** A page read from the store: its outcomes are written as they come, and announced together. */
  interface Page {
    /** Its events' seqs (not the records: those go with their units, once sent). */
    seqs: number[];
    /** Its units not done yet: waiting for a lane, or in flight. */
    open: number;
    delivered: { id: string; status: number }[];
    dead: { id: string; status: number; reason: Exclude<DeadLetterReason, 'expired'> }[];
    dropped: string[];
    writes: Promise<unknown>[];
    failedWrites: number;
  }

  // A pass: lanes take units (requests) from a feed that is refilled a page at a time,
  // the next page read while the last units of this one are sent, so a lane that is done
  // goes on with the next page instead of waiting for the page's slowest request. In
  // memory: at most a unit per lane plus one page ready (as a page and its read-ahead).
  async function pass(): Promise<void> {
    await sweepExpired(o.now());
    const feed: { unit: Unit<QueuedRecord>; page: Page }[] = [];
    // Read and not settled yet: a later read of this pass skips them (they are still queued).
    const unsettled = new Set<number>();
    const finishing: Promise<void>[] = [];
    const retried: { id: string; d: Retry }[] = [];
    // Set by the first retryable failure (the latest deadline wins): no lane takes another unit.
    const breaker = { stop: undefined as Retry | undefined };
    let over = false;
    let failure: { error: unknown } | undefined;
    let reading: Promise<void> | undefined;

    const read = (): Promise<void> =>
      (reading ??= (async () => {
        const now = o.now();
        if (now < blockedUntil) return void (over = true);
        if (o.isOffline()) {
          // Don't spend attempts (or grow backoff) while the browser knows it is offline.
          blockedUntil = now + Math.max(o.backoff.baseMs, 1000);
          blockReason = 'offline';
          o.onHeld('offline');
          return void (over = true);
        }
        const due = await o.store.readDue(now, o.pageSize, unsettled.size ? new Set(unsettled) : undefined);
        if (due.length === 0 || breaker.stop || stopped) return void (over = true);
        for (const r of due) unsettled.add(r.seq);
        openPage(due.sort((a, b) => a.seq - b.seq));
      })()
        .catch((error: unknown) => {
          failure ??= { error };
          over = true;
        })
        .finally(() => {
          reading = undefined;
        }));

    const record = (page: Page, settlements: Settlement[]) =>
      page.writes.push(
        o.store.settle(settlements).then(
          (r) => page.dropped.push(...r.droppedIds),
          () => (page.failedWrites += settlements.length),
        ),
      );

    // Records that must not be sent go to the dead-letter store; the rest become units.
    function openPage(records: QueuedRecord[]): void {
      const page: Page = { seqs: records.map((r) => r.seq), open: 0, delivered: [], dead: [], dropped: [], writes: [], failedWrites: 0 };
      const sendable: QueuedRecord[] = [];
      const refused: Settlement[] = [];
      for (const rec of records) {
        const refusal = o.refuse?.(rec);
        if (refusal === undefined) {
          sendable.push(rec);
          continue;
        }
        page.dead.push({ id: String(rec.id), status: 0, reason: 'invalid' });
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
      if (refused.length) record(page, refused);
      const units: Unit<QueuedRecord>[] = o.batch
        ? groupForBatching(sendable, o.batch)
        : sendable.map((rec) => ({ records: [rec], url: rec.url, body: rec.body }));
      page.open = units.length;
      for (const unit of units) feed.push({ unit, page });
      if (page.open === 0) finishing.push(finishPage(page));
    }

    // Every unit of the page is done (or will not be sent in this pass): announce its outcomes.
    async function finishPage(page: Page): Promise<void> {
      await Promise.all(page.writes);
      // Outcomes written: later reads will not see these events as due. (If a write
      // failed, the page's events stay skipped for the rest of the pass.)
      if (page.failedWrites === 0) for (const seq of page.seqs) unsettled.delete(seq);
      if (page.delivered.length) failedPasses = 0;
      for (const status of new Set(page.delivered.map((x) => x.status))) {
        o.emit.delivered({ ids: page.delivered.filter((x) => x.status === status).map((x) => x.id), status });
      }
      for (const reason of ['permanent', 'invalid'] as const) {
        const group = page.dead.filter((x) => x.reason === reason);
        if (group.length) o.emit.deadLetter({ ids: group.map((x) => x.id), status: group[0]!.status, reason });
      }
      if (page.dropped.length) o.emit.dropped({ ids: page.dropped, reason: 'dead-letter-overflow' });
      o.emit.changed();
      // If no outcome could be written, the same events would come back: stop here.
      if (page.failedWrites > 0 && page.failedWrites >= page.seqs.length) over = true;
    }

    const lane = async () => {
      while (!breaker.stop && !stopped) {
        if (feed.length === 0) {
          if (over) return;
          await read();
          continue;
        }
        const { unit, page } = feed.shift()!;
        // Every unit ready has a lane: read the next page while these are sent.
        if (feed.length === 0 && !over) void read();
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
          const halves = split(unit.records).flatMap((half) => groupForBatching(half, o.batch!));
          page.open += halves.length - 1;
          feed.push(...halves.map((u) => ({ unit: u, page })));
          continue;
        }
        const settlements: Settlement[] = [];
        for (const rec of unit.records) {
          const d = decide(rec, result, o.backoff, at, o.random);
          if (d.kind === 'delivered') {
            page.delivered.push({ id: rec.id, status: d.status });
            settlements.push({ seq: rec.seq, record: rec, kind: 'delivered' });
          } else if (d.kind === 'dead') {
            page.dead.push({ id: rec.id, status: d.status, reason: d.reason });
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
            // (Another lane may have set it meanwhile: read it afresh.)
            const previous: Retry | undefined = breaker.stop as Retry | undefined;
            if (!previous || d.nextAttemptAt > previous.nextAttemptAt) breaker.stop = d;
          }
        }
        record(page, settlements);
        if (--page.open === 0) finishing.push(finishPage(page));
        // The probe got through: open up.
        if (page.delivered.length) for (; opened < o.concurrency; opened++) lanes.push(lane());
      }
    };

    // After a failed pass, probe with one request before opening up again.
    let opened = failedPasses > 0 ? 1 : o.concurrency;
    const lanes = Array.from({ length: opened }, lane);
    while (lanes.length) await Promise.all(lanes.splice(0));
    // A page read meanwhile, units no lane took: not sent in this pass (still queued).
    await reading;
    for (const { page } of feed.splice(0)) if (--page.open === 0) finishing.push(finishPage(page));
    while (finishing.length) await Promise.all(finishing.splice(0));

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
    if (stop) o.onHeld(stop.reason);
    if (failure) throw failure.error;
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
