// A destination's lanes: records read (pages.ts) become units of their destination's feed
// (one request each: a record, or with Optimizely batching a merged batch of them), and up
// to `concurrency` lanes per destination take units of that feed and send them.
// - Destinations are independent: each has its own feed and lanes, so one that fails,
//   hangs until `timeoutMs` or refuses connections never holds another. Lanes outlive
//   reads: a lane whose feed runs dry asks for the next page while its request is out.
// - A probing destination (breaker.ts) runs one lane, one request at a time.
// - No transaction is open across a fetch: a unit's records were read in a transaction that
//   is over; its outcomes are written in a new one once the answer is in (settle.ts).
// - A merged request refused for good is split and its halves sent next, so one bad event
//   cannot dead-letter the others.
import { destinationOf } from '../destination.js';
import type { QueuedRecord, Settlement } from '../store/store.js';
import { type Unit, groupForBatching, split } from './batching.js';
import { reopen, trip } from './breaker.js';
import { type Dest, type FlusherContext, destinationFor, isBusy, isHeld } from './context.js';
import { type SendResult, classifyStatus } from './policy.js';
import { decideUnit, refusedSettlement, settleRefused, writeOutcomes } from './settle.js';

/** Records read (in seq order) into their destinations' feeds, lanes started; refused ones to the dead-letter store. */
export function distribute(ctx: FlusherContext, records: QueuedRecord[]): void {
  const byDest = new Map<string, QueuedRecord[]>();
  const refused: Settlement[] = [];
  for (const rec of records) {
    ctx.unsettled.add(rec.seq);
    const refusal = ctx.opts.refuse?.(rec);
    if (refusal !== undefined) {
      refused.push(refusedSettlement(rec, refusal));
      continue;
    }
    const key = destinationOf(rec.url);
    const list = byDest.get(key);
    if (list) list.push(rec);
    else byDest.set(key, [rec]);
  }
  if (refused.length) settleRefused(ctx, refused);
  const { batch } = ctx.opts;
  for (const [key, list] of byDest) {
    const d = destinationFor(ctx, key);
    d.feed.push(...(batch ? groupForBatching(list, batch) : list.map((rec) => ({ records: [rec], url: rec.url, body: rec.body }))));
    startLanes(ctx, d);
  }
}

/** Lanes up to the destination's limit (one while probing), while it has units ready and is not held. */
export function startLanes(ctx: FlusherContext, d: Dest): void {
  const limit = d.probing ? 1 : ctx.opts.concurrency;
  while (!ctx.stopped && d.active < limit && d.feed.length > 0 && !isHeld(ctx, d, ctx.clock())) {
    d.active++;
    void runLane(ctx, d);
  }
}

/** One lane: takes units of its destination's feed until it is empty, held, or (probing) another lane runs. */
export async function runLane(ctx: FlusherContext, d: Dest): Promise<void> {
  try {
    while (!ctx.stopped && d.feed.length > 0 && !isHeld(ctx, d, ctx.clock()) && !(d.probing && d.active > 1)) {
      const unit = d.feed.shift()!;
      // Every unit ready has a lane: read the next page while these are sent.
      if (d.feed.length === 0) ctx.requestRead();
      const epoch = d.epoch;
      d.lastAttemptAt = ctx.clock();
      ctx.inFlight++;
      let result: SendResult;
      try {
        const { records, ...request } = unit;
        result = await ctx.opts.send({ id: records[0]!.id, ...request });
      } finally {
        ctx.inFlight--;
      }
      onAnswer(ctx, d, unit, result, epoch);
    }
  } catch (error) {
    ctx.failure ??= { error };
  } finally {
    d.active--;
    if (!ctx.stopped) {
      startLanes(ctx, d);
      if (!isBusy(d)) ctx.requestRead();
      ctx.settleIfIdle();
    }
  }
}

/** What a unit's answer comes to: its outcomes written, its destination held or opened up. */
export function onAnswer(ctx: FlusherContext, d: Dest, unit: Unit<QueuedRecord>, result: SendResult, epoch: number): void {
  const at = ctx.clock();
  if (unit.records.length > 1 && result.kind === 'response' && classifyStatus(result.status) === 'permanent') {
    // A merged request refused for good: one bad event must not block the others.
    // Send each half on its own (as a request of its own, regrouped), next.
    d.feed.unshift(...split(unit.records).flatMap((half) => groupForBatching(half, ctx.opts.batch!)));
    startLanes(ctx, d);
    return;
  }
  d.lastStatus = result.kind === 'response' ? result.status : 0;
  const { settlements, outcome, failed } = decideUnit(unit.records, result, ctx.opts.backoff, at, ctx.opts.random);
  // The probe got through (or the collector answered for good): open up.
  if (failed) trip(ctx, d, failed, epoch, at);
  else if (reopen(ctx, d, epoch)) startLanes(ctx, d);
  writeOutcomes(ctx, d, settlements, outcome);
}
