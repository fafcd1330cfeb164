// Wall-clock jumps. Every schedule the outbox keeps is an epoch time (a worker's timers
// die with it; the schedule must not), so a clock set back an hour (an NTP or user
// correction) would hold every event an hour, and one set forward would age events by
// the jump. What is done about it:
// - Back: every stored time still ahead of the clock (event schedules, creation times,
//   destination holds, the lease) moves back by the jump, as far as it is known: the
//   store does it in the first write transaction after the jump (store/), the
//   flusher for what it holds in memory. The jump is known from the latest time written
//   (a high-water mark in the store) or seen (the flusher): a lower bound of the true
//   jump, so no wait ends earlier than asked (a `Retry-After`), and none lasts longer
//   than it was when set (at most `backoff.maxMs`, or `maxRetryAfterMs`).
// - Forward, seen while a flusher runs (the wall clock against the monotonic one): the
//   destinations' holds move with it (a `Retry-After` keeps its real length), and the jump
//   is left out of events' age for `maxAgeMs` after it (persisted), so it expires no one.
//   A forward jump while nothing runs cannot be told from time passing (a browser closed
//   for a day): it counts. Event schedules are left: they come due sooner, the holds
//   still pace each destination.
// - A stored schedule beyond the longest wait the outbox ever sets is read as due then.
// Pure: the clocks are injected.

/** Jumps smaller than this are not acted on (clock reads in different contexts, NTP slewing). */
export const CLOCK_TOLERANCE_MS = 1000;

/** A reading of the wall clock and how far it jumped since the last one (0: none; < 0: back). */
export interface ClockReading {
  now: number;
  jump: number;
}

/**
 * Reads `wall` and reports its jumps: against `monotonic` when given (both ways, exactly),
 * else against the latest reading (back only: a lower bound of the jump).
 */
export function watchClock(wall: () => number, monotonic?: () => number): () => ClockReading {
  let base: number | undefined;
  return () => {
    const now = wall();
    // With a monotonic clock: wall - monotonic is constant but for jumps. Without one: the latest reading.
    const offset = monotonic ? now - monotonic() : now;
    if (base === undefined || Number.isNaN(base)) {
      base = offset;
      return { now, jump: 0 };
    }
    const jump = offset - base;
    if (jump < -CLOCK_TOLERANCE_MS || (monotonic && jump > CLOCK_TOLERANCE_MS)) {
      base = offset;
      return { now, jump };
    }
    if (!monotonic && offset > base) base = offset;
    return { now, jump: 0 };
  };
}

/**
 * A stored time after a back jump of `by` (> 0) read at `now`: one still ahead of `now` was
 * written before the jump and moves back by it; others stay. A deadline (`floor`) never
 * moves before `now`.
 */
export function movedBack(time: number, by: number, now: number, floor = false): number {
  if (!(time > now)) return time;
  return floor ? Math.max(now, time - by) : time - by;
}

/** Age not counted: a forward jump of `ms` seen at `since`. */
export interface AgeSkew {
  ms: number;
  since: number;
}

export const NO_SKEW: AgeSkew = { ms: 0, since: 0 };

/** The skew with a forward jump of `jump` seen at `now` added (a lapsed one starts again). */
export function addSkew(skew: AgeSkew, jump: number, now: number, maxAgeMs: number): AgeSkew {
  return { ms: jump + (now - skew.since < maxAgeMs ? skew.ms : 0), since: now };
}

/** Events created before this are past `maxAgeMs` at `now`: a forward jump seen less than `maxAgeMs` ago is not counted. */
export function expiryCutoff(now: number, maxAgeMs: number, skew: AgeSkew): number {
  return now - maxAgeMs - (now - skew.since < maxAgeMs ? skew.ms : 0);
}
