// Store.settle in the IndexedDB store: delivery outcomes written back. A delivered event
// leaves the store (its keys remembered for the de-duplication window), a retried one is
// written to `queue` with its new schedule (leaving its fresh segment if it was in one),
// a dead one moves to `dead`. Settle calls that arrive while one waits for its
// transaction are written together in it (a second group commit on top of the write
// queue's, so that the flusher's lanes settling at once cost one transaction).
// The first outcome written for an event wins; one for an event no longer queued
// (delivered by an earlier instance, cleared) is a no-op.
import { countLeaving } from './admission.js';
import type { Settlement } from './api.js';
import type { StoreContext, Txn } from './context.js';
import { boundDeadLetters } from './dead-letters.js';
import { rememberDelivered } from './delivered-keys.js';
import { type QueuedRecord, deadRecord, retriedRecord } from './records.js';
import type { Segment, WriteTx } from './schema.js';
import { type SpentStates, SEGMENT, freshRecord, loadSpent, markGone, saveSpent, segmentOf, stillIn } from './segments.js';

type SettleResult = { applied: number; droppedIds: string[] };

interface SettleCall {
  settlements: Settlement[];
  resolve(result: SettleResult): void;
  reject(error: unknown): void;
}

/** Store.settle for one store: its calls joined while they wait for a transaction. */
export function settler(ctx: StoreContext): (settlements: Settlement[]) => Promise<SettleResult> {
  const waiting: SettleCall[] = [];
  return (settlements) => {
    if (settlements.length === 0) return Promise.resolve({ applied: 0, droppedIds: [] });
    return new Promise((resolve, reject) => {
      waiting.push({ settlements, resolve, reject });
      if (waiting.length > 1) return;
      // Taken when the transaction starts, so that later arrivals join it; answered after its commit.
      let calls: SettleCall[] = [];
      ctx
        .write((t) => applySettlements(t, (calls = waiting.splice(0))))
        .then(
          (results) => {
            for (const [i, c] of calls.entries()) c.resolve(results[i]!);
          },
          (error: unknown) => {
            for (const c of calls) c.reject(error);
          },
        );
    });
  };
}

/** The settlements of `calls` in one transaction; resolves to each call's result (the dead letters dropped go to the first). */
async function applySettlements(t: Txn, calls: SettleCall[]): Promise<SettleResult[]> {
  const { tx } = t;
  const all = calls.flatMap((c) => c.settlements);
  const found = await locate(tx, all);
  const { writes, deliveredSeqs, deliveredKeys, applied } = applyEach(t, all, found);
  const left = saveSpent(tx, found.spent);
  writes.push(left.done);
  const queue = tx.objectStore('queue');
  for (const [from, to] of deliveredRuns(found.present, deliveredSeqs, found.dense))
    writes.push(queue.delete(from === to ? from : IDBKeyRange.bound(from, to)));
  // Remembered for the de-duplication window: a re-send of these is not queued again.
  deliveredKeys.push(...left.delivered);
  if (deliveredKeys.length) writes.push(rememberDelivered(t, deliveredKeys));
  await Promise.all(writes);
  const droppedIds = await boundDeadLetters(t);
  return calls.map((c, i) => ({ applied: c.settlements.filter((s) => applied.has(s)).length, droppedIds: i === 0 ? droppedIds : [] }));
}

/** Where the settled events are: the spent states of their segments, the keys of `queue` known present, and each record. */
interface Located {
  spent: SpentStates;
  present: Set<number>;
  /** Every key of `queue` in the span of the settled seqs is in `present` (one read of the span, plus the retries applyEach writes there). */
  dense: boolean;
  /** Each settlement's record, undefined if no longer queued. */
  records: (QueuedRecord | undefined)[];
}

/**
 * Fresh events: their segment's spent record says whether they are still in it. The
 * others are looked up in `queue` (an event that left its segment for a retry is there).
 * A record is the one the flusher read when it gave it, else read from its segment (each
 * segment once) or from `queue`.
 */
async function locate(tx: WriteTx, all: Settlement[]): Promise<Located> {
  const spent = await loadSpent(
    tx,
    all.map((s) => s.seq),
  );
  const fresh = (seq: number) => stillIn(spent, seq) !== undefined;
  const { present, dense } = await presentInQueue(
    tx,
    all.filter((s) => !fresh(s.seq)).map((s) => s.seq),
  );
  const segments = new Map<number, Promise<Segment | undefined>>();
  const fromSegment = async (seq: number): Promise<QueuedRecord | undefined> => {
    const seg = segmentOf(seq);
    if (!segments.has(seg)) segments.set(seg, tx.objectStore('fresh').get(seg));
    const segment = await segments.get(seg);
    return segment && freshRecord(segment, seq % SEGMENT);
  };
  const records = await Promise.all(
    all.map((s) =>
      s.record && s.record.seq === s.seq && (fresh(s.seq) || present.has(s.seq))
        ? s.record
        : fresh(s.seq)
          ? fromSegment(s.seq)
          : present.has(s.seq)
            ? tx.objectStore('queue').get(s.seq)
            : undefined,
    ),
  );
  return { spent, present, dense, records };
}

/**
 * Which of these seqs `queue` still holds (a record already gone was delivered by an
 * earlier instance, or cleared: nothing to do). One read of the keys in the span when it
 * is dense (then every key of the span is known), else one per seq.
 */
async function presentInQueue(tx: WriteTx, queued: number[]): Promise<{ present: Set<number>; dense: boolean }> {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const seq of queued) {
    if (seq < min) min = seq;
    if (seq > max) max = seq;
  }
  const dense = queued.length > 0 && max - min < 4 * queued.length + 64;
  if (queued.length === 0) return { present: new Set(), dense };
  const queue = tx.objectStore('queue');
  const keys = dense
    ? await queue.getAllKeys(IDBKeyRange.bound(min, max))
    : (await Promise.all(queued.map((seq) => queue.getKey(seq)))).filter((k): k is number => k !== undefined);
  return { present: new Set(keys), dense };
}

/** Writes each outcome (the first for an event), marks fresh events gone from their segment, and counts. */
function applyEach(t: Txn, all: Settlement[], found: Located) {
  const { tx, counters } = t;
  const queue = tx.objectStore('queue');
  const writes: Promise<unknown>[] = [];
  const deliveredSeqs = new Set<number>();
  const deliveredKeys: string[] = [];
  const applied = new Set<Settlement>();
  // The first outcome written for a record wins (the same event twice counts once).
  const settled = new Set<number>();
  all.forEach((s, i) => {
    const record = found.records[i];
    if (!record || settled.has(s.seq)) return;
    settled.add(s.seq);
    applied.add(s);
    const st = stillIn(found.spent, s.seq);
    // It leaves its segment whatever the outcome (a retry or a dead letter is written below).
    if (st) markGone(st, s.seq);
    if (s.kind === 'delivered') {
      if (!st) deliveredSeqs.add(s.seq);
      if (record.keys) (st ? st.delivered : deliveredKeys).push(...record.keys);
      countLeaving(counters, record.url, 'delivered');
    } else if (s.kind === 'retry') {
      writes.push(queue.put(retriedRecord(record, s, t.now())));
      // A fresh event retried is a key of `queue` now, maybe inside the span read: a run of
      // delivered keys must not be deleted across it (deliveredRuns).
      if (st) found.present.add(s.seq);
      counters.retried++;
    } else {
      if (!st) writes.push(queue.delete(s.seq));
      writes.push(tx.objectStore('dead').put(deadRecord(record, s, t.now())));
      countLeaving(counters, record.url, 'deadLettered');
    }
  });
  return { writes, deliveredSeqs, deliveredKeys, applied };
}

/**
 * The delivered records of `queue` as ranges to delete: a run of consecutive keys of the
 * span that are all delivered is one range delete (when the span is dense: every key of
 * it is in `present`), else one delete a record.
 */
export function deliveredRuns(present: ReadonlySet<number>, delivered: ReadonlySet<number>, dense: boolean): [number, number][] {
  const runs: [number, number][] = [];
  if (!dense) {
    for (const seq of delivered) runs.push([seq, seq]);
    return runs;
  }
  let run: [number, number] | undefined;
  for (const key of [...present].sort((a, b) => a - b)) {
    if (delivered.has(key)) {
      if (run) run[1] = key;
      else runs.push((run = [key, key]));
    } else run = undefined;
  }
  return runs;
}
