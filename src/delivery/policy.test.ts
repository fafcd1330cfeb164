import { describe, expect, it } from 'vitest';
import { type BackoffOptions, DEFAULT_MAX_RETRY_AFTER_MS, backoffDelay, classifyStatus, decide, parseRetryAfter } from './policy.js';

const B: BackoffOptions = { baseMs: 1000, maxMs: 60_000 };
const zero = () => 0;
const almostOne = () => 0.999999;
const half = () => 0.5;

describe('backoffDelay', () => {
  it('is 0 with random() = 0 for every attempt', () => {
    for (const n of [1, 2, 5, 10, 100]) expect(backoffDelay(n, B, zero)).toBe(0);
  });

  it('is half the ceiling with random() = 0.5 (full jitter over [0, ceiling))', () => {
    expect(backoffDelay(1, B, half)).toBe(500);
    expect(backoffDelay(2, B, half)).toBe(1000);
    expect(backoffDelay(3, B, half)).toBe(2000);
    expect(backoffDelay(4, B, half)).toBe(4000);
    expect(backoffDelay(6, B, half)).toBe(16_000);
  });

  it('stays strictly below the ceiling baseMs*2^(n-1) with random() close to 1', () => {
    expect(backoffDelay(1, B, almostOne)).toBe(999);
    expect(backoffDelay(2, B, almostOne)).toBe(1999);
    expect(backoffDelay(3, B, almostOne)).toBe(3999);
    expect(backoffDelay(6, B, almostOne)).toBe(31_999);
  });

  it('is capped at maxMs (exclusive) for large attempt numbers', () => {
    // 2^6 * 1000 = 64_000 > 60_000: capped.
    expect(backoffDelay(7, B, almostOne)).toBe(59_999);
    expect(backoffDelay(7, B, half)).toBe(30_000);
    expect(backoffDelay(50, B, half)).toBe(30_000);
    // Huge attempt numbers do not overflow into Infinity/NaN.
    expect(backoffDelay(10_000, B, half)).toBe(30_000);
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, B, almostOne)).toBe(59_999);
  });

  it('treats attempt 0 or negative like the first attempt', () => {
    expect(backoffDelay(0, B, half)).toBe(500);
    expect(backoffDelay(-3, B, half)).toBe(500);
  });

  it('keeps every draw inside [0, min(maxMs, baseMs*2^(n-1))) for many random values', () => {
    const options = { baseMs: 250, maxMs: 10_000 };
    for (let n = 1; n <= 12; n++) {
      const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** (n - 1));
      for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999999]) {
        const d = backoffDelay(n, options, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(ceiling);
        expect(Number.isInteger(d)).toBe(true);
      }
    }
  });
});

describe('classifyStatus', () => {
  it.each([200, 201, 202, 204, 299])('%i is delivered', (status) => {
    expect(classifyStatus(status)).toBe('delivered');
  });

  it.each([408, 425, 429, 500, 502, 503, 504, 599])('%i is retried', (status) => {
    expect(classifyStatus(status)).toBe('retry');
  });

  it.each([400, 401, 403, 404, 410, 413, 422, 451])('%i is permanent', (status) => {
    expect(classifyStatus(status)).toBe('permanent');
  });

  it('treats 1xx/3xx (not reachable after redirects) as permanent, not delivered', () => {
    expect(classifyStatus(100)).toBe('permanent');
    expect(classifyStatus(304)).toBe('permanent');
    expect(classifyStatus(300)).toBe('permanent');
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2024, 0, 1, 12, 0, 0);

  it('reads delta-seconds as milliseconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('  5 ', now)).toBe(5000);
  });

  it('reads an HTTP-date in the future as the delay from now', () => {
    expect(parseRetryAfter('Mon, 01 Jan 2024 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 01 Jan 2024 13:00:00 GMT', now)).toBe(3_600_000);
  });

  it('reads an HTTP-date in the past as 0', () => {
    expect(parseRetryAfter('Mon, 01 Jan 2024 11:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', now)).toBe(0);
  });

  it('depends on the injected now, not on the real clock', () => {
    const header = 'Mon, 01 Jan 2024 12:00:30 GMT';
    expect(parseRetryAfter(header, now + 10_000)).toBe(20_000);
    expect(parseRetryAfter(header, now + 60_000)).toBe(0);
  });

  it.each([
    ['garbage', 'soon'],
    ['negative seconds', '-5'],
    ['fractional seconds', '1.5'],
    ['digits with units', '10s'],
    ['a numeric-only date Date.parse would accept', '2024-01-01'],
    ['empty', ''],
    ['blank', '   '],
  ])('is undefined for %s', (_label, header) => {
    expect(parseRetryAfter(header, now)).toBeUndefined();
  });

  it('is undefined for null and undefined', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('decide', () => {
  const now = 1_000_000;
  const fresh = { attempts: 0, tries: 0 };
  const failing = { attempts: 3, tries: 5 };

  it('2xx is delivered', () => {
    expect(decide(fresh, { kind: 'response', status: 200, retryAfter: null }, B, now, half)).toEqual({
      kind: 'delivered',
      status: 200,
    });
    expect(decide(failing, { kind: 'response', status: 204, retryAfter: '60' }, B, now, half)).toEqual({
      kind: 'delivered',
      status: 204,
    });
  });

  it('400 goes to the dead-letter store as permanent', () => {
    expect(decide(fresh, { kind: 'response', status: 400, retryAfter: null }, B, now, half)).toEqual({
      kind: 'dead',
      status: 400,
      reason: 'permanent',
    });
    expect(decide(failing, { kind: 'response', status: 410, retryAfter: '10' }, B, now, half)).toEqual({
      kind: 'dead',
      status: 410,
      reason: 'permanent',
    });
  });

  it('offline does not grow attempts and waits baseMs (no jitter)', () => {
    const d = decide(failing, { kind: 'network-error', offline: true, message: 'offline' }, B, now, almostOne);
    expect(d).toEqual({
      kind: 'retry',
      status: 0,
      reason: 'offline',
      hold: 'offline',
      attempts: 3,
      tries: 6,
      nextAttemptAt: now + 1000,
    });
  });

  it('a network error while online grows attempts and backs off', () => {
    const d = decide(failing, { kind: 'network-error', offline: false, message: 'Failed to fetch' }, B, now, half);
    // attempts 4 → ceiling 1000 * 2^3 = 8000, half of it.
    expect(d).toEqual({
      kind: 'retry',
      status: 0,
      reason: 'network',
      hold: 'network',
      attempts: 4,
      tries: 6,
      nextAttemptAt: now + 4000,
    });
  });

  it('a timeout grows attempts and is held like a server delay', () => {
    const d = decide(fresh, { kind: 'timeout' }, B, now, half);
    expect(d).toEqual({
      kind: 'retry',
      status: 0,
      reason: 'timeout',
      hold: 'server',
      attempts: 1,
      tries: 1,
      nextAttemptAt: now + 500,
    });
  });

  it.each([500, 503, 408, 425, 429])('%i grows attempts with jittered backoff', (status) => {
    const d = decide({ attempts: 1, tries: 1 }, { kind: 'response', status, retryAfter: null }, B, now, half);
    expect(d).toEqual({
      kind: 'retry',
      status,
      reason: 'server',
      hold: 'server',
      attempts: 2,
      tries: 2,
      nextAttemptAt: now + 1000,
    });
  });

  it('uses the injected random source (0 → due at once, ~1 → just under the ceiling)', () => {
    const r503 = { kind: 'response', status: 503, retryAfter: null } as const;
    expect(decide(fresh, r503, B, now, zero)).toMatchObject({ attempts: 1, nextAttemptAt: now });
    expect(decide(fresh, r503, B, now, almostOne)).toMatchObject({ attempts: 1, nextAttemptAt: now + 999 });
  });

  it('Retry-After (seconds) replaces the jittered delay', () => {
    for (const random of [zero, half, almostOne]) {
      const d = decide(fresh, { kind: 'response', status: 429, retryAfter: '30' }, B, now, random);
      expect(d).toMatchObject({ kind: 'retry', attempts: 1, tries: 1, hold: 'server', nextAttemptAt: now + 30_000 });
    }
  });

  it('Retry-After (HTTP date) is measured from now', () => {
    const at = new Date(now + 45_000).toUTCString();
    // toUTCString has second precision; `now` is a whole second here.
    const d = decide(fresh, { kind: 'response', status: 503, retryAfter: at }, B, now, zero);
    expect(d).toMatchObject({ kind: 'retry', nextAttemptAt: now + 45_000 });
  });

  it('Retry-After is honoured beyond backoff.maxMs (a collector asking for 2 s is not hit after 1 s)', () => {
    const small: BackoffOptions = { baseMs: 100, maxMs: 1000 };
    const d = decide(fresh, { kind: 'response', status: 429, retryAfter: '2' }, small, now, almostOne);
    expect(d).toMatchObject({ kind: 'retry', nextAttemptAt: now + 2000 });
    const date = decide(fresh, { kind: 'response', status: 503, retryAfter: new Date(now + 120_000).toUTCString() }, small, now, zero);
    expect(date).toMatchObject({ kind: 'retry', nextAttemptAt: now + 120_000 });
  });

  it('Retry-After is capped at maxRetryAfterMs, one hour by default', () => {
    expect(DEFAULT_MAX_RETRY_AFTER_MS).toBe(3600_000);
    const day = { kind: 'response', status: 503, retryAfter: '86400' } as const;
    expect(decide(fresh, day, B, now, half)).toMatchObject({ kind: 'retry', nextAttemptAt: now + 3600_000 });
    expect(decide(fresh, day, { ...B, maxRetryAfterMs: 5000 }, now, half)).toMatchObject({ nextAttemptAt: now + 5000 });
    // Within the cap: exact, whatever maxMs.
    expect(decide(fresh, { ...day, retryAfter: '3' }, { ...B, maxMs: 10, maxRetryAfterMs: 5000 }, now, half)).toMatchObject({
      nextAttemptAt: now + 3000,
    });
  });

  it('an unparsable Retry-After falls back to jittered backoff', () => {
    const d = decide(fresh, { kind: 'response', status: 503, retryAfter: 'later please' }, B, now, half);
    expect(d).toMatchObject({ kind: 'retry', attempts: 1, nextAttemptAt: now + 500 });
  });
});
