// The wall clock's jumps, as the flusher sees them (clock.ts measures them).
// - What is held in memory moves with a jump (destination holds, the offline hold); the
//   store moves what it keeps in its next write (`rebase`), and reads wait for that.
// - A forward jump is left out of events' age for `maxAgeMs` (the skew, persisted by the
//   store), so nothing expires by a jump; a `Retry-After` still running keeps its real length.
// - No stored schedule outlasts the longest wait ever set (`maxWait`): rebase caps them.
import { type AgeSkew, addSkew, movedBack } from '../clock.js';
import { persistHolds } from './breaker.js';
import type { FlusherContext } from './context.js';
import { rearm } from './timer.js';

/**
 * The store's look at the clock (a write: it moves stored times back after a back jump,
 * and caps schedules at `maxWait`), saving `skew` when given. Reads wait for it.
 */
export function rebase(ctx: FlusherContext, skew?: AgeSkew): Promise<void> {
  const seen = ctx.jumps;
  const done: Promise<void> = (ctx.rebasing ?? Promise.resolve())
    .then(() => ctx.opts.store.rebase(ctx.maxWait, skew))
    .then(
      (saved) => {
        // The skew as stored (at start), unless a jump seen since has changed it here.
        if (ctx.jumps === seen) ctx.ageSkew = saved;
      },
      () => {},
    )
    .finally(() => {
      if (ctx.rebasing === done) ctx.rebasing = undefined;
    });
  ctx.rebasing = done;
  return done;
}

/**
 * The wall clock jumped by `jump` (< 0: back) at `at`. Back: holds move back with it (the
 * store moves what it keeps in its next write). Forward: holds still running move with
 * it (a `Retry-After` keeps its real length), and the jump is left out of events' age.
 */
export function clockJumped(ctx: FlusherContext, jump: number, at: number): void {
  for (const d of ctx.dests.values()) d.until = shiftHold(d.until, jump, at);
  ctx.offlineUntil = shiftHold(ctx.offlineUntil, jump, at);
  ctx.lastSweep = Math.min(ctx.lastSweep, at);
  ctx.jumps++;
  if (jump > 0) ctx.ageSkew = addSkew(ctx.ageSkew, jump, at, ctx.opts.maxAgeMs);
  void rebase(ctx, jump > 0 ? ctx.ageSkew : undefined);
  persistHolds(ctx);
  rearm(ctx);
}

/**
 * A hold (epoch ms, 0: none) after the clock jumped by `jump` at `at`: back, one still
 * ahead moves back with it (not before `at`); forward, one that was still running moves on with it.
 */
export function shiftHold(until: number, jump: number, at: number): number {
  if (until <= 0) return until;
  if (jump < 0) return movedBack(until, -jump, at, true);
  return until > at - jump ? until + jump : until;
}
