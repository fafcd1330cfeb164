import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeadLetterDetail, DeliveredDetail, DroppedDetail, RetryDetail } from '../protocol.js';
import { type EnqueueLimits, type NewRecord, type QueuedRecord, type Store, openStore } from '../store/store.js';
import { type BlockReason, type Flusher, createFlusher } from './flusher.js';
import type { SendResult } from './policy.js';
import { type Sendable, wholeBody } from './send.js';

const T0 = 1_700_000_000_000;
const URL_ = 'https://collector.example/v1/events';
const ROOMY: EnqueueLimits = { maxQueueSize: 100_000, overflow: 'drop-oldest' };
const OK: SendResult = { kind: 'response', status: 200, retryAfter: null };
const status = (s: number, retryAfter: string | null = null): SendResult => ({ kind: 'response', status: s, retryAfter });

let dbCounter = 0;
const cleanups: (() => void)[] = [];

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

interface SetupOptions {
  refuse?: (record: QueuedRecord) => string | undefined;
  concurrency?: number;
  pageSize?: number;
  maxAgeMs?: number;
  maxDeadLetters?: number;
  batch?: { maxVisitors: number; maxBytes: number };
}

function setup(options: SetupOptions = {}) {
  const clock = { now: T0 };
  const net = { offline: false };
  const name = `flusher-test-${++dbCounter}-${Math.random().toString(36).slice(2)}`;
  const store: Store = openStore({
    name,
    now: () => clock.now,
    ...(options.maxDeadLetters !== undefined ? { maxDeadLetters: options.maxDeadLetters } : {}),
  });
  /** What each request carried, its body whole. */
  const sent: (Sendable & { body: string })[] = [];
  /** Scripted answers: by id, else the default. */
  const script = new Map<string, SendResult | (() => SendResult | Promise<SendResult>)>();
  let fallback: SendResult = OK;
  const send = vi.fn(async (event: Sendable): Promise<SendResult> => {
    sent.push({ id: event.id, url: event.url, body: wholeBody(event) });
    const answer = script.get(event.id);
    if (typeof answer === 'function') return answer();
    return answer ?? fallback;
  });
  const held: BlockReason[] = [];
  const events = {
    delivered: [] as DeliveredDetail[],
    retry: [] as RetryDetail[],
    deadLetter: [] as DeadLetterDetail[],
    dropped: [] as DroppedDetail[],
    changed: 0,
  };
  const readDue = vi.spyOn(store, 'readDue');
  const flusher: Flusher = createFlusher({
    store,
    send,
    backoff: { baseMs: 1000, maxMs: 60_000 },
    maxAgeMs: options.maxAgeMs ?? 7 * 24 * 3600_000,
    concurrency: options.concurrency ?? 1,
    pageSize: options.pageSize ?? 50,
    now: () => clock.now,
    random: () => 0.5,
    isOffline: () => net.offline,
    ...(options.refuse ? { refuse: options.refuse } : {}),
    ...(options.batch ? { batch: options.batch } : {}),
    onHeld: (reason) => held.push(reason),
    emit: {
      delivered: (d) => events.delivered.push(d),
      retry: (d) => events.retry.push(d),
      deadLetter: (d) => events.deadLetter.push(d),
      dropped: (d) => events.dropped.push(d),
      changed: () => events.changed++,
    },
  });
  cleanups.push(() => {
    flusher.stop();
    store.close();
  });

  const enqueue = async (...ids: string[]) => {
    const records: NewRecord[] = ids.map((id) => ({ id, url: URL_, body: JSON.stringify({ id }) }));
    await store.enqueue(records, ROOMY);
  };
  const queued = async (): Promise<QueuedRecord[]> => store.readDue(Number.MAX_SAFE_INTEGER, 100_000);
  const queuedById = async (id: string) => (await queued()).find((r) => r.id === id);
  return {
    clock,
    net,
    store,
    flusher,
    send,
    sent,
    sentIds: () => sent.map((e) => e.id),
    script,
    setFallback: (r: SendResult) => {
      fallback = r;
    },
    held,
    events,
    readDue,
    enqueue,
    queued,
    queuedById,
  };
}

/** A few IndexedDB round trips: lets background work of the flusher (arming its timer) finish. */
async function idle(store: Store) {
  for (let i = 0; i < 3; i++) await store.counters();
}

beforeEach(() => {
  // Only the flusher's timers are faked; fake-indexeddb schedules with setImmediate.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});

afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  vi.clearAllTimers();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe.each([1, 4])('flusher with concurrency %i', (concurrency) => {
  it('sends due events in insertion order and deletes each only after its 200', async () => {
    const t = setup({ concurrency });
    await t.enqueue('a', 'b', 'c', 'd', 'e');
    const stillQueuedDuringSend: boolean[] = [];
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      t.script.set(id, async () => {
        stillQueuedDuringSend.push((await t.queuedById(id)) !== undefined);
        return OK;
      });
    }
    await t.flusher.kick();

    expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(t.sent[0]).toMatchObject({ id: 'a', url: URL_, body: '{"id":"a"}' });
    expect(stillQueuedDuringSend).toEqual([true, true, true, true, true]);
    expect(await t.queued()).toEqual([]);
    expect(await t.store.counters()).toEqual({ queued: 0, deadLettered: 0, delivered: 5, dropped: 0, retried: 0 });
    expect(t.events.delivered.flatMap((d) => d.ids)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(t.events.delivered.every((d) => d.status === 200)).toBe(true);
    expect(t.events.changed).toBeGreaterThanOrEqual(1);
    expect(t.events.retry).toEqual([]);
    expect(t.events.deadLetter).toEqual([]);
    expect(t.held).toEqual([]);
    expect(t.flusher.blockedUntil()).toBe(0);
    expect(t.flusher.inFlight()).toBe(0);
  });

  it('does nothing (and sends nothing) on an empty queue', async () => {
    const t = setup({ concurrency });
    await t.flusher.kick();
    expect(t.send).not.toHaveBeenCalled();
    expect(t.readDue).toHaveBeenCalledTimes(1);
    expect(t.events.changed).toBe(0);
  });

  it('400 dead-letters the event and the pass continues', async () => {
    const t = setup({ concurrency });
    await t.enqueue('a', 'b', 'c');
    t.script.set('a', status(400));
    await t.flusher.kick();

    expect(t.sentIds()).toEqual(['a', 'b', 'c']);
    expect(await t.queued()).toEqual([]);
    const dead = await t.store.deadLetters();
    expect(dead.map((d) => [d.id, d.reason, d.status, d.tries])).toEqual([['a', 'permanent', 400, 1]]);
    expect(await t.store.counters()).toMatchObject({ queued: 0, deadLettered: 1, delivered: 2 });
    expect(t.events.deadLetter).toEqual([{ ids: ['a'], status: 400, reason: 'permanent' }]);
    expect(t.events.delivered.flatMap((d) => d.ids)).toEqual(['b', 'c']);
    expect(t.held).toEqual([]);
    expect(t.flusher.blockedUntil()).toBe(0);
  });

  it('a network error while online grows attempts and holds for "network"', async () => {
    const t = setup({ concurrency });
    await t.enqueue('a');
    t.setFallback({ kind: 'network-error', offline: false, message: 'Failed to fetch' });
    await t.flusher.kick();

    expect(t.sentIds()).toEqual(['a']);
    // attempt 1: ceiling 1000 ms, random 0.5 → 500 ms.
    expect(await t.queuedById('a')).toMatchObject({ attempts: 1, tries: 1, hold: 'network', lastStatus: 0, nextAttemptAt: T0 + 500 });
    expect(t.held).toEqual(['network']);
    expect(t.flusher.blockedUntil()).toBe(T0 + 500);
    expect(t.events.retry).toEqual([{ ids: ['a'], status: 0, reason: 'network', nextAttemptAt: T0 + 500 }]);

    // Second failure: attempts 2, ceiling 2000 → 1000 ms.
    t.clock.now = T0 + 500;
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'a']);
    expect(await t.queuedById('a')).toMatchObject({ attempts: 2, tries: 2, hold: 'network', nextAttemptAt: T0 + 1500 });
    expect(t.held).toEqual(['network', 'network']);
    expect(await t.store.counters()).toMatchObject({ queued: 1, retried: 2, delivered: 0 });
  });
});

describe('flusher: breaker on retryable failures', () => {
  it('a 503 reschedules with attempts 1 and stops the pass (concurrency 1)', async () => {
    const t = setup({ concurrency: 1 });
    await t.enqueue('a', 'b', 'c');
    t.script.set('a', status(503));
    await t.flusher.kick();

    expect(t.sentIds()).toEqual(['a']);
    const a = await t.queuedById('a');
    expect(a).toMatchObject({ attempts: 1, tries: 1, hold: 'server', lastStatus: 503, nextAttemptAt: T0 + 500 });
    expect(await t.queuedById('b')).toMatchObject({ attempts: 0, tries: 0, nextAttemptAt: T0 });
    expect(await t.queuedById('c')).toMatchObject({ attempts: 0, tries: 0, nextAttemptAt: T0 });
    expect(t.flusher.blockedUntil()).toBe(a!.nextAttemptAt);
    expect(t.held).toEqual(['server']);
    expect(t.events.retry).toEqual([{ ids: ['a'], status: 503, reason: 'server', nextAttemptAt: T0 + 500 }]);
    expect(await t.store.counters()).toEqual({ queued: 3, deadLettered: 0, delivered: 0, dropped: 0, retried: 1 });

    // Kicked again before the deadline: the breaker holds, nothing is sent.
    t.clock.now = T0 + 499;
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a']);

    // At the deadline everything goes, in insertion order.
    t.clock.now = T0 + 500;
    t.script.delete('a');
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'a', 'b', 'c']);
    expect(await t.queued()).toEqual([]);
    expect(await t.store.counters()).toMatchObject({ queued: 0, delivered: 3, retried: 1 });
  });

  it('a 503 with concurrency 4 lets the requests already in flight finish and sends nothing more', async () => {
    const t = setup({ concurrency: 4 });
    await t.enqueue('a', 'b', 'c', 'd', 'e', 'f');
    t.script.set('a', status(503));
    await t.flusher.kick();

    expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd']);
    expect((await t.queued()).map((r) => r.id)).toEqual(['e', 'f', 'a']);
    expect(await t.queuedById('a')).toMatchObject({ attempts: 1, nextAttemptAt: T0 + 500 });
    expect(t.flusher.blockedUntil()).toBe(T0 + 500);
    expect(t.events.delivered.flatMap((d) => d.ids)).toEqual(['b', 'c', 'd']);
    expect(t.held).toEqual(['server']);
  });

  it('Retry-After sets the deadline (and the breaker) instead of jitter', async () => {
    const t = setup({ concurrency: 1 });
    await t.enqueue('a', 'b');
    t.script.set('a', status(429, '30'));
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a']);
    expect(await t.queuedById('a')).toMatchObject({ attempts: 1, nextAttemptAt: T0 + 30_000, lastStatus: 429 });
    expect(t.flusher.blockedUntil()).toBe(T0 + 30_000);
  });

  it('a mixed page with concurrency 4 emits each outcome with its ids', async () => {
    const t = setup({ concurrency: 4, maxDeadLetters: 1 });
    await t.enqueue('a', 'b', 'c', 'd', 'e');
    t.script.set('a', status(400));
    t.script.set('b', status(204));
    t.script.set('c', status(404));
    t.script.set('d', status(500));
    await t.flusher.kick();

    // a's 400 comes back first: its worker goes on to 'e' (only a retry stops the pass).
    expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd', 'e']);
    // One delivered event per distinct status, each with the status the collector gave.
    expect(t.events.delivered).toHaveLength(2);
    expect(t.events.delivered.find((e) => e.status === 204)?.ids).toEqual(['b']);
    expect(t.events.delivered.find((e) => e.status === 200)?.ids).toEqual(['e']);
    expect(t.events.deadLetter).toHaveLength(1);
    expect(t.events.deadLetter[0]!.reason).toBe('permanent');
    expect([...t.events.deadLetter[0]!.ids].sort()).toEqual(['a', 'c']);
    expect(t.events.retry).toEqual([{ ids: ['d'], status: 500, reason: 'server', nextAttemptAt: T0 + 500 }]);
    // maxDeadLetters 1: the older of the two dead letters was dropped.
    expect(t.events.dropped).toHaveLength(1);
    expect(t.events.dropped[0]).toMatchObject({ reason: 'dead-letter-overflow' });
    expect(t.events.dropped[0]!.ids).toHaveLength(1);
    expect(t.events.changed).toBe(1);
    expect(await t.store.counters()).toEqual({ queued: 1, deadLettered: 1, delivered: 2, dropped: 1, retried: 1 });
    expect((await t.queued()).map((r) => r.id)).toEqual(['d']);
    expect(t.held).toEqual(['server']);
  });
});

describe('flusher: connectivity', () => {
  it('offline: nothing is sent, no attempt is spent, onHeld("offline")', async () => {
    const t = setup();
    await t.enqueue('a', 'b');
    t.net.offline = true;
    await t.flusher.kick();

    expect(t.send).not.toHaveBeenCalled();
    expect(t.readDue).not.toHaveBeenCalled();
    expect(t.held).toEqual(['offline']);
    expect(t.flusher.blockedUntil()).toBe(T0 + 1000);
    expect((await t.queued()).map((r) => [r.id, r.attempts, r.tries, r.nextAttemptAt])).toEqual([
      ['a', 0, 0, T0],
      ['b', 0, 0, T0],
    ]);
    expect(await t.store.counters()).toMatchObject({ queued: 2, retried: 0 });

    // Connectivity back: unblock and the next kick sends both.
    t.net.offline = false;
    t.flusher.unblock(['offline', 'network']);
    expect(t.flusher.blockedUntil()).toBe(0);
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'b']);
    expect(await t.queued()).toEqual([]);
  });

  it('a send that fails because the browser went offline does not grow attempts', async () => {
    const t = setup();
    await t.enqueue('a', 'b');
    t.script.set('a', { kind: 'network-error', offline: true, message: 'offline' });
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a']);
    expect(await t.queuedById('a')).toMatchObject({ attempts: 0, tries: 1, hold: 'offline', nextAttemptAt: T0 + 1000 });
    expect(t.held).toEqual(['offline']);
    expect(t.events.retry).toEqual([{ ids: ['a'], status: 0, reason: 'offline', nextAttemptAt: T0 + 1000 }]);
  });

  it('unblock clears only a breaker set for one of the given reasons', async () => {
    const t = setup();
    await t.enqueue('a', 'b');
    t.script.set('a', status(503));
    await t.flusher.kick();
    expect(t.flusher.blockedUntil()).toBe(T0 + 500);
    t.flusher.unblock(['offline', 'network']);
    expect(t.flusher.blockedUntil()).toBe(T0 + 500);
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a']);
    t.flusher.unblock(['server']);
    expect(t.flusher.blockedUntil()).toBe(0);
  });

  it('network-held events are sent again after unblock + release, without waiting', async () => {
    const t = setup();
    await t.enqueue('a', 'b');
    t.script.set('a', { kind: 'network-error', offline: false, message: 'Failed to fetch' });
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a']);

    t.clock.now = T0 + 10;
    t.script.delete('a');
    t.flusher.unblock(['offline', 'network']);
    expect(await t.store.release(['offline', 'network'], t.clock.now)).toBe(1);
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'a', 'b']);
    expect(await t.queued()).toEqual([]);
  });
});

describe('flusher: age, passes, memory, timers', () => {
  it('expired events are dead-lettered as "expired" without being sent', async () => {
    const t = setup({ maxAgeMs: 10_000 });
    await t.enqueue('old');
    t.clock.now = T0 + 5_000;
    await t.enqueue('young');
    t.clock.now = T0 + 10_000; // 'old' is exactly maxAgeMs old: not expired yet
    await t.enqueue('edge');
    t.clock.now = T0 + 10_001;
    await t.flusher.kick();

    expect(t.sentIds()).toEqual(['young', 'edge']);
    const dead = await t.store.deadLetters();
    expect(dead.map((d) => [d.id, d.reason, d.status, d.tries])).toEqual([['old', 'expired', 0, 0]]);
    expect(t.events.deadLetter).toEqual([{ ids: ['old'], status: 0, reason: 'expired' }]);
    expect(await t.store.counters()).toMatchObject({ queued: 0, deadLettered: 1, delivered: 2 });
  });

  it('an event held by a long Retry-After expires at maxAgeMs, not at its next attempt', async () => {
    const t = setup({ maxAgeMs: 10_000 });
    await t.enqueue('held');
    t.script.set('held', status(429, '3600'));
    await t.flusher.kick();
    // Retry-After is honoured (not cut to backoff.maxMs, 60 s here): far beyond maxAgeMs.
    expect(await t.queuedById('held')).toMatchObject({ nextAttemptAt: T0 + 3_600_000 });
    t.flusher.unblock(['server']);
    t.clock.now = T0 + 10_001;
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['held']);
    expect(t.events.deadLetter).toEqual([{ ids: ['held'], status: 0, reason: 'expired' }]);
    expect(await t.store.counters()).toMatchObject({ queued: 0, deadLettered: 1 });
  });

  it('kicks in the same tick cost at most one extra pass', async () => {
    const t = setup();
    await t.enqueue('a');
    // The first kick starts its pass at once; the others share the one queued after it.
    const p1 = t.flusher.kick();
    const p2 = t.flusher.kick();
    const p3 = t.flusher.kick();
    expect(p3).toBe(p2);
    await Promise.all([p1, p2, p3]);
    expect(t.sentIds()).toEqual(['a']);
    // Pass 1: page ['a'], then an empty page. Pass 2: an empty page.
    expect(t.readDue).toHaveBeenCalledTimes(3);
  });

  it('kick() while a request is in flight shares the promise of the running work, answered once all is idle', async () => {
    const t = setup();
    await t.enqueue('a');
    const started = deferred();
    const gate = deferred<SendResult>();
    t.script.set('a', () => {
      started.resolve();
      return gate.promise;
    });

    const p1 = t.flusher.kick();
    await started.promise;
    expect(t.flusher.inFlight()).toBe(1);
    const p2 = t.flusher.kick();
    const p3 = t.flusher.kick();
    expect(p2).toBe(p3);
    expect(p2).toBe(p1);

    let done = false;
    void p1.then(() => {
      done = true;
    });
    await idle(t.store);
    // Not answered while 'a' is out.
    expect(done).toBe(false);
    gate.resolve(OK);
    await p1;
    expect(t.sentIds()).toEqual(['a']);
    // The page ['a']; a read for the first kick meanwhile and one more for the kick that came
    // while it ran (it may have been for an event enqueued since); one once 'a' is done.
    const pages = await Promise.all(t.readDue.mock.results.map((r) => r.value as Promise<QueuedRecord[]>));
    expect(pages.map((p) => p.map((r) => r.id))).toEqual([['a'], [], [], []]);
    expect(t.flusher.inFlight()).toBe(0);
    // Idle now: a new kick is new work.
    expect(t.flusher.kick()).not.toBe(p1);
  });

  it('an event queued during a pass is picked up by the queued pass', async () => {
    const t = setup();
    await t.enqueue('a');
    const started = deferred();
    const gate = deferred<SendResult>();
    t.script.set('a', () => {
      started.resolve();
      return gate.promise;
    });
    const p1 = t.flusher.kick();
    await started.promise;
    await t.enqueue('b');
    const p2 = t.flusher.kick();
    gate.resolve(OK);
    await Promise.all([p1, p2]);
    expect(t.sentIds()).toEqual(['a', 'b']);
    expect(await t.queued()).toEqual([]);
  });

  it.each([1, 4])(
    'drains 2,000 events in pages of 50, never reading more (concurrency %i)',
    async (concurrency) => {
      const t = setup({ concurrency, pageSize: 50 });
      const ids = Array.from({ length: 2000 }, (_, i) => `e${String(i).padStart(4, '0')}`);
      await t.enqueue(...ids);
      await t.flusher.kick();

      expect(t.readDue.mock.calls.every(([, limit]) => limit === 50)).toBe(true);
      const pages = await Promise.all(t.readDue.mock.results.map((r) => r.value as Promise<QueuedRecord[]>));
      expect(Math.max(...pages.map((p) => p.length))).toBe(50);
      // 40 full pages and a last empty read.
      expect(pages.length).toBe(41);
      expect(t.sentIds()).toEqual(ids);
      expect(await t.queued()).toEqual([]);
      expect(await t.store.counters()).toEqual({ queued: 0, deadLettered: 0, delivered: 2000, dropped: 0, retried: 0 });
    },
    30_000,
  );

  it('reads the next page while the last request of a page is in flight, without the events of that page', async () => {
    const t = setup({ concurrency: 1, pageSize: 2 });
    await t.enqueue('a', 'b', 'c', 'd', 'e');
    const started = deferred();
    const gate = deferred<SendResult>();
    t.script.set('b', () => {
      started.resolve();
      return gate.promise;
    });
    const pass = t.flusher.kick();
    await started.promise;
    await idle(t.store);
    // 'b' is still in flight: the next page has been read already, and holds neither a nor b.
    expect(t.readDue).toHaveBeenCalledTimes(2);
    expect([...(t.readDue.mock.calls[1]![2] ?? [])].length).toBe(2);
    expect(((await t.readDue.mock.results[1]!.value) as QueuedRecord[]).map((r) => r.id)).toEqual(['c', 'd']);
    gate.resolve(OK);
    await pass;
    expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await t.queued()).toEqual([]);
  });

  it('a lane done with its request goes on with the next page while the slowest request of the page is still out', async () => {
    const t = setup({ concurrency: 2, pageSize: 2 });
    await t.enqueue('a', 'b', 'c', 'd', 'e', 'f');
    const gate = deferred<SendResult>();
    t.script.set('a', () => gate.promise);
    const pass = t.flusher.kick();
    // 'a' is held: the other lane sends b, then the next pages (c, d, then e, f), none of them twice.
    await vi.waitFor(() => expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']));
    await vi.waitFor(() => expect(t.events.delivered.flatMap((d) => d.ids).sort()).toEqual(['b', 'c', 'd', 'e', 'f']));
    gate.resolve(OK);
    await pass;
    expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    // Each outcome is announced once written, not held back by a slower request: a, alone, last.
    expect(t.events.delivered.at(-1)!.ids).toEqual(['a']);
    expect(await t.queued()).toEqual([]);
  });

  it('arms a timer for the breaker deadline, which starts the next pass', async () => {
    const t = setup();
    await t.enqueue('a', 'b');
    t.script.set('a', status(503));
    await t.flusher.kick();
    await idle(t.store);
    expect(vi.getTimerCount()).toBe(1);
    const reads = t.readDue.mock.calls.length;

    t.script.delete('a');
    t.clock.now = T0 + 499;
    vi.advanceTimersByTime(499);
    expect(t.readDue.mock.calls.length).toBe(reads);

    t.clock.now = T0 + 500;
    vi.advanceTimersByTime(1);
    // The timer kicked: a pass started (it sweeps expired events, then reads what is due).
    await idle(t.store);
    expect(t.readDue.mock.calls.length).toBeGreaterThanOrEqual(reads + 1);
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'a', 'b']);
    expect(await t.queued()).toEqual([]);
    await idle(t.store);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() leaves no timer armed, even when called right after a pass', async () => {
    const t = setup();
    await t.enqueue('a', 'b');
    t.script.set('a', status(503));
    await t.flusher.kick();
    t.flusher.stop();
    await idle(t.store);
    expect(vi.getTimerCount()).toBe(0);
    // And a stopped flusher sends nothing.
    t.clock.now = T0 + 60_000;
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a']);
  });

  it('kick() delivers what is due and returns without waiting for a later retry', async () => {
    const t = setup();
    await t.enqueue('a', 'b');
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'b']);
    expect(await t.queued()).toEqual([]);

    // A retry due later: kick() returns without waiting for it (the timer will).
    await t.enqueue('c');
    t.script.set('c', status(503));
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'b', 'c']);
    expect(await t.queuedById('c')).toMatchObject({ attempts: 1, nextAttemptAt: T0 + 500 });
  });
});

describe('flusher: the breaker backs off on its own count', () => {
  it('probes a collector that stays down with one request per pass, at growing intervals, then opens up again', async () => {
    const t = setup({ concurrency: 4 });
    await t.enqueue('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
    const down: SendResult = { kind: 'network-error', offline: false, message: 'refused' };
    t.setFallback(down);

    // First pass: full concurrency, the four lanes all fail.
    await t.flusher.kick();
    expect(t.sent).toHaveLength(4);
    const gaps: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = t.sent.length;
      t.clock.now = t.flusher.blockedUntil();
      const started = t.clock.now;
      await t.flusher.kick();
      // One probe per pass while the collector is down.
      expect(t.sent.length - before).toBe(1);
      gaps.push(t.flusher.blockedUntil() - started);
    }
    // random() = 0.5, baseMs 1000: half of 2 s, 4 s, 8 s, 16 s.
    expect(gaps).toEqual([1000, 2000, 4000, 8000]);

    // The collector is back: the probe succeeds and the rest go at full concurrency, in the same pass.
    t.setFallback(OK);
    t.clock.now = t.flusher.blockedUntil() + 60_000;
    const send = t.send.getMockImplementation()!;
    const inFlight: number[] = [];
    t.send.mockImplementation(async (event: Sendable) => {
      inFlight.push(t.flusher.inFlight());
      return send(event);
    });
    await t.flusher.kick();
    expect(inFlight[0]).toBe(1);
    expect(Math.max(...inFlight)).toBe(4);
    expect(await t.queued()).toEqual([]);
    expect(t.events.delivered.flatMap((d) => d.ids).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
  });

  it('an online nudge (unblock) resets the breaker', async () => {
    const t = setup({ concurrency: 2 });
    await t.enqueue('a', 'b', 'c');
    t.setFallback({ kind: 'network-error', offline: false, message: 'refused' });
    await t.flusher.kick();
    expect(t.flusher.blockedUntil()).toBeGreaterThan(T0);
    t.flusher.unblock(['offline', 'network']);
    expect(t.flusher.blockedUntil()).toBe(0);
  });
});

describe('flusher: records that must not be sent', () => {
  it('dead-letters a refused record as invalid, without sending it, and goes on with the rest', async () => {
    const t = setup({ refuse: (r) => (r.id === 'bad' ? 'corrupted record' : undefined) });
    await t.enqueue('a', 'bad', 'c');
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'c']);
    expect(t.events.deadLetter).toEqual([{ ids: ['bad'], status: 0, reason: 'invalid' }]);
    const [dead] = await t.store.deadLetters();
    expect(dead).toMatchObject({ id: 'bad', reason: 'invalid', detail: 'corrupted record' });
    expect(await t.store.counters()).toMatchObject({ queued: 0, delivered: 2, deadLettered: 1 });
  });
});

describe('flusher with Optimizely batching', () => {
  const optimizely = (id: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      account_id: '1',
      project_id: '2',
      revision: '42',
      client_name: 'js',
      client_version: '6.0.0',
      ...extra,
      visitors: [{ visitor_id: `v-${id}`, snapshots: [{ events: [{ uuid: id }] }] }],
    });
  const enqueueOptimizely = async (t: ReturnType<typeof setup>, ids: string[], extra: Record<string, unknown> = {}) =>
    t.store.enqueue(
      ids.map((id) => ({ id, url: URL_, body: optimizely(id, extra) })),
      ROOMY,
    );
  const visitorsOf = (body: string) => (JSON.parse(body) as { visitors: { visitor_id: string }[] }).visitors.map((v) => v.visitor_id);

  it('sends events of one context as one request, and deletes them all after its 2xx', async () => {
    const t = setup({ batch: { maxVisitors: 100, maxBytes: 1 << 20 }, concurrency: 2 });
    await enqueueOptimizely(t, ['a', 'b', 'c', 'd']);
    await t.flusher.kick();
    expect(t.sent).toHaveLength(1);
    expect(visitorsOf(t.sent[0]!.body)).toEqual(['v-a', 'v-b', 'v-c', 'v-d']);
    expect(await t.queued()).toEqual([]);
    expect((await t.store.counters()).delivered).toBe(4);
    expect(t.events.delivered.flatMap((d) => d.ids).sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('splits a request refused for good until the bad event is alone; the others are delivered', async () => {
    const t = setup({ batch: { maxVisitors: 100, maxBytes: 1 << 20 } });
    await enqueueOptimizely(t, ['a', 'b', 'poison', 'c', 'd', 'e']);
    t.send.mockImplementation(async (event: Sendable) => {
      t.sent.push({ id: event.id, url: event.url, body: wholeBody(event) });
      return wholeBody(event).includes('"poison"') ? status(400) : OK;
    });
    await t.flusher.kick();
    expect(await t.queued()).toEqual([]);
    const counters = await t.store.counters();
    expect(counters).toMatchObject({ delivered: 5, deadLettered: 1 });
    expect((await t.store.deadLetters()).map((d) => d.id)).toEqual(['poison']);
    // Every good visitor delivered exactly once, and the poison sent alone once (the halves go
    // next, in their order: the destination's order holds).
    const deliveredVisitors = t.sent.filter((e) => !e.body.includes('"poison"')).flatMap((e) => visitorsOf(e.body));
    expect(deliveredVisitors.sort()).toEqual(['v-a', 'v-b', 'v-c', 'v-d', 'v-e']);
    expect(t.sent.filter((e) => visitorsOf(e.body).join() === 'v-poison')).toHaveLength(1);
    expect(t.sent.length).toBeLessThanOrEqual(1 + 2 + 2 + 2);
  });

  it('reschedules every event of a request that failed for a retryable reason', async () => {
    const t = setup({ batch: { maxVisitors: 100, maxBytes: 1 << 20 } });
    await enqueueOptimizely(t, ['a', 'b', 'c']);
    t.setFallback(status(503));
    await t.flusher.kick();
    expect(t.sent).toHaveLength(1);
    const queued = await t.queued();
    expect(queued.map((r) => [r.id, r.attempts, r.lastStatus])).toEqual([
      ['a', 1, 503],
      ['b', 1, 503],
      ['c', 1, 503],
    ]);
    expect(t.events.retry.flatMap((r) => r.ids)).toEqual(['a', 'b', 'c']);
  });

  it('keeps contexts apart and sends non-Optimizely bodies untouched', async () => {
    const t = setup({ batch: { maxVisitors: 100, maxBytes: 1 << 20 } });
    await enqueueOptimizely(t, ['a', 'b']);
    await enqueueOptimizely(t, ['c'], { revision: '43' });
    await t.enqueue('plain');
    await t.flusher.kick();
    expect(t.sent.map((e) => (e.body.includes('"plain"') ? 'plain' : visitorsOf(e.body).join('+'))).sort()).toEqual([
      'plain',
      'v-a+v-b',
      'v-c',
    ]);
    expect(t.sent.find((e) => e.id === 'plain')!.body).toBe(JSON.stringify({ id: 'plain' }));
    expect(t.sent.find((e) => e.id === 'c')!.body).toBe(optimizely('c', { revision: '43' }));
  });
});
