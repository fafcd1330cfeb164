// Reading due records in pages, never the whole queue into memory, until a read finds
// nothing for the destinations free to take more.
// - A page is shared: each destination with events queued gets a fair share of it
//   (ceil(pageSize / destinations open)), so one's 10,000-event backlog does not fill it
//   and keep another's new events waiting.
// - A read passes over the destinations that are held, have units in hand or probe with a
//   request out (the store does not even read their segments), and the records in hand
//   (read and not settled: they are still queued).
// - Before each read: the store's rebase after a clock jump (jumps.ts) is waited for, and
//   events past `maxAgeMs` leave the queue whatever their schedule (swept at most once a
//   second); offline, nothing is read and every destination is held (breaker.ts).
// - Store calls per page: `queuedByDestination`, then `readDue`; no transaction stays open
//   while the page's requests are out.
import { expiryCutoff } from '../clock.js';
import { holdOffline, loadHolds } from './breaker.js';
import { type FlusherContext, isHeld } from './context.js';
import { rebase } from './jumps.js';
import { distribute } from './lanes.js';
import { armTimer } from './timer.js';

/** The read loop: pages read and distributed to their destinations' lanes; then the timer armed. */
export async function readPages(ctx: FlusherContext): Promise<void> {
  const { opts } = ctx;
  try {
    ctx.loaded ??= rebase(ctx).then(() => loadHolds(ctx));
    await ctx.loaded;
    for (let more = true; more && !ctx.stopped; ) {
      ctx.readAgain = false;
      const now = ctx.clock();
      // (A jump seen now, or since the last read: the store has moved its times first.)
      if (ctx.rebasing) await ctx.rebasing;
      await sweepExpired(ctx, now);
      if (now < ctx.offlineUntil) break;
      if (opts.isOffline()) {
        // Don't spend attempts (or grow backoff) while the browser knows it is offline.
        holdOffline(ctx, now + Math.max(opts.backoff.baseMs, 1000));
        break;
      }
      const skip = passedOver(ctx, now);
      // (Taken first: what is read now, sent or being written may settle while we look.)
      const exclude = ctx.unsettled.size ? new Set(ctx.unsettled) : undefined;
      const { open, share } = fairShare(await opts.store.queuedByDestination(), skip, opts.pageSize);
      // Nothing queued but for destinations passed over: no read (one small record instead).
      if (skip.size && open === 0) break;
      const due = await opts.store.readDue(now, opts.pageSize, exclude, skip.size ? skip : undefined, share);
      if (ctx.stopped) break;
      if (due.length)
        distribute(
          ctx,
          due.sort((a, b) => a.seq - b.seq),
        );
      // A short page had everything due for the destinations read (or their shares): read again only if asked to.
      more = due.length >= opts.pageSize || (share !== undefined && due.length > 0) || ctx.readAgain;
    }
  } catch (error) {
    ctx.failure ??= { error };
  }
  await armTimer(ctx).catch(() => {});
}

/** The destinations a read at `now` passes over: held, with units in hand, or probing with a request out. */
export function passedOver(ctx: FlusherContext, now: number): Set<string> {
  const skip = new Set<string>();
  for (const d of ctx.dests.values()) if (isHeld(ctx, d, now) || d.feed.length > 0 || (d.probing && d.active > 0)) skip.add(d.key);
  return skip;
}

/**
 * How a page is shared: `open`, the destinations with events queued that are not passed
 * over; `share`, the most one of them may take of a page (undefined: one, or none, takes it all).
 */
export function fairShare(
  queuedBy: Readonly<Record<string, number>>,
  skip: ReadonlySet<string>,
  pageSize: number,
): { open: number; share: number | undefined } {
  const open = Object.entries(queuedBy).filter(([key, n]) => n > 0 && !skip.has(key)).length;
  return { open, share: open > 1 ? Math.ceil(pageSize / open) : undefined };
}

/**
 * Events past maxAgeMs leave the queue whatever their schedule (a long Retry-After must
 * not keep an expired event queued), swept at most once a second; and keys of delivered
 * events past the de-duplication window are forgotten.
 */
export async function sweepExpired(ctx: FlusherContext, now: number): Promise<void> {
  if (now >= ctx.lastSweep && now - ctx.lastSweep < 1000) return;
  ctx.lastSweep = now;
  const { opts } = ctx;
  // Age by the wall clock, less the forward jumps seen lately (clock.ts).
  const cutoff = expiryCutoff(now, opts.maxAgeMs, ctx.ageSkew);
  for (;;) {
    const { expiredIds, droppedIds } = await opts.store.expire(cutoff, opts.pageSize);
    if (expiredIds.length) opts.emit.deadLetter({ ids: expiredIds, status: 0, reason: 'expired' });
    if (droppedIds.length) opts.emit.dropped({ ids: droppedIds, reason: 'dead-letter-overflow' });
    if (expiredIds.length < opts.pageSize) break;
  }
  // (The same skew: keys of events delivered before a forward jump are kept for their real window.)
  if (opts.dedupeWindowMs !== undefined) {
    const before = now - opts.dedupeWindowMs - (now - opts.maxAgeMs - cutoff);
    while ((await opts.store.forget(before, 500)) === 500);
  }
}
