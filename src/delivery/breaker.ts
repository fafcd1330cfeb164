// A destination's breaker: its hold, its backoff, its probe; and the offline hold of all.
// - A retryable failure holds its destination only (destinations are independent): its
//   feed goes back to the queue (the records never left it), nothing more is sent to it
//   until the later of the failed event's own schedule (a `Retry-After`) and the breaker's
//   backoff, which grows with failures in a row; then one request probes it before its
//   lanes open up again (lanes.ts sends one at a time while `probing`).
// - An epoch counts the times it was held: requests already in flight when it tripped do
//   not count again, and their success does not reopen it.
// - Holds are persisted (`saveDestinationHolds`), so a restarted worker (Background Sync
//   wakes one) keeps a collector's `Retry-After`; loaded once, before the first read.
// - Offline (the browser says so, or a send failed because it went offline) holds every
//   destination without growing anyone's backoff: connectivity is nobody's fault.
import type { DestinationHold } from '../destination.js';
import { type BlockReason, type Dest, type FlusherContext, type Retry, destinationFor } from './context.js';
import { backoffDelay } from './policy.js';
import { rearm } from './timer.js';

export interface DestinationState {
  destination: string;
  /** Held back until then (epoch ms), or 0. */
  heldUntil: number;
  /** Why it is held, when it is. */
  reason: BlockReason | null;
  /** The status of the last answer (0: none, a network error or a timeout); null before any attempt. */
  lastStatus: number | null;
  lastAttemptAt: number | null;
  inFlight: number;
}

/** A retryable failure (`epoch`: the destination's when the request went out): its destination, or offline every one, is held back. */
export function trip(ctx: FlusherContext, d: Dest, failed: Retry, epoch: number, at: number): void {
  if (failed.reason === 'offline') {
    holdOffline(ctx, failed.nextAttemptAt);
    return;
  }
  // Requests already in flight when it tripped do not count again.
  if (epoch === d.epoch) d.failures++;
  d.epoch++;
  // The breaker backs off on its own count: otherwise each probe would go out with a
  // fresh event at attempt 1, and a dead collector would see a steady stream of short-delay attempts.
  d.until = Math.max(d.until, failed.nextAttemptAt, at + backoffDelay(d.failures, ctx.opts.backoff, ctx.opts.random));
  d.reason = failed.reason;
  d.probing = true;
  dropFeed(ctx, d);
  persistHolds(ctx);
  ctx.opts.onHeld(d.reason);
  rearm(ctx);
}

/**
 * An answer that is no retryable failure (a 2xx, or a permanent refusal: the collector is
 * up). Opens the destination if it was probing or counting failures, unless the request
 * went out before it last tripped. Whether it opened (its lanes may start again).
 */
export function reopen(ctx: FlusherContext, d: Dest, epoch: number): boolean {
  if (epoch !== d.epoch || (!d.probing && d.failures === 0)) return false;
  d.probing = false;
  d.failures = 0;
  d.until = 0;
  if (d.persisted) persistHolds(ctx);
  return true;
}

/** Every destination held until `until` (no backoff grows): their feeds go back to the queue. */
export function holdOffline(ctx: FlusherContext, until: number): void {
  ctx.offlineUntil = Math.max(ctx.offlineUntil, until);
  for (const d of ctx.dests.values()) dropFeed(ctx, d);
  ctx.opts.onHeld('offline');
  rearm(ctx);
}

/** Units not sent go back to the queue (they never left it): later reads may take them again. */
export function dropFeed(ctx: FlusherContext, d: Dest): void {
  for (const unit of d.feed.splice(0)) for (const rec of unit.records) ctx.unsettled.delete(rec.seq);
}

/** Clears the holds set for one of these reasons (connectivity came back). */
export function unblock(ctx: FlusherContext, reasons: readonly BlockReason[]): void {
  if (reasons.includes('offline')) ctx.offlineUntil = 0;
  let changed = false;
  for (const d of ctx.dests.values()) {
    if ((d.until > 0 || d.failures > 0) && reasons.includes(d.reason)) {
      d.until = 0;
      d.failures = 0;
      d.probing = false;
      changed = true;
    }
  }
  if (changed) persistHolds(ctx);
}

/** The holds a previous worker saved: each destination probes first, none held beyond `maxWait`. */
export async function loadHolds(ctx: FlusherContext): Promise<void> {
  const holds = await ctx.opts.store.destinationHolds().catch(() => ({}) as Record<string, DestinationHold>);
  const cap = ctx.clock() + ctx.maxWait;
  for (const [key, h] of Object.entries(holds)) {
    const d = destinationFor(ctx, key);
    if (d.lastAttemptAt !== null) continue; // tried since: what it learnt is newer
    Object.assign(d, {
      // A hold beyond the longest one ever set was set before the clock went back.
      until: Math.min(h.until, cap),
      reason: h.reason,
      failures: h.failures,
      lastStatus: h.lastStatus,
      probing: true,
      persisted: true,
    });
  }
}

/** Saves the holds of every destination (those set, and the one just cleared), not waited for. */
export function persistHolds(ctx: FlusherContext): void {
  const holds: Record<string, DestinationHold> = {};
  const now = ctx.clock();
  for (const d of ctx.dests.values()) {
    d.persisted = d.until > now || d.failures > 0;
    if (d.persisted)
      holds[d.key] = {
        until: d.until,
        reason: d.reason === 'offline' ? 'network' : d.reason,
        failures: d.failures,
        lastStatus: d.lastStatus ?? 0,
      };
  }
  void ctx.opts.store.saveDestinationHolds(holds).catch(() => {});
}

/** Until when some destination (or all, offline) is held back, or 0. */
export function blockedUntil(ctx: FlusherContext): number {
  const now = ctx.clock();
  let until = ctx.offlineUntil > now ? ctx.offlineUntil : 0;
  for (const d of ctx.dests.values()) if (d.until > now) until = Math.max(until, d.until);
  return until;
}

/** What is known of each destination tried (or held) since the flusher started. */
export function destinationStates(ctx: FlusherContext): DestinationState[] {
  const now = ctx.clock();
  const offline = ctx.offlineUntil > now ? ctx.offlineUntil : 0;
  return [...ctx.dests.values()].map((d) => {
    const heldUntil = Math.max(d.until > now ? d.until : 0, offline);
    return {
      destination: d.key,
      heldUntil,
      reason: heldUntil === 0 ? null : d.until > now ? d.reason : 'offline',
      lastStatus: d.lastStatus,
      lastAttemptAt: d.lastAttemptAt,
      inFlight: d.active,
    };
  });
}
