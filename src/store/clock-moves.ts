// The IndexedDB store and a wall clock that jumps (see src/clock.ts for the rules). Every
// write transaction starts by following the clock (`followClock`, run by the write queue)
// and ends by stamping it (`stampClock`): a clock found behind the latest stamp by more
// than CLOCK_TOLERANCE_MS went back, and every stored time still ahead of it (event
// schedules and creation times, destination holds, the lease, the skew) first moves back
// by that much, before anything the transaction writes (so nothing written after the jump
// moves). `rebase` is the flusher's call after a jump either way.
import { type AgeSkew, CLOCK_TOLERANCE_MS, NO_SKEW, movedBack } from '../clock.js';
import type { DestinationHold } from '../destination.js';
import type { Txn } from './context.js';
import { recordMovedBack } from './records.js';
import { getMeta, putMeta } from './schema.js';

/** The write queue's first step in every transaction: the clock went back since the last write, stored times follow. */
export async function followClock(t: Txn): Promise<void> {
  const { clock } = t.counters;
  if (clock && t.startedAt < clock.at - CLOCK_TOLERANCE_MS) await moveBack(t, clock.at - t.startedAt, t.startedAt);
}

/** The write queue's last step in every transaction: the latest time a write ended. */
export function stampClock(t: Txn): void {
  t.counters.clock = { ...t.counters.clock, at: Math.max(t.startedAt, t.now()) };
}

/**
 * After the clock went back `by` ms (as far as known: the latest time written, less
 * `at`), every stored time still ahead of `at` was written before the jump: it moves
 * back by `by` (a schedule never before `at`). Read with cursors (one record at a time:
 * the queue may be large); a one-off after a jump.
 */
async function moveBack(t: Txn, by: number, at: number): Promise<void> {
  const { tx, counters } = t;
  // Events with a history: those scheduled ahead (the others are due; their times are left).
  let cursor = await tx.objectStore('queue').index('nextAttemptAt').openCursor(IDBKeyRange.lowerBound(at, true));
  while (cursor) {
    // (Moved back, a record sorts before the cursor: it is not met again.)
    await cursor.update(recordMovedBack(cursor.value, by, at));
    cursor = await cursor.continue();
  }
  // Fresh segments created ahead: due at their creation, they would not be read (nor those after them).
  let spent = await tx.objectStore('spent').openCursor();
  for (; spent; spent = await spent.continue()) {
    if (!(spent.value.createdAt > at)) continue;
    const createdAt = spent.value.createdAt - by;
    await spent.update({ ...spent.value, createdAt });
    const segment = await tx.objectStore('fresh').get(spent.value.seg);
    if (segment) await tx.objectStore('fresh').put({ ...segment, createdAt });
  }
  const meta = tx.objectStore('meta');
  const holds = await getMeta(meta, 'holds');
  if (holds && Object.values(holds).some((h) => h.until > at)) {
    const moved: Record<string, DestinationHold> = {};
    for (const [key, h] of Object.entries(holds)) moved[key] = { ...h, until: movedBack(h.until, by, at, true) };
    await putMeta(meta, 'holds', moved);
  }
  const lease = await getMeta(meta, 'lease');
  if (lease && lease.until > at) await putMeta(meta, 'lease', { ...lease, until: movedBack(lease.until, by, at, true) });
  const skew = counters.clock?.skew;
  if (skew && skew.since > at) counters.clock = { at, skew: { ...skew, since: skew.since - by } };
}

/**
 * Brings every schedule beyond `now + maxWaitMs` back to that, and saves `skew` when
 * given (after followClock, as every write). Resolves to the skew saved (none: zero).
 */
export async function rebase(t: Txn, maxWaitMs: number, skew?: AgeSkew): Promise<AgeSkew> {
  const { tx, counters } = t;
  const at = t.now();
  const cap = at + Math.max(0, maxWaitMs);
  let cursor = await tx.objectStore('queue').index('nextAttemptAt').openCursor(IDBKeyRange.lowerBound(cap, true));
  for (; cursor; cursor = await cursor.continue()) await cursor.update({ ...cursor.value, nextAttemptAt: cap });
  if (skew) counters.clock = { at: counters.clock?.at ?? at, skew: { ...skew } };
  return { ...(counters.clock?.skew ?? NO_SKEW) };
}
