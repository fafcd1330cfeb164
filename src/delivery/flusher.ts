// The flusher: reads due events in pages, sends them per destination (an origin: see
// destination.ts), and writes each outcome in a transaction of its own (coalesced by the
// store). Never holds a transaction across a fetch.
//
// - Destinations are independent: each has its feed of units (requests) ready, its lanes
//   (up to `concurrency`), its breaker, its backoff and its probe. One that fails, hangs
//   until `timeoutMs` or refuses connections never holds another: lanes outlive reads,
//   and a read passes over the destinations that are held or have units in hand (the
//   store does not even read their segments), so a 10,000-event backlog for one does not
//   keep another's new events waiting.
// - A retryable failure holds its destination (a circuit breaker): its feed goes back to
//   the queue, nothing more is sent to it until the later of the failed event's own
//   schedule (a `Retry-After`) and the breaker's backoff, which grows with failures in a
//   row; then one request probes it before its lanes open up again. Holds are persisted,
//   so a restarted worker (Background Sync wakes one) keeps a collector's `Retry-After`.
// - Offline (the browser says so, or a send failed because it went offline) holds every
//   destination without growing anyone's backoff: connectivity is nobody's fault.
// - kick() asks for a read and resolves when the flusher next goes idle (nothing being
//   read, sent or written).
// - Retries are driven by a timer armed for the earliest next attempt while the worker
//   lives; the schedule itself is persisted, so a worker that dies loses only the timer.
//   (No waitUntil() is held open waiting for retries: an event kept open for minutes
//   holds up browser shutdown and is cut short by the browser anyway.)
// - The wall clock may jump (clock.ts): what is held in memory moves with it, the store
//   moves what it keeps, and no wait outlasts the longest one ever set (`maxWait`).
import { type DestinationHold, destinationOf } from '../destination.js';
import type { DeadLetterDetail, DeadLetterReason, DeliveredDetail, DroppedDetail, RetryDetail } from '../protocol.js';
import type { QueuedRecord, Settlement, Store } from '../store/store.js';
import { type BatchLimits, type Unit, groupForBatching, split } from './batching.js';
import { type AgeSkew, NO_SKEW, addSkew, expiryCutoff, movedBack, watchClock } from '../clock.js';
import {
  type BackoffOptions,
  DEFAULT_MAX_RETRY_AFTER_MS,
  type Decision,
  type SendResult,
  backoffDelay,
  classifyStatus,
  decide,
} from './policy.js';
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

type Retry = Extract<Decision, { kind: 'retry' }>;

export type BlockReason = 'offline' | 'network' | 'server' | 'timeout';

export interface DestinationState {
  destination: string;
  /** Held back until then (epoch ms), or 0. */
  heldUntil: number;
  /** Why it is held, when it is. */
  reason: BlockReason | null;
  /** The status of the last answer (0: none, a network error or a timeout); null before any attempt. */
  lastStatus: number | null;
  lastAttemptAt: number | null;
  inFlight: number;
}

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

export function createFlusher(o: FlusherOptions): Flusher {
  const dests = new Map<string, Dest>();
  /** Read and not settled yet (in a feed, in flight, being written): later reads skip them (they are still queued). */
  const unsettled = new Set<number>();
  /** Seqs whose outcome could not be written: skipped until the flusher is next idle. */
  const stuck = new Set<number>();
  let offlineUntil = 0;
  let inFlight = 0;
  let writing = 0;
  let reading: Promise<void> | undefined;
  let readAgain = false;
  let failure: { error: unknown } | undefined;
  // kick() callers until the flusher is next idle: one promise for all of them.
  let waiting: { promise: Promise<void>; resolve(): void; reject(e: unknown): void } | undefined;
  let loaded: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  /** The longest wait ever set: backoff, a `Retry-After`, an offline hold. A stored one beyond it is read as this. */
  const maxWait = Math.max(o.backoff.maxMs, o.backoff.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS, o.backoff.baseMs, 1000);
  /** Forward jumps of the clock left out of events' age (persisted by the store). */
  let ageSkew: AgeSkew = NO_SKEW;
  /** Jumps seen so far. */
  let jumps = 0;
  /** The store's rebase in progress: reads wait for it. */
  let rebasing: Promise<void> | undefined;
  const readClock = watchClock(o.now, o.monotonic);
  /** The wall clock, its jumps handled as they are seen. */
  const clock = (): number => {
    const { now: t, jump } = readClock();
    if (jump !== 0 && !stopped) clockJumped(jump, t);
    return t;
  };

  const dest = (key: string): Dest => {
    let d = dests.get(key);
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
      dests.set(key, d);
    }
    return d;
  };
  const held = (d: Dest, at: number) => at < d.until || at < offlineUntil;
  const busy = (d: Dest) => d.active > 0 || d.feed.length > 0 || d.writes > 0;

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
    const { promise } = waiting;
    requestRead();
    return promise;
  }

  // Work runs in sessions, each from a read until the flusher is idle again, under
  // `exclusive` (a Web Lock across contexts sharing the store: an old and a new worker,
  // tabs of the fallback), so no two contexts send the same event at once.
  let session: Promise<void> | undefined;
  let inSession = false;
  let endSession: (() => void) | undefined;
  let sessionAgain = false;

  function startSession(): void {
    if (session) {
      // One is ending (or waiting for the lock): another after it.
      sessionAgain = true;
      return;
    }
    let ran = false;
    const run = () =>
      new Promise<void>((resolve) => {
        ran = true;
        inSession = true;
        endSession = resolve;
        requestRead();
      });
    session = (o.exclusive ? o.exclusive(run) : run())
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => {
        session = undefined;
        if (stopped) return;
        if (!ran) {
          // Another context holds the store (a lease): kick() callers are answered, the timer looks again.
          settleIfIdle();
          void armTimer().catch(() => {});
        }
        if (sessionAgain) {
          sessionAgain = false;
          startSession();
        }
      });
  }

  function requestRead(): void {
    if (stopped) return;
    if (!inSession) {
      startSession();
      return;
    }
    if (reading) {
      readAgain = true;
      return;
    }
    reading = readLoop().finally(() => {
      reading = undefined;
      if (readAgain) requestRead();
      else settleIfIdle();
    });
  }

  /** Nothing read, sent or written: kick() callers are answered. */
  function settleIfIdle(): void {
    if (reading || writing > 0) return;
    for (const d of dests.values()) if (d.active > 0) return;
    // The session ends (its lock is released); later work starts another.
    inSession = false;
    endSession?.();
    endSession = undefined;
    // Outcomes that could not be written: read again from now on.
    for (const seq of stuck) unsettled.delete(seq);
    stuck.clear();
    const done = waiting;
    const failed = failure;
    waiting = undefined;
    failure = undefined;
    if (failed) done?.reject(failed.error);
    else done?.resolve();
  }

  // Reads pages until a read finds nothing for the destinations free to take more.
  async function readLoop(): Promise<void> {
    try {
      loaded ??= rebase().then(loadHolds);
      await loaded;
      for (let more = true; more && !stopped; ) {
        readAgain = false;
        const now = clock();
        // (A jump seen now, or since the last read: the store has moved its times first.)
        if (rebasing) await rebasing;
        await sweepExpired(now);
        if (now < offlineUntil) break;
        if (o.isOffline()) {
          // Don't spend attempts (or grow backoff) while the browser knows it is offline.
          holdOffline(now + Math.max(o.backoff.baseMs, 1000));
          break;
        }
        const skip = new Set<string>();
        for (const d of dests.values()) if (held(d, now) || d.feed.length > 0 || (d.probing && d.active > 0)) skip.add(d.key);
        // (Taken first: what is read now, sent or being written may settle while we look.)
        const exclude = unsettled.size ? new Set(unsettled) : undefined;
        const open = Object.entries(await o.store.queuedByDestination()).filter(([key, n]) => n > 0 && !skip.has(key)).length;
        // Nothing queued but for destinations passed over: no read (one small record instead).
        if (skip.size && open === 0) break;
        // A page shared by the destinations with events queued: one's backlog does not fill it.
        const share = open > 1 ? Math.ceil(o.pageSize / open) : undefined;
        const due = await o.store.readDue(now, o.pageSize, exclude, skip.size ? skip : undefined, share);
        if (stopped) break;
        if (due.length) distribute(due.sort((a, b) => a.seq - b.seq));
        // A short page had everything due for the destinations read (or their shares): read again only if asked to.
        more = due.length >= o.pageSize || (share !== undefined && due.length > 0) || readAgain;
      }
    } catch (error) {
      failure ??= { error };
    }
    await armTimer().catch(() => {});
  }

  /**
   * The store's look at the clock (a write: it moves stored times back after a back jump,
   * and caps schedules at `maxWait`), saving `skew` when given. Reads wait for it.
   */
  function rebase(skew?: AgeSkew): Promise<void> {
    const seen = jumps;
    const done: Promise<void> = (rebasing ?? Promise.resolve())
      .then(() => o.store.rebase(maxWait, skew))
      .then(
        (saved) => {
          // The skew as stored (at start), unless a jump seen since has changed it here.
          if (jumps === seen) ageSkew = saved;
        },
        () => {},
      )
      .finally(() => {
        if (rebasing === done) rebasing = undefined;
      });
    rebasing = done;
    return done;
  }

  /**
   * The wall clock jumped by `jump` (< 0: back) at `at`. Back: holds move back with it (the
   * store moves what it keeps in its next write). Forward: holds still running move with
   * it (a `Retry-After` keeps its real length), and the jump is left out of events' age.
   */
  function clockJumped(jump: number, at: number): void {
    for (const d of dests.values()) d.until = shiftHold(d.until, jump, at);
    offlineUntil = shiftHold(offlineUntil, jump, at);
    lastSweep = Math.min(lastSweep, at);
    jumps++;
    if (jump > 0) ageSkew = addSkew(ageSkew, jump, at, o.maxAgeMs);
    void rebase(jump > 0 ? ageSkew : undefined);
    persistHolds();
    void armTimer().catch(() => {});
  }

  async function loadHolds(): Promise<void> {
    const holds = await o.store.destinationHolds().catch(() => ({}) as Record<string, DestinationHold>);
    const cap = clock() + maxWait;
    for (const [key, h] of Object.entries(holds)) {
      const d = dest(key);
      if (d.lastAttemptAt !== null) continue; // tried since: what it learnt is newer
      Object.assign(d, {
        // A hold beyond the longest one ever set was set before the clock went back.
        until: Math.min(h.until, cap),
        reason: h.reason,
        failures: h.failures,
        lastStatus: h.lastStatus,
        probing: true,
        persisted: true,
      });
    }
  }

  /** Saves the holds of every destination (those set, and the one just cleared). */
  function persistHolds(): void {
    const holds: Record<string, DestinationHold> = {};
    const now = clock();
    for (const d of dests.values()) {
      d.persisted = d.until > now || d.failures > 0;
      if (d.persisted)
        holds[d.key] = {
          until: d.until,
          reason: d.reason === 'offline' ? 'network' : d.reason,
          failures: d.failures,
          lastStatus: d.lastStatus ?? 0,
        };
    }
    void o.store.saveDestinationHolds(holds).catch(() => {});
  }

  // Records that must not be sent go to the dead-letter store; the rest become units of their destination's feed.
  function distribute(records: QueuedRecord[]): void {
    const byDest = new Map<string, QueuedRecord[]>();
    const refused: Settlement[] = [];
    for (const rec of records) {
      unsettled.add(rec.seq);
      const refusal = o.refuse?.(rec);
      if (refusal !== undefined) {
        refused.push({
          seq: rec.seq,
          record: rec,
          kind: 'dead',
          status: 0,
          reason: 'invalid',
          tries: Number(rec.tries) || 0,
          detail: refusal,
        });
        continue;
      }
      const key = destinationOf(rec.url);
      const list = byDest.get(key);
      if (list) list.push(rec);
      else byDest.set(key, [rec]);
    }
    if (refused.length) {
      const outcome = blankOutcome();
      for (const s of refused) outcome.dead.push({ id: String(s.record!.id), status: 0, reason: 'invalid' });
      record(undefined, refused, outcome);
    }
    for (const [key, list] of byDest) {
      const d = dest(key);
      d.feed.push(...(o.batch ? groupForBatching(list, o.batch) : list.map((rec) => ({ records: [rec], url: rec.url, body: rec.body }))));
      startLanes(d);
    }
  }

  function startLanes(d: Dest): void {
    const limit = d.probing ? 1 : o.concurrency;
    while (!stopped && d.active < limit && d.feed.length > 0 && !held(d, clock())) {
      d.active++;
      void lane(d);
    }
  }

  // Takes units of its destination's feed until it is empty, held, or (probing) another lane runs.
  async function lane(d: Dest): Promise<void> {
    try {
      while (!stopped && d.feed.length > 0 && !held(d, clock()) && !(d.probing && d.active > 1)) {
        const unit = d.feed.shift()!;
        // Every unit ready has a lane: read the next page while these are sent.
        if (d.feed.length === 0) requestRead();
        const epoch = d.epoch;
        d.lastAttemptAt = clock();
        inFlight++;
        let result: SendResult;
        try {
          const { records, ...request } = unit;
          result = await o.send({ id: records[0]!.id, ...request });
        } finally {
          inFlight--;
        }
        settleUnit(d, unit, result, epoch);
      }
    } catch (error) {
      failure ??= { error };
    } finally {
      d.active--;
      if (!stopped) {
        startLanes(d);
        if (!busy(d)) requestRead();
        settleIfIdle();
      }
    }
  }

  /** What a unit's answer comes to: its outcomes written, its destination held or opened up. */
  function settleUnit(d: Dest, unit: Unit<QueuedRecord>, result: SendResult, epoch: number): void {
    const at = clock();
    if (unit.records.length > 1 && result.kind === 'response' && classifyStatus(result.status) === 'permanent') {
      // A merged request refused for good: one bad event must not block the others.
      // Send each half on its own (as a request of its own, regrouped), next.
      d.feed.unshift(...split(unit.records).flatMap((half) => groupForBatching(half, o.batch!)));
      startLanes(d);
      return;
    }
    d.lastStatus = result.kind === 'response' ? result.status : 0;
    const settlements: Settlement[] = [];
    const outcome = blankOutcome();
    let failed: Retry | undefined;
    for (const rec of unit.records) {
      const decision = decide(rec, result, o.backoff, at, o.random);
      if (decision.kind === 'delivered') {
        outcome.delivered.push({ id: rec.id, status: decision.status });
        settlements.push({ seq: rec.seq, record: rec, kind: 'delivered' });
      } else if (decision.kind === 'dead') {
        outcome.dead.push({ id: rec.id, status: decision.status, reason: decision.reason });
        settlements.push({
          seq: rec.seq,
          record: rec,
          kind: 'dead',
          status: decision.status,
          reason: decision.reason,
          tries: rec.tries + 1,
        });
      } else {
        outcome.retried.push(rec.id);
        outcome.retry = decision;
        settlements.push({
          seq: rec.seq,
          record: rec,
          kind: 'retry',
          attempts: decision.attempts,
          tries: decision.tries,
          nextAttemptAt: decision.nextAttemptAt,
          hold: decision.hold,
          status: decision.status,
        });
        if (!failed || decision.nextAttemptAt > failed.nextAttemptAt) failed = decision;
      }
    }
    if (failed) trip(d, failed, epoch, at);
    else if (epoch === d.epoch && (d.probing || d.failures > 0)) {
      // The probe got through (or the collector answered for good): open up.
      d.probing = false;
      d.failures = 0;
      d.until = 0;
      if (d.persisted) persistHolds();
      startLanes(d);
    }
    record(d, settlements, outcome);
  }

  /** A retryable failure: its destination (or, offline, every one) is held back. */
  function trip(d: Dest, failed: Retry, epoch: number, at: number): void {
    if (failed.reason === 'offline') {
      holdOffline(failed.nextAttemptAt);
      return;
    }
    // Requests already in flight when it tripped do not count again.
    if (epoch === d.epoch) d.failures++;
    d.epoch++;
    // The breaker backs off on its own count: otherwise each probe would go out with a
    // fresh event at attempt 1, and a dead collector would see a steady stream of short-delay attempts.
    d.until = Math.max(d.until, failed.nextAttemptAt, at + backoffDelay(d.failures, o.backoff, o.random));
    d.reason = failed.reason;
    d.probing = true;
    dropFeed(d);
    persistHolds();
    o.onHeld(d.reason);
    void armTimer().catch(() => {});
  }

  function holdOffline(until: number): void {
    offlineUntil = Math.max(offlineUntil, until);
    for (const d of dests.values()) dropFeed(d);
    o.onHeld('offline');
    void armTimer().catch(() => {});
  }

  /** Units not sent go back to the queue (they never left it). */
  function dropFeed(d: Dest): void {
    for (const unit of d.feed.splice(0)) for (const rec of unit.records) unsettled.delete(rec.seq);
  }

  // --- writing outcomes, and announcing them together once written ----------------------
  interface Outcome {
    delivered: { id: string; status: number }[];
    dead: { id: string; status: number; reason: Exclude<DeadLetterReason, 'expired'> }[];
    retried: string[];
    retry?: Retry;
  }
  const blankOutcome = (): Outcome => ({ delivered: [], dead: [], retried: [] });
  let announcing: { outcomes: [Dest | undefined, Outcome][]; dropped: string[] } | undefined;

  function record(d: Dest | undefined, settlements: Settlement[], outcome: Outcome): void {
    if (d) d.writes++;
    writing++;
    o.store
      .settle(settlements)
      .then(
        (r) => {
          for (const s of settlements) unsettled.delete(s.seq);
          announce(d, outcome, r.droppedIds);
        },
        () => {
          // Not written: these stay queued as they were, skipped until the flusher is idle.
          for (const s of settlements) stuck.add(s.seq);
        },
      )
      .finally(() => {
        writing--;
        if (d) d.writes--;
        if (stopped) return;
        if (d && !busy(d)) requestRead();
        settleIfIdle();
      });
  }

  // Outcomes written in one commit are announced together (a microtask later: after every one of them).
  function announce(d: Dest | undefined, outcome: Outcome, dropped: string[]): void {
    if (!announcing) {
      announcing = { outcomes: [], dropped: [] };
      queueMicrotask(flushAnnouncements);
    }
    announcing.outcomes.push([d, outcome]);
    announcing.dropped.push(...dropped);
  }

  function flushAnnouncements(): void {
    const batch = announcing!;
    announcing = undefined;
    const delivered = new Map<number, string[]>();
    const dead = new Map<string, { ids: string[]; status: number }>();
    const retries = new Map<Dest | undefined, { ids: string[]; retry: Retry }>();
    for (const [d, out] of batch.outcomes) {
      for (const x of out.delivered) delivered.set(x.status, [...(delivered.get(x.status) ?? []), x.id]);
      for (const x of out.dead) {
        const group = dead.get(x.reason) ?? { ids: [], status: x.status };
        group.ids.push(x.id);
        dead.set(x.reason, group);
      }
      if (out.retry) {
        const group = retries.get(d) ?? { ids: [], retry: out.retry };
        group.ids.push(...out.retried);
        group.retry = out.retry;
        retries.set(d, group);
      }
    }
    for (const [status, ids] of delivered) o.emit.delivered({ ids, status });
    for (const reason of ['permanent', 'invalid'] as const) {
      const group = dead.get(reason);
      if (group) o.emit.deadLetter({ ids: group.ids, status: group.status, reason });
    }
    for (const [d, { ids, retry }] of retries) {
      // When the next attempt really is: the hold may keep the destination longer than the event's own schedule.
      const nextAttemptAt = Math.max(retry.nextAttemptAt, d?.until ?? 0, offlineUntil);
      o.emit.retry({ ids, status: retry.status, reason: retry.reason, nextAttemptAt });
    }
    if (batch.dropped.length) o.emit.dropped({ ids: batch.dropped, reason: 'dead-letter-overflow' });
    o.emit.changed();
  }

  // --- the timer ------------------------------------------------------------------------
  async function armTimer(): Promise<void> {
    if (stopped) return;
    const next = await nextDue(true);
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    // stop() may have been called while we awaited the store: arm nothing then.
    if (next === undefined || stopped) return;
    // Never longer than the longest wait ever set (a timer that wakes early reads and arms
    // again); setTimeout's delay is a signed 32-bit int, and longer waits would fire at once.
    const delay = Math.min(Math.max(0, next - clock()), maxWait, 2 ** 31 - 1);
    timer = setTimeout(() => {
      timer = undefined;
      requestRead();
    }, delay);
  }

  /**
   * The earliest time something will be sent: held destinations at the end of their hold,
   * the others by the store's schedule, none before the end of an offline hold. For the
   * timer, destinations busy now are left out (their lanes read again when done).
   */
  async function nextDue(forTimer: boolean): Promise<number | undefined> {
    const now = clock();
    // (After a jump, the store's times once it has moved them.)
    if (rebasing) await rebasing;
    const skip = new Set<string>();
    const times: number[] = [];
    for (const d of dests.values()) {
      if (now < d.until) {
        skip.add(d.key);
        times.push(d.until);
      } else if (forTimer && busy(d)) skip.add(d.key);
    }
    const stored = await o.store.nextAttemptAt(skip.size ? skip : undefined);
    if (stored !== undefined) times.push(stored);
    if (times.length === 0) return undefined;
    let next = Math.max(Math.min(...times), offlineUntil);
    // Outcomes that could not be written: not again at once.
    if (forTimer && stuck.size) next = Math.max(next, now + 1000);
    return next;
  }

  // Events past maxAgeMs leave the queue whatever their schedule (a long Retry-After
  // must not keep an expired event queued), swept at most once a second.
  let lastSweep = Number.NEGATIVE_INFINITY;
  async function sweepExpired(now: number): Promise<void> {
    if (now >= lastSweep && now - lastSweep < 1000) return;
    lastSweep = now;
    // Age by the wall clock, less the forward jumps seen lately (clock.ts).
    const cutoff = expiryCutoff(now, o.maxAgeMs, ageSkew);
    for (;;) {
      const { expiredIds, droppedIds } = await o.store.expire(cutoff, o.pageSize);
      if (expiredIds.length) o.emit.deadLetter({ ids: expiredIds, status: 0, reason: 'expired' });
      if (droppedIds.length) o.emit.dropped({ ids: droppedIds, reason: 'dead-letter-overflow' });
      if (expiredIds.length < o.pageSize) break;
    }
    // Keys of delivered events past the de-duplication window.
    // (The same skew: keys of events delivered before a forward jump are kept for their real window.)
    if (o.dedupeWindowMs !== undefined) {
      const before = now - o.dedupeWindowMs - (now - o.maxAgeMs - cutoff);
      while ((await o.store.forget(before, 500)) === 500);
    }
  }

  return {
    kick,
    unblock(reasons) {
      if (reasons.includes('offline')) offlineUntil = 0;
      let changed = false;
      for (const d of dests.values()) {
        if ((d.until > 0 || d.failures > 0) && reasons.includes(d.reason)) {
          d.until = 0;
          d.failures = 0;
          d.probing = false;
          changed = true;
        }
      }
      if (changed) persistHolds();
    },
    inFlight: () => inFlight,
    blockedUntil() {
      const now = clock();
      let until = offlineUntil > now ? offlineUntil : 0;
      for (const d of dests.values()) if (d.until > now) until = Math.max(until, d.until);
      return until;
    },
    destinations() {
      const now = clock();
      return [...dests.values()].map((d) => {
        const heldUntil = Math.max(d.until > now ? d.until : 0, offlineUntil > now ? offlineUntil : 0);
        return {
          destination: d.key,
          heldUntil,
          reason: heldUntil === 0 ? null : d.until > now ? d.reason : 'offline',
          lastStatus: d.lastStatus,
          lastAttemptAt: d.lastAttemptAt,
          inFlight: d.active,
        };
      });
    },
    nextAttemptAt: () => nextDue(false),
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      waiting?.resolve();
      waiting = undefined;
    },
  };
}

/** What the flusher knows of one destination. */
interface Dest {
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

/**
 * A hold (epoch ms, 0: none) after the clock jumped by `jump` at `at`: back, one still
 * ahead moves back with it (not before `at`); forward, one that was still running moves on with it.
 */
function shiftHold(until: number, jump: number, at: number): number {
  if (until <= 0) return until;
  if (jump < 0) return movedBack(until, -jump, at, true);
  return until > at - jump ? until + jump : until;
}
