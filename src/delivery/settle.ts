// Settling: an answer's outcomes made into settlements (policy.ts decides each record),
// written by the store in a transaction of their own (coalesced with others by its write
// queue), then announced.
// - Delete only after a 2xx: a record is settled `delivered` only on a 2xx for the request
//   that carried it; a retry reschedules it, a permanent refusal or a refused record
//   dead-letters it. Nothing is written while a request is out: the fetch is over before
//   `settle` opens its transaction.
// - A write that fails leaves its records queued as they were; they are skipped (`stuck`)
//   until the flusher is next idle, then read again.
// - Events go out only once written: outcomes committed together are announced together, a
//   microtask later (one `delivered` per status, one `dead-letter` per reason, one `retry`
//   per destination, then `dropped` and `changed`).
import type { DeadLetterDetail, DeliveredDetail, DroppedDetail, RetryDetail } from '../protocol.js';
import type { QueuedRecord, Settlement } from '../store/store.js';
import { type Announcements, type Dest, type FlusherContext, type Outcome, type Retry, isBusy } from './context.js';
import { type BackoffOptions, type SendResult, decide } from './policy.js';

export const blankOutcome = (): Outcome => ({ delivered: [], dead: [], retried: [] });

/** What one answer comes to for each record it carried: the settlements, the outcome to announce, the latest retry. */
export function decideUnit(
  records: readonly QueuedRecord[],
  result: SendResult,
  backoff: BackoffOptions,
  at: number,
  random: () => number,
): { settlements: Settlement[]; outcome: Outcome; failed: Retry | undefined } {
  const settlements: Settlement[] = [];
  const outcome = blankOutcome();
  let failed: Retry | undefined;
  for (const rec of records) {
    const decision = decide(rec, result, backoff, at, random);
    if (decision.kind === 'delivered') {
      outcome.delivered.push({ id: rec.id, status: decision.status });
      settlements.push({ seq: rec.seq, record: rec, kind: 'delivered' });
    } else if (decision.kind === 'dead') {
      outcome.dead.push({ id: rec.id, status: decision.status, reason: decision.reason });
      settlements.push({ seq: rec.seq, record: rec, kind: 'dead', status: decision.status, reason: decision.reason, tries: rec.tries + 1 });
    } else {
      outcome.retried.push(rec.id);
      outcome.retry = decision;
      settlements.push({
        seq: rec.seq,
        record: rec,
        kind: 'retry',
        attempts: decision.attempts,
        tries: decision.tries,
        nextAttemptAt: decision.nextAttemptAt,
        hold: decision.hold,
        status: decision.status,
      });
      if (!failed || decision.nextAttemptAt > failed.nextAttemptAt) failed = decision;
    }
  }
  return { settlements, outcome, failed };
}

/** A stored record that must not be sent (`refusal` says why): dead-lettered as invalid, never sent. */
export function refusedSettlement(rec: QueuedRecord, refusal: string): Settlement {
  return { seq: rec.seq, record: rec, kind: 'dead', status: 0, reason: 'invalid', tries: Number(rec.tries) || 0, detail: refusal };
}

/** Writes refused records to the dead-letter store (no destination: none was asked). */
export function settleRefused(ctx: FlusherContext, refused: Settlement[]): void {
  const outcome = blankOutcome();
  for (const s of refused) outcome.dead.push({ id: String(s.record!.id), status: 0, reason: 'invalid' });
  writeOutcomes(ctx, undefined, refused, outcome);
}

/** Writes settlements (not waited for); announces them once committed; the loop goes on when `d` is free. */
export function writeOutcomes(ctx: FlusherContext, d: Dest | undefined, settlements: Settlement[], outcome: Outcome): void {
  if (d) d.writes++;
  ctx.writing++;
  ctx.opts.store
    .settle(settlements)
    .then(
      (r) => {
        for (const s of settlements) ctx.unsettled.delete(s.seq);
        announce(ctx, d, outcome, r.droppedIds);
      },
      () => {
        // Not written: these stay queued as they were, skipped until the flusher is idle.
        for (const s of settlements) ctx.stuck.add(s.seq);
      },
    )
    .finally(() => {
      ctx.writing--;
      if (d) d.writes--;
      if (ctx.stopped) return;
      if (d && !isBusy(d)) ctx.requestRead();
      ctx.settleIfIdle();
    });
}

// Outcomes written in one commit are announced together (a microtask later: after every one of them).
function announce(ctx: FlusherContext, d: Dest | undefined, outcome: Outcome, dropped: string[]): void {
  if (!ctx.announcing) {
    ctx.announcing = { outcomes: [], dropped: [] };
    queueMicrotask(() => flushAnnouncements(ctx));
  }
  ctx.announcing.outcomes.push([d, outcome]);
  ctx.announcing.dropped.push(...dropped);
}

function flushAnnouncements(ctx: FlusherContext): void {
  const batch = ctx.announcing!;
  ctx.announcing = undefined;
  const { emit } = ctx.opts;
  const events = announcements(batch, ctx.offlineUntil);
  for (const detail of events.delivered) emit.delivered(detail);
  for (const detail of events.deadLetter) emit.deadLetter(detail);
  for (const detail of events.retry) emit.retry(detail);
  if (events.dropped) emit.dropped(events.dropped);
  emit.changed();
}

/** The events outcomes written together come to, in the order they are emitted. */
export function announcements(
  batch: Announcements,
  offlineUntil: number,
): { delivered: DeliveredDetail[]; deadLetter: DeadLetterDetail[]; retry: RetryDetail[]; dropped?: DroppedDetail } {
  const delivered = new Map<number, string[]>();
  const dead = new Map<string, { ids: string[]; status: number }>();
  const retries = new Map<Dest | undefined, { ids: string[]; retry: Retry }>();
  for (const [d, out] of batch.outcomes) {
    for (const x of out.delivered) delivered.set(x.status, [...(delivered.get(x.status) ?? []), x.id]);
    for (const x of out.dead) {
      const group = dead.get(x.reason) ?? { ids: [], status: x.status };
      group.ids.push(x.id);
      dead.set(x.reason, group);
    }
    if (out.retry) {
      const group = retries.get(d) ?? { ids: [], retry: out.retry };
      group.ids.push(...out.retried);
      group.retry = out.retry;
      retries.set(d, group);
    }
  }
  return {
    delivered: [...delivered].map(([status, ids]) => ({ ids, status })),
    deadLetter: (['permanent', 'invalid'] as const).flatMap((reason) => {
      const group = dead.get(reason);
      return group ? [{ ids: group.ids, status: group.status, reason }] : [];
    }),
    // When the next attempt really is: the hold may keep the destination longer than the event's own schedule.
    retry: [...retries].map(([d, { ids, retry }]) => ({
      ids,
      status: retry.status,
      reason: retry.reason,
      nextAttemptAt: Math.max(retry.nextAttemptAt, d?.until ?? 0, offlineUntil),
    })),
    ...(batch.dropped.length ? { dropped: { ids: batch.dropped, reason: 'dead-letter-overflow' as const } } : {}),
  };
}
