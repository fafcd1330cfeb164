// The flusher's timer, armed for the earliest next attempt while the worker lives.
// - The schedule itself is persisted (each record's `nextAttemptAt`, each destination's
//   hold): a worker that dies loses only the timer, and the next wake-up reads again.
// - No waitUntil() is held open waiting for retries: an event kept open for minutes holds
//   up browser shutdown and is cut short by the browser anyway.
// - No wait outlasts the longest one ever set (`maxWait`): a timer that wakes early reads
//   and arms again, so a clock that jumped back cannot hold delivery for its jump.
import type { FlusherContext } from './context.js';
import { isBusy } from './context.js';

/** Arms the timer for the next attempt (the store is asked when): stop() leaves none armed. */
export async function armTimer(ctx: FlusherContext): Promise<void> {
  if (ctx.stopped) return;
  const next = await nextDue(ctx, true);
  if (ctx.timer !== undefined) clearTimeout(ctx.timer);
  ctx.timer = undefined;
  // stop() may have been called while we awaited the store: arm nothing then.
  if (next === undefined || ctx.stopped) return;
  // Never longer than the longest wait ever set; setTimeout's delay is a signed 32-bit
  // int, and longer waits would fire at once.
  const delay = Math.min(Math.max(0, next - ctx.clock()), ctx.maxWait, 2 ** 31 - 1);
  ctx.timer = setTimeout(() => {
    ctx.timer = undefined;
    ctx.requestRead();
  }, delay);
}

/** armTimer, not waited for (a failed look at the store leaves the timer as it was). */
export function rearm(ctx: FlusherContext): void {
  void armTimer(ctx).catch(() => {});
}

/**
 * The earliest time something will be sent: held destinations at the end of their hold,
 * the others by the store's schedule, none before the end of an offline hold. For the
 * timer, destinations busy now are left out (their lanes read again when done).
 */
export async function nextDue(ctx: FlusherContext, forTimer: boolean): Promise<number | undefined> {
  const now = ctx.clock();
  // (After a jump, the store's times once it has moved them.)
  if (ctx.rebasing) await ctx.rebasing;
  const skip = new Set<string>();
  const times: number[] = [];
  for (const d of ctx.dests.values()) {
    if (now < d.until) {
      skip.add(d.key);
      times.push(d.until);
    } else if (forTimer && isBusy(d)) skip.add(d.key);
  }
  const stored = await ctx.opts.store.nextAttemptAt(skip.size ? skip : undefined);
  if (stored !== undefined) times.push(stored);
  if (times.length === 0) return undefined;
  let next = Math.max(Math.min(...times), ctx.offlineUntil);
  // Outcomes that could not be written: not again at once.
  if (forTimer && ctx.stuck.size) next = Math.max(next, now + 1000);
  return next;
}
