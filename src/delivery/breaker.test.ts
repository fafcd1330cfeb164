// A destination's breaker (breaker.ts): through the flusher, a retryable failure holds it,
// its backoff grows on its own count, one probe opens it again, and offline holds every
// destination without growing anyone's backoff; then trip, reopen and unblock on their own,
// on a bare context with an injected clock and random source.
import { describe, expect, it } from 'vitest';
import { OK, T0, bareContext, queuedRecord, setup, status, useFlusherTimers } from './flusher.fixture.js';
import type { SendResult } from './policy.js';
import type { Sendable } from './send.js';
import { blockedUntil, destinationStates, reopen, trip, unblock } from './breaker.js';
import { type Retry, destinationFor } from './context.js';

useFlusherTimers();

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

// --- the breaker's functions on a bare context (no loop runs) -----------------------------

const retry = (nextAttemptAt: number, reason: Retry['reason'] = 'server'): Retry => ({
  kind: 'retry',
  status: 503,
  reason,
  hold: reason === 'server' ? 'server' : 'network',
  attempts: 1,
  tries: 1,
  nextAttemptAt,
});

describe('breaker: trip, reopen, unblock', () => {
  it('a failure holds its destination for the later of its schedule and the breaker backoff, its feed back to the queue', () => {
    const { ctx, saved, held, feed } = bareContext();
    const d = destinationFor(ctx, 'https://a.example');
    const other = destinationFor(ctx, 'https://b.example');
    feed(d, queuedRecord(1, 'a1'), queuedRecord(2, 'a2'));
    feed(other, queuedRecord(3, 'b1'));
    trip(ctx, d, retry(T0 + 200), 0, T0);
    // backoffDelay(1): ceiling 1000 ms, random 0.5 → 500 ms, later than the event's 200 ms.
    expect(d).toMatchObject({ until: T0 + 500, failures: 1, epoch: 1, probing: true, reason: 'server', feed: [] });
    expect([...ctx.unsettled]).toEqual([3]);
    expect(other).toMatchObject({ until: 0, failures: 0, probing: false });
    expect(held).toEqual(['server']);
    expect(saved.at(-1)).toEqual({ 'https://a.example': { until: T0 + 500, reason: 'server', failures: 1, lastStatus: 0 } });
    // A Retry-After beyond the backoff wins.
    trip(ctx, d, retry(T0 + 30_000), 1, T0);
    expect(d).toMatchObject({ until: T0 + 30_000, failures: 2, epoch: 2 });
  });

  it('a request sent before the last trip does not count again, and its success does not reopen', () => {
    const { ctx } = bareContext();
    const d = destinationFor(ctx, 'https://a.example');
    trip(ctx, d, retry(T0), 0, T0);
    trip(ctx, d, retry(T0), 0, T0);
    expect(d).toMatchObject({ failures: 1, epoch: 2 });
    expect(reopen(ctx, d, 1)).toBe(false);
    expect(d).toMatchObject({ probing: true, failures: 1 });
    expect(reopen(ctx, d, 2)).toBe(true);
    expect(d).toMatchObject({ probing: false, failures: 0, until: 0 });
    // Nothing to open: no change, no write.
    expect(reopen(ctx, d, 2)).toBe(false);
  });

  it('offline holds every destination, grows no one’s count, and drops every feed', () => {
    const { ctx, held, feed } = bareContext();
    const a = destinationFor(ctx, 'https://a.example');
    const b = destinationFor(ctx, 'https://b.example');
    feed(b, queuedRecord(1, 'b1'));
    trip(ctx, a, retry(T0 + 1000, 'offline'), 0, T0);
    expect(ctx.offlineUntil).toBe(T0 + 1000);
    expect(a).toMatchObject({ failures: 0, epoch: 0, until: 0 });
    expect(b.feed).toEqual([]);
    expect(ctx.unsettled.size).toBe(0);
    expect(held).toEqual(['offline']);
    expect(blockedUntil(ctx)).toBe(T0 + 1000);
    expect(destinationStates(ctx).map((s) => s.reason)).toEqual(['offline', 'offline']);
    unblock(ctx, ['offline']);
    expect(blockedUntil(ctx)).toBe(0);
  });

  it('unblock clears only holds set for the reasons given, and saves the change', () => {
    const { ctx, saved } = bareContext();
    const a = destinationFor(ctx, 'https://a.example');
    const b = destinationFor(ctx, 'https://b.example');
    trip(ctx, a, retry(T0, 'network'), 0, T0);
    trip(ctx, b, retry(T0, 'server'), 0, T0);
    const writes = saved.length;
    unblock(ctx, ['offline', 'network']);
    expect(a).toMatchObject({ until: 0, failures: 0, probing: false });
    expect(b).toMatchObject({ until: T0 + 500, failures: 1, probing: true });
    expect(saved.length).toBe(writes + 1);
    expect(Object.keys(saved.at(-1)!)).toEqual(['https://b.example']);
    expect(destinationStates(ctx).find((s) => s.destination === 'https://b.example')).toMatchObject({
      heldUntil: T0 + 500,
      reason: 'server',
    });
  });
});
