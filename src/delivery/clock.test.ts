// The wall clock jumps, the monotonic one does not: the pure pieces (jump detection, the
// age cutoff, a hold shifted), then the flusher on an injected clock that jumps both ways, with the real
// store (fake-indexeddb): nothing waits longer than it was asked to, nothing is sent
// sooner than a collector asked, nothing expires by a jump.
import { describe, expect, it, vi } from 'vitest';
import { type EnqueueLimits, type Store, openStore } from '../store/store.js';
import { CLOCK_TOLERANCE_MS, NO_SKEW, addSkew, expiryCutoff, movedBack, watchClock } from '../clock.js';
import { OK, T0, cleanUp, status, useFlusherTimers } from './flusher.fixture.js';
import { type Flusher, createFlusher } from './flusher.js';
import { shiftHold } from './jumps.js';
import type { SendResult } from './policy.js';
import type { Sendable } from './send.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('watchClock', () => {
  it('with a monotonic clock: jumps both ways, exactly, once each', () => {
    const c = { wall: T0, mono: 50 };
    const read = watchClock(
      () => c.wall,
      () => c.mono,
    );
    expect(read()).toEqual({ now: T0, jump: 0 });
    c.wall += 500;
    c.mono += 500;
    expect(read()).toEqual({ now: T0 + 500, jump: 0 });
    c.wall -= HOUR;
    expect(read()).toEqual({ now: T0 + 500 - HOUR, jump: -HOUR });
    expect(read().jump).toBe(0);
    c.wall += DAY;
    expect(read()).toEqual({ now: T0 + 500 - HOUR + DAY, jump: DAY });
    expect(read().jump).toBe(0);
    // Drift within the tolerance is no jump.
    c.wall += CLOCK_TOLERANCE_MS;
    expect(read().jump).toBe(0);
  });

  it('without one: back jumps, measured from the latest reading (a lower bound)', () => {
    const c = { wall: T0 };
    const read = watchClock(() => c.wall);
    read();
    c.wall = T0 + 10_000;
    read();
    c.wall = T0 + 20_000 - HOUR; // really 10 s later, an hour back: seen as 1 h − 10 s
    expect(read()).toEqual({ now: c.wall, jump: -(HOUR - 20_000 + 10_000) });
    c.wall += DAY;
    expect(read().jump).toBe(0); // forward: cannot be told from time passing
    c.wall -= CLOCK_TOLERANCE_MS; // a small step back
    expect(read().jump).toBe(0);
  });
});

describe('movedBack, expiryCutoff', () => {
  it('moves only times ahead of now; a deadline not before now', () => {
    expect(movedBack(T0 + 10, HOUR, T0)).toBe(T0 + 10 - HOUR);
    expect(movedBack(T0 + 10, HOUR, T0, true)).toBe(T0);
    expect(movedBack(T0 + HOUR + 10, HOUR, T0, true)).toBe(T0 + 10);
    expect(movedBack(T0 - 5, HOUR, T0, true)).toBe(T0 - 5);
  });

  it('leaves a forward jump out of age for maxAgeMs after it, then counts it', () => {
    const maxAge = 7 * DAY;
    expect(expiryCutoff(T0, maxAge, NO_SKEW)).toBe(T0 - maxAge);
    const skew = addSkew(NO_SKEW, DAY, T0, maxAge);
    expect(skew).toEqual({ ms: DAY, since: T0 });
    expect(expiryCutoff(T0, maxAge, skew)).toBe(T0 - maxAge - DAY);
    expect(expiryCutoff(T0 + maxAge - 1, maxAge, skew)).toBe(T0 - 1 - DAY);
    expect(expiryCutoff(T0 + maxAge, maxAge, skew)).toBe(T0);
    // Two jumps close together add up; a lapsed one does not.
    expect(addSkew(skew, HOUR, T0 + 1000, maxAge)).toEqual({ ms: DAY + HOUR, since: T0 + 1000 });
    expect(addSkew(skew, HOUR, T0 + maxAge, maxAge)).toEqual({ ms: HOUR, since: T0 + maxAge });
  });
});

describe('shiftHold: a hold after a jump', () => {
  it('back: one still ahead moves back with it, not before now; forward: one still running moves on', () => {
    expect(shiftHold(0, -HOUR, T0)).toBe(0);
    expect(shiftHold(T0 + 60_000, -HOUR, T0)).toBe(T0);
    expect(shiftHold(T0 + 2 * HOUR, -HOUR, T0)).toBe(T0 + HOUR);
    // Forward a day at T0 + DAY: a hold to T0 + 60 s was running (it moves on), one that ended before did not.
    expect(shiftHold(T0 + 60_000, DAY, T0 + DAY)).toBe(T0 + DAY + 60_000);
    expect(shiftHold(T0 - 1, DAY, T0 + DAY)).toBe(T0 - 1);
  });
});

// --- the flusher ------------------------------------------------------------------------

const A = 'https://a.example/v1/events';
const B = 'https://b.example/v1/events';
const ROOMY: EnqueueLimits = { maxQueueSize: 10_000, overflow: 'drop-oldest' };
let dbCounter = 0;

useFlusherTimers();

interface Setup {
  /** Without it the flusher sees back jumps only. */
  monotonic?: boolean;
  maxAgeMs?: number;
  name?: string;
  clock?: { wall: number; mono: number };
}

/** A flusher (backoff {baseMs 1000, maxMs 3000}, as in the issue) on a store of its own, both on one wall clock. */
function setup(options: Setup = {}) {
  const clock = options.clock ?? { wall: T0, mono: 0 };
  const name = options.name ?? `clock-flusher-${++dbCounter}-${Math.random().toString(36).slice(2)}`;
  const store: Store = openStore({ name, now: () => clock.wall });
  /** Scripted answers per id, each used once; then 200. */
  const script = new Map<string, SendResult[]>();
  const sent: { id: string; at: number }[] = [];
  const delivered = new Set<string>();
  const send = async (event: Sendable): Promise<SendResult> => {
    sent.push({ id: event.id, at: clock.wall });
    const answer = script.get(event.id)?.shift() ?? OK;
    if (answer.kind === 'response' && answer.status === 200) delivered.add(event.id);
    return answer;
  };
  const expired: string[] = [];
  const flusher: Flusher = createFlusher({
    store,
    send,
    backoff: { baseMs: 1000, maxMs: 3000 },
    maxAgeMs: options.maxAgeMs ?? 7 * DAY,
    concurrency: 6,
    pageSize: 50,
    now: () => clock.wall,
    ...(options.monotonic === false ? {} : { monotonic: () => clock.mono }),
    random: () => 0.5,
    isOffline: () => false,
    onHeld: () => {},
    emit: {
      delivered: () => {},
      retry: () => {},
      deadLetter: (d) => d.reason === 'expired' && expired.push(...d.ids),
      dropped: () => {},
      changed: () => {},
    },
  });
  const stop = () => {
    flusher.stop();
    store.close();
  };
  cleanUp(stop);
  const enqueue = (url: string, ...ids: string[]) =>
    store.enqueue(
      ids.map((id) => ({ id, url, body: JSON.stringify({ id }) })),
      ROOMY,
    );
  /** Real time passes: both clocks. */
  const pass = (ms: number) => {
    clock.wall += ms;
    clock.mono += ms;
  };
  /** The wall clock jumps (the monotonic one does not). */
  const jump = (ms: number) => {
    clock.wall += ms;
  };
  return { clock, name, store, flusher, script, sent, delivered, expired, enqueue, pass, jump, stop };
}

const five = (prefix: string) => Array.from({ length: 5 }, (_, i) => `${prefix}${i}`);

describe.each([
  ['with a monotonic clock', true],
  ['without one', false],
])('flusher: the clock goes back an hour (%s)', (_label, monotonic) => {
  it('five events that got a 503 each, and five new ones, go within backoff.maxMs of the jump', async () => {
    const t = setup({ monotonic });
    await t.enqueue(A, ...five('old'));
    for (const id of five('old')) t.script.set(id, [status(503)]);
    await t.flusher.kick();
    expect(t.sent).toHaveLength(5);
    expect(t.delivered.size).toBe(0);

    t.pass(200);
    t.jump(-HOUR);
    await t.enqueue(A, ...five('new'));
    await t.flusher.kick();
    // Held still (the breaker's 500 ms), but by a wait no longer than asked: not an hour.
    const now = t.clock.wall;
    expect(t.flusher.blockedUntil()).toBeGreaterThan(now);
    expect(t.flusher.blockedUntil()).toBeLessThanOrEqual(now + 3000);
    expect((await t.flusher.nextAttemptAt())!).toBeLessThanOrEqual(now + 3000);

    t.pass(3000);
    await t.flusher.kick();
    expect([...t.delivered].sort()).toEqual([...five('new'), ...five('old')].sort());
  });

  it('a healthy destination’s new events go at once; the timer fires within maxMs by itself', async () => {
    const t = setup({ monotonic });
    await t.enqueue(A, 'a');
    t.script.set('a', [status(503)]);
    await t.flusher.kick();
    t.jump(-HOUR);
    await t.enqueue(B, 'b');
    await t.flusher.kick();
    expect(t.delivered).toEqual(new Set(['b']));
    // Nobody kicks: the flusher's own timer brings 'a' within backoff.maxMs.
    t.pass(3000);
    await vi.advanceTimersByTimeAsync(3000);
    await vi.waitFor(() => expect(t.delivered).toEqual(new Set(['a', 'b'])));
  });

  it('a worker started after the jump (a new flusher on the same store) waits no longer either', async () => {
    const first = setup({ monotonic });
    await first.enqueue(A, ...five('old'));
    for (const id of five('old')) first.script.set(id, [status(503)]);
    await first.flusher.kick();
    first.stop();

    const clock = { wall: first.clock.wall - HOUR, mono: 0 };
    const t = setup({ monotonic, name: first.name, clock });
    await t.flusher.kick();
    expect(t.sent).toEqual([]); // the persisted hold, moved back with the clock: still 500 ms
    const next = (await t.flusher.nextAttemptAt())!;
    expect(next - clock.wall).toBeLessThanOrEqual(3000);
    expect(t.flusher.blockedUntil() - clock.wall).toBeLessThanOrEqual(3000);
    t.pass(3000);
    await t.flusher.kick();
    expect([...t.delivered].sort()).toEqual(five('old'));
  });

  it('a Retry-After of 60 s is still honoured in full: not sooner, and not an hour later', async () => {
    const t = setup({ monotonic });
    await t.enqueue(A, 'a');
    t.script.set('a', [status(429, '60')]);
    await t.flusher.kick();
    t.jump(-HOUR);
    await t.flusher.kick(); // (sees the jump)
    t.pass(59_000);
    await t.flusher.kick();
    expect(t.sent.map((s) => s.id)).toEqual(['a']);
    t.pass(1000);
    await t.flusher.kick();
    expect(t.delivered).toEqual(new Set(['a']));
  });

  it('expiry still runs, by the event’s real age', async () => {
    const t = setup({ monotonic, maxAgeMs: 10_000 });
    await t.enqueue(A, 'a');
    t.script.set(
      'a',
      Array.from({ length: 20 }, () => status(503)),
    );
    await t.flusher.kick();
    t.pass(4000);
    await t.flusher.kick(); // a retry, and a sweep: written 4 s after it was created
    t.jump(-HOUR);
    await t.flusher.kick();
    expect(t.expired).toEqual([]);
    t.pass(6001); // 10 s after it was created
    await t.flusher.kick();
    expect(t.expired).toEqual(['a']);
  });
});

describe('flusher: the clock goes forward a day', () => {
  it('seen while running: nothing expires by the jump, a Retry-After keeps its real length', async () => {
    const t = setup({ maxAgeMs: HOUR });
    await t.enqueue(A, 'a');
    t.script.set('a', [status(429, '60')]);
    await t.flusher.kick();
    t.pass(1000);
    t.jump(DAY);
    await t.flusher.kick();
    expect(t.expired).toEqual([]);
    expect(t.sent).toHaveLength(1); // held: 59 s of its Retry-After are left
    t.pass(59_000);
    await t.flusher.kick();
    expect(t.delivered).toEqual(new Set(['a']));
  });

  it('the skew is persisted: a worker started later does not expire the event either, until maxAgeMs really passed', async () => {
    const first = setup({ maxAgeMs: HOUR });
    await first.enqueue(A, 'a');
    first.script.set('a', [status(503)]);
    await first.flusher.kick();
    first.jump(DAY);
    await first.flusher.kick(); // sees the jump, saves the skew
    first.stop();

    const clock = { wall: first.clock.wall + 1000, mono: 0 };
    const t = setup({ name: first.name, clock, maxAgeMs: HOUR });
    t.script.set(
      'a',
      Array.from({ length: 50 }, () => status(503)),
    );
    await t.flusher.kick();
    expect(t.expired).toEqual([]);
    t.pass(HOUR);
    await t.flusher.kick();
    expect(t.expired).toEqual(['a']);
  });

  it('while no flusher runs, a jump is time passing (a browser closed a day): it counts', async () => {
    const first = setup({ maxAgeMs: HOUR });
    await first.enqueue(A, 'a');
    first.script.set('a', [status(503)]);
    await first.flusher.kick();
    first.stop();
    const t = setup({ name: first.name, clock: { wall: first.clock.wall + DAY, mono: 0 }, maxAgeMs: HOUR });
    await t.flusher.kick();
    expect(t.expired).toEqual(['a']);
  });
});
