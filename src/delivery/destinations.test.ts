// Destinations are independent: the flusher's breaker, backoff, probe and lanes are per
// origin. An injected clock and random source; a scripted sender per destination.
import { describe, expect, it, vi } from 'vitest';
import { OK, type SetupOptions, T0, deferred, setup as setupFlusher, status, useFlusherTimers } from './flusher.fixture.js';
import type { SendResult } from './policy.js';

const A = 'https://a.example';
const B = 'https://b.example';
/** Where a destination's events go. */
const at = (origin: string) => `${origin}/v1/events`;
/** Two lanes per destination, unless a test says otherwise. */
const setup = (options: SetupOptions = {}) => setupFlusher({ concurrency: 2, ...options });

useFlusherTimers();

describe('flusher: destinations are independent', () => {
  it('a 503 holds its destination only: the other is delivered in the same kick, and its new events at once', async () => {
    const t = setup();
    t.byOrigin.set(A, status(503));
    await t.enqueueTo(at(A), 'a1', 'a2', 'a3', 'a4', 'a5');
    await t.enqueueTo(at(B), 'b1', 'b2');
    await t.flusher.kick();
    // A: the two requests already out (concurrency 2), then nothing more.
    expect(t.sentTo(A)).toEqual(['a1', 'a2']);
    expect(t.sentTo(B)).toEqual(['b1', 'b2']);
    await t.enqueueTo(at(B), 'b3');
    await t.flusher.kick();
    expect(t.sentTo(B)).toEqual(['b1', 'b2', 'b3']);
    expect(t.sentTo(A)).toEqual(['a1', 'a2']);
    const states = Object.fromEntries(t.flusher.destinations().map((d) => [d.destination, d]));
    expect(states[A]).toMatchObject({ reason: 'server', lastStatus: 503, heldUntil: T0 + 500 });
    expect(states[B]).toMatchObject({ reason: null, lastStatus: 200, heldUntil: 0 });
    expect(await t.store.queuedByDestination()).toEqual({ [A]: 5 });
  });

  it('a request that hangs holds neither the other destination nor kick() callers of it', async () => {
    const t = setup();
    const hang = deferred<SendResult>();
    t.byOrigin.set(A, () => hang.promise);
    await t.enqueueTo(at(A), 'a1');
    void t.flusher.kick();
    await vi.waitFor(() => expect(t.sentTo(A)).toEqual(['a1']));
    await t.enqueueTo(at(B), 'b1');
    void t.flusher.kick();
    await vi.waitFor(() => expect(t.sentTo(B)).toEqual(['b1']));
    await vi.waitFor(async () => expect(await t.store.queuedByDestination()).toEqual({ [A]: 1 }));
    hang.resolve({ kind: 'timeout' });
    await t.flusher.kick();
    expect(t.flusher.destinations().find((d) => d.destination === A)).toMatchObject({ reason: 'timeout', lastStatus: 0 });
  });

  it('fair share: a backlog of 2,000 for a slow destination does not keep the other\u2019s new event waiting', async () => {
    const t = setup({ concurrency: 1, pageSize: 50 });
    const gates: (() => void)[] = [];
    t.byOrigin.set(A, () => new Promise<SendResult>((ok) => gates.push(() => ok(OK))));
    await t.enqueueTo(at(A), ...Array.from({ length: 2000 }, (_, i) => `a${i}`));
    void t.flusher.kick();
    await vi.waitFor(() => expect(gates).toHaveLength(1));
    // B's event comes after A's 2,000 in the queue, and is sent while A's first request is still out.
    await t.enqueueTo(at(B), 'b1');
    void t.flusher.kick();
    await vi.waitFor(() => expect(t.sentTo(B)).toEqual(['b1']));
    expect(t.sentTo(A)).toHaveLength(1);
    // A's feed stays bounded (a page read while it sends), and A drains in order.
    for (let i = 0; i < 5; i++) {
      gates.shift()!();
      await vi.waitFor(() => expect(gates).toHaveLength(1));
    }
    expect(t.sentTo(A)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
  });

  it('fair share within a page: both backlogs queued before the first read, the first page holds both destinations', async () => {
    const t = setup({ concurrency: 1, pageSize: 50 });
    const gates: (() => void)[] = [];
    t.byOrigin.set(A, () => new Promise<SendResult>((ok) => gates.push(() => ok(OK))));
    const readDue = vi.spyOn(t.store, 'readDue');
    await t.enqueueTo(at(A), ...Array.from({ length: 2000 }, (_, i) => `a${i}`));
    await t.enqueueTo(at(B), ...Array.from({ length: 30 }, (_, i) => `b${i}`));
    void t.flusher.kick();
    // All of B is delivered while A's first request is still out.
    await vi.waitFor(() => expect(t.sentTo(B)).toHaveLength(30));
    expect(t.sentTo(A)).toEqual(['a0']);
    // The first page: half each (25 + 25), though A's 2,000 come first in the queue.
    const first = (await readDue.mock.results[0]!.value) as { url: string }[];
    expect(first.filter((r) => r.url.startsWith(A))).toHaveLength(25);
    expect(first.filter((r) => r.url.startsWith(B))).toHaveLength(25);
    // No page holds more of A than its share, nor more than a page ahead of A's one lane.
    for (const r of readDue.mock.results)
      expect(((await r.value) as { url: string }[]).filter((x) => x.url.startsWith(A)).length).toBeLessThanOrEqual(25);
    gates.shift()!();
    await vi.waitFor(() => expect(t.sentTo(A)).toEqual(['a0', 'a1']));
  });

  it('offline holds every destination without growing anyone\u2019s backoff', async () => {
    const t = setup();
    await t.enqueueTo(at(A), 'a1');
    await t.enqueueTo(at(B), 'b1');
    t.net.offline = true;
    await t.flusher.kick();
    expect(t.sent).toHaveLength(0);
    t.net.offline = false;
    t.flusher.unblock(['offline', 'network']);
    await t.flusher.kick();
    expect(t.sent.map((e) => e.id).sort()).toEqual(['a1', 'b1']);
    expect(t.flusher.destinations().every((d) => d.heldUntil === 0)).toBe(true);
  });

  it('a send that fails because the browser went offline holds all, with attempts unchanged', async () => {
    const t = setup({ concurrency: 1 });
    t.byOrigin.set(A, { kind: 'network-error', offline: true, message: 'offline' });
    await t.enqueueTo(at(A), 'a1');
    await t.flusher.kick();
    await t.enqueueTo(at(B), 'b1');
    await t.flusher.kick();
    expect(t.sentTo(B)).toEqual([]);
    const a1 = (await t.store.readDue(Number.MAX_SAFE_INTEGER, 10)).find((r) => r.id === 'a1');
    expect(a1).toMatchObject({ id: 'a1', attempts: 0, tries: 1, hold: 'offline' });
  });

  it('Retry-After holds its destination past backoff.maxMs; no online nudge shortens it; a new flusher on the same store keeps it', async () => {
    const clock = { now: T0 };
    const t = setup({ clock });
    t.byOrigin.set(A, status(429, '120'));
    await t.enqueueTo(at(A), 'a1', 'a2', 'a3');
    await t.flusher.kick();
    expect(t.sentTo(A)).toEqual(['a1', 'a2']);
    t.flusher.unblock(['offline', 'network']);
    clock.now = T0 + 61_000; // past backoff.maxMs
    await t.flusher.kick();
    expect(t.sentTo(A)).toEqual(['a1', 'a2']);

    // The worker restarts: a new flusher, the same store.
    t.flusher.stop();
    const u = setup({ name: t.name, clock });
    await u.enqueueTo(at(B), 'b1');
    await u.flusher.kick();
    expect(u.sentTo(B)).toEqual(['b1']);
    expect(u.sentTo(A)).toEqual([]);
    expect(u.flusher.destinations().find((d) => d.destination === A)).toMatchObject({ reason: 'server', heldUntil: T0 + 120_000 });
    // At the end of the hold: one probe, then the rest.
    clock.now = T0 + 120_000;
    await u.flusher.kick();
    expect(u.sentTo(A).sort()).toEqual(['a1', 'a2', 'a3']);
    expect(await u.store.queuedByDestination()).toEqual({});
  });

  it('a destination that stays down is probed with one request at growing intervals, the other never waits', async () => {
    const t = setup({ concurrency: 4 });
    t.byOrigin.set(A, status(503));
    await t.enqueueTo(at(A), ...Array.from({ length: 20 }, (_, i) => `a${i}`));
    await t.flusher.kick();
    const first = t.sentTo(A).length;
    const holds: number[] = [];
    for (let i = 0; i < 4; i++) {
      const until = t.flusher.destinations().find((d) => d.destination === A)!.heldUntil;
      holds.push(until - t.clock.now);
      t.clock.now = until;
      await t.enqueueTo(at(B), `b${i}`);
      await t.flusher.kick();
    }
    // One probe per hold; each hold longer than the last (the breaker's own count, with jitter 0.5).
    expect(t.sentTo(A).length).toBe(first + 4);
    expect(holds[3]!).toBeGreaterThan(holds[0]!);
    expect(t.sentTo(B)).toEqual(['b0', 'b1', 'b2', 'b3']);
    // It recovers: the probe gets through, then its lanes open up.
    t.byOrigin.delete(A);
    t.clock.now = t.flusher.destinations().find((d) => d.destination === A)!.heldUntil;
    await t.flusher.kick();
    expect(await t.store.queuedByDestination()).toEqual({});
  });
});
