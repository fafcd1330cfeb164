// Pure delivery policy: how a response is classified, when the next attempt is due.
// Every function takes its clock value and random source as arguments, so tests record
// decisions instead of waiting for them.
import type { Hold } from '../destination.js';

export type { Hold };

export interface BackoffOptions {
  /** First retry waits up to this long. */
  baseMs: number;
  /** No computed delay exceeds this (a server's `Retry-After` is not a computed delay). */
  maxMs: number;
  /**
   * Cap of a server's `Retry-After`, which is otherwise honoured exactly, never shortened by
   * `maxMs` or jitter. @default DEFAULT_MAX_RETRY_AFTER_MS
   */
  maxRetryAfterMs?: number;
}

/**
 * One hour: long enough for a collector's rate-limit window or a planned maintenance
 * (peers cap at 5 min to 1 h), short enough that a misconfigured header (a day, a year)
 * cannot hold events until they expire.
 */
export const DEFAULT_MAX_RETRY_AFTER_MS = 3600_000;

/**
 * Exponential backoff with full jitter: a uniform draw in [0, min(maxMs, baseMs·2^(n-1))).
 * `attempt` counts failures so far (1 for the first failure).
 * See https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffDelay(attempt: number, { baseMs, maxMs }: BackoffOptions, random: () => number): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 52));
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

export type StatusClass = 'delivered' | 'retry' | 'permanent';

/** 2xx delivered; 408, 425, 429 and 5xx retried; any other status is permanent. */
export function classifyStatus(status: number): StatusClass {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
  // 4xx and anything odd (1xx/3xx cannot normally reach us after fetch follows redirects)
  // go to the dead-letter store, where they stay inspectable.
  return 'permanent';
}

/**
 * `Retry-After` as a delay in ms from `now`: delta-seconds or an HTTP-date
 * (RFC 9110 §10.2.3). Undefined when absent or unparsable; 0 for a date in the past.
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (header == null) return undefined;
  const text = header.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only accept something that looks like a date, not any string Date.parse tolerates.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** What one attempt to send a request came to. */
export type SendResult =
  | { kind: 'response'; status: number; retryAfter: string | null }
  | { kind: 'network-error'; offline: boolean; message: string }
  | { kind: 'timeout' };

export interface AttemptState {
  /** Failures that grow the backoff (offline attempts do not). */
  attempts: number;
  /** Every attempt made. */
  tries: number;
}

export type Decision =
  | { kind: 'delivered'; status: number }
  | {
      kind: 'retry';
      status: number;
      reason: 'server' | 'network' | 'offline' | 'timeout';
      hold: Hold;
      attempts: number;
      tries: number;
      nextAttemptAt: number;
    }
  | { kind: 'dead'; status: number; reason: 'permanent' };

/**
 * The outcome of one attempt for one event.
 *
 * - Offline (the browser says so): nothing grows; due again in `baseMs` or as soon as
 *   connectivity returns (sync, online nudge). Connectivity is not the collector's fault.
 * - Network error while online, timeout, 408/425/429/5xx: backoff grows.
 * - `Retry-After` replaces the computed delay: honoured exactly (never shortened by jitter or
 *   by `maxMs`), up to `maxRetryAfterMs`.
 */
export function decide(state: AttemptState, result: SendResult, backoff: BackoffOptions, now: number, random: () => number): Decision {
  const tries = state.tries + 1;
  if (result.kind === 'response') {
    const cls = classifyStatus(result.status);
    if (cls === 'delivered') return { kind: 'delivered', status: result.status };
    if (cls === 'permanent') return { kind: 'dead', status: result.status, reason: 'permanent' };
    const attempts = state.attempts + 1;
    const retryAfter = parseRetryAfter(result.retryAfter, now);
    const delay =
      retryAfter !== undefined
        ? Math.min(retryAfter, backoff.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS)
        : backoffDelay(attempts, backoff, random);
    return { kind: 'retry', status: result.status, reason: 'server', hold: 'server', attempts, tries, nextAttemptAt: now + delay };
  }
  if (result.kind === 'network-error' && result.offline) {
    return {
      kind: 'retry',
      status: 0,
      reason: 'offline',
      hold: 'offline',
      attempts: state.attempts,
      tries,
      nextAttemptAt: now + backoff.baseMs,
    };
  }
  const attempts = state.attempts + 1;
  return {
    kind: 'retry',
    status: 0,
    reason: result.kind === 'timeout' ? 'timeout' : 'network',
    hold: result.kind === 'timeout' ? 'server' : 'network',
    attempts,
    tries,
    nextAttemptAt: now + backoffDelay(attempts, backoff, random),
  };
}
