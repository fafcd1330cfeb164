// Reading due records (pages.ts) through the flusher: pages of `pageSize`, never more;
// expired events leave the queue whatever their schedule. Then the fair share and the
// destinations a read passes over, on their own (a bare context, an injected clock).
import { describe, expect, it } from 'vitest';
import type { QueuedRecord } from '../store/store.js';
import { bareContext, queuedRecord, setup, status, T0, useFlusherTimers } from './flusher.fixture.js';
import { destinationFor } from './context.js';
import { fairShare, passedOver } from './pages.js';

useFlusherTimers();

describe('flusher: pages', () => {
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
});

describe('flusher: age', () => {
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
});

describe('pages: the fair share', () => {
  it('shares a page between the destinations with events queued and not passed over', () => {
    expect(fairShare({ a: 2000, b: 5 }, new Set(), 50)).toEqual({ open: 2, share: 25 });
    expect(fairShare({ a: 2000, b: 5, c: 1 }, new Set(), 50)).toEqual({ open: 3, share: 17 });
    // One open destination (or none) takes the whole page.
    expect(fairShare({ a: 2000, b: 5 }, new Set(['b']), 50)).toEqual({ open: 1, share: undefined });
    expect(fairShare({ a: 0, b: 5 }, new Set(['b']), 50)).toEqual({ open: 0, share: undefined });
    expect(fairShare({}, new Set(), 50)).toEqual({ open: 0, share: undefined });
  });

  it('passes over destinations held, with units in hand, or probing with a request out', () => {
    const { ctx, clock, feed } = bareContext();
    const free = destinationFor(ctx, 'https://free.example');
    const heldBack = destinationFor(ctx, 'https://held.example');
    const fed = destinationFor(ctx, 'https://fed.example');
    const probing = destinationFor(ctx, 'https://probing.example');
    heldBack.until = T0 + 1;
    feed(fed, queuedRecord(1, 'f1'));
    probing.probing = true;
    probing.active = 1;
    expect([...passedOver(ctx, T0)].sort()).toEqual(['https://fed.example', 'https://held.example', 'https://probing.example']);
    // At the end of its hold, and a probe with no request out: read again.
    clock.now = T0 + 1;
    probing.active = 0;
    expect([...passedOver(ctx, T0 + 1)]).toEqual(['https://fed.example']);
    // Offline: every destination.
    ctx.offlineUntil = T0 + 2;
    expect(passedOver(ctx, T0 + 1).has(free.key)).toBe(true);
  });
});
