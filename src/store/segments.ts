// The segment scheme of the IndexedDB store (schema.ts, version 4): events never tried yet
// are written SEGMENT at a time, one `fresh` record for many (IndexedDB's cost is per
// record), each segment of one destination; a small `spent` record per segment says which
// of its events have left it (delivered, retried, dead, evicted), so a segment is written
// once, never rewritten, and deleted when all its events are gone. An event's seq is
// `segment * SEGMENT + position`. This module reads fresh events as queued records, writes
// segments and spent records, and numbers the events that go to `queue` instead;
// delivered-keys.ts keeps what a segment leaves behind.
import { destinationOf } from '../destination.js';
import { addUnlessDuplicate } from './database.js';
import { type NewRecord, type QueuedRecord, queuedRecord } from './records.js';
import { type ReadTx, type Segment, type Spent, type WriteTx, getMeta, putMeta } from './schema.js';

/**
 * Events per fresh segment. An event's seq is `segment * SEGMENT + position`; segments are
 * numbered above every seq `queue` held when the first was written, so seqs stay unique
 * and in insertion order across both stores.
 */
export const SEGMENT = 64;

/** The segment a seq would be in. */
export const segmentOf = (seq: number): number => Math.floor(seq / SEGMENT);

/** Event `i` of a fresh segment as a queued record: never tried, due at its creation. */
export function freshRecord(segment: Segment, i: number): QueuedRecord | undefined {
  const e = segment.events[i];
  if (!e) return undefined;
  const { createdAt } = segment;
  return {
    seq: segment.seg * SEGMENT + i,
    id: e.id,
    url: e.url,
    body: e.body,
    ...(e.keys ? { keys: e.keys } : {}),
    createdAt,
    nextAttemptAt: createdAt,
    attempts: 0,
    tries: 0,
  };
}

/** What readFresh takes: segments `take` accepts (by creation), none of the seqs of `exclude` or destinations of `skip`, `share` per destination. */
export interface FreshFilter {
  take: (createdAt: number) => boolean;
  exclude?: ReadonlySet<number> | undefined;
  skip?: ReadonlySet<string> | undefined;
  share?: number | undefined;
}

/**
 * Fresh events in seq order, from the segments `take` accepts (stopping at the first it
 * does not), up to `limit` (the last segment read may be cut short: the next page reads
 * it again for the rest). It walks the small spent records, and reads a segment only if
 * one of its events is wanted (not gone, not in `exclude`: the page in flight).
 */
export async function readFresh(tx: ReadTx, limit: number, filter: FreshFilter): Promise<QueuedRecord[]> {
  const { take, exclude, skip, share = Number.POSITIVE_INFINITY } = filter;
  const records: QueuedRecord[] = [];
  const taken = new Map<string, number>();
  const full = (key: string) => (taken.get(key) ?? 0) >= share || !!skip?.has(key);
  let cursor = await tx.objectStore('spent').openCursor();
  while (cursor && records.length < limit && take(cursor.value.createdAt)) {
    const { seg, n, gone, dest } = cursor.value;
    const left = new Set(gone);
    if (exclude) for (let i = 0; i < n; i++) if (exclude.has(seg * SEGMENT + i)) left.add(i);
    // The segment of a destination skipped, or with its share taken, is not read (older
    // segments, of no one destination, are).
    if (left.size < n && !(dest !== undefined && full(dest))) {
      const segment = await tx.objectStore('fresh').get(seg);
      if (!segment) break;
      for (let i = 0; i < n && records.length < limit; i++) {
        if (left.has(i)) continue;
        const key = dest ?? destinationOf(segment.events[i]!.url);
        if (full(key)) continue;
        taken.set(key, (taken.get(key) ?? 0) + 1);
        records.push(freshRecord(segment, i)!);
      }
    }
    if (records.length < limit) cursor = await cursor.continue();
  }
  return records;
}

/** The spent records of the segments some seqs would be in (those that exist), to change and save. */
export type SpentStates = Map<number, SpentState>;
type SpentState = Omit<Spent, 'gone' | 'delivered'> & { gone: Set<number>; delivered: string[]; changed: number };

export async function loadSpent(tx: WriteTx, seqs: number[]): Promise<SpentStates> {
  const segs = [...new Set(seqs.map(segmentOf))];
  const found = await Promise.all(segs.map((seg) => tx.objectStore('spent').get(seg)));
  const states: SpentStates = new Map();
  for (const st of found)
    if (st) states.set(st.seg, { ...st, gone: new Set(st.gone), delivered: st.delivered ?? [], changed: st.gone.length });
  return states;
}

/** The spent state of the segment `seq` is still in (its segment stored, the event not gone from it), else undefined. */
export function stillIn(spent: SpentStates, seq: number): SpentState | undefined {
  const st = spent.get(segmentOf(seq));
  return st && seq % SEGMENT < st.n && !st.gone.has(seq % SEGMENT) ? st : undefined;
}

/** Marks the event `seq` gone from its segment (it must be stillIn it). */
export function markGone(st: SpentState, seq: number): void {
  st.gone.add(seq % SEGMENT);
}

/**
 * Writes back what changed: a segment all of whose events are gone goes, with its spent
 * record (its deletes issued before anything the caller writes next), and the keys of its
 * delivered events come back, to be remembered.
 */
export function saveSpent(tx: WriteTx, states: SpentStates): { done: Promise<unknown>; delivered: string[] } {
  const writes: Promise<unknown>[] = [];
  const delivered: string[] = [];
  for (const [seg, st] of states) {
    if (st.gone.size === st.changed) continue;
    if (st.gone.size >= st.n) {
      writes.push(tx.objectStore('fresh').delete(seg), tx.objectStore('spent').delete(seg));
      delivered.push(...st.delivered);
    } else {
      const { changed: _, gone, delivered: keys, ...rest } = st;
      writes.push(tx.objectStore('spent').put({ ...rest, gone: [...gone], ...(keys.length ? { delivered: keys } : {}) }));
    }
  }
  return { done: Promise.all(writes), delivered };
}

/**
 * Gives `count` segment numbers; resolves to the first. Above every one given before, and
 * every seq `queue` gave (records of older versions).
 */
export async function nextSegment(tx: WriteTx, count: number): Promise<number> {
  const meta = tx.objectStore('meta');
  let last = await getMeta(meta, 'segment');
  if (last === undefined) {
    const cursor = await tx.objectStore('queue').openKeyCursor(null, 'prev');
    last = cursor ? segmentOf(Number(cursor.key)) : 0;
  }
  await putMeta(meta, 'segment', last + count);
  return last + 1;
}

/**
 * Events a segment could not take (their id or key is held by a gone event of a segment
 * still stored), checked not queued: each a record of `queue`, as an event that failed
 * once is, numbered as a segment of its own would be. Resolves to the ids it did NOT add
 * (a unique index of `queue` refused them: the same id or key twice among these).
 */
export async function addToQueue(tx: WriteTx, records: NewRecord[], at: number): Promise<string[]> {
  if (records.length === 0) return [];
  let seq = (await nextSegment(tx, Math.ceil(records.length / SEGMENT))) * SEGMENT;
  const added = await Promise.all(records.map((r) => addUnlessDuplicate(tx.objectStore('queue'), queuedRecord(seq++, r, at))));
  return records.filter((_, i) => !added[i]).map((r) => r.id);
}

/**
 * Writes `records` (checked, not duplicates) as fresh segments of events created `at`,
 * each of one destination (in their order within it), so that a read can pass over a held
 * destination's segments without reading them. Each segment is written whole or, when a
 * unique index refuses it (an id or key is queued), not at all: resolves to the records of
 * the segments refused.
 */
export async function addSegments(tx: WriteTx, records: NewRecord[], at: number): Promise<NewRecord[]> {
  if (records.length === 0) return [];
  const parts = byDestination(records);
  let seg = await nextSegment(tx, parts.length);
  const adds: Promise<NewRecord[]>[] = [];
  for (const [dest, part] of parts) {
    const events = part.map(({ id, url, body, keys }) => ({ id, url, body, ...(keys?.length ? { keys } : {}) }));
    const segment: Segment = {
      seg: seg++,
      createdAt: at,
      events,
      ids: events.filter((e) => !e.keys).map((e) => e.id),
      keys: events.flatMap((e) => e.keys ?? []),
    };
    adds.push(
      addUnlessDuplicate(tx.objectStore('fresh'), segment).then(async (added) => {
        if (!added) return part;
        await tx.objectStore('spent').put({ seg: segment.seg, createdAt: at, n: events.length, gone: [], dest });
        return [];
      }),
    );
  }
  return (await Promise.all(adds)).flat();
}

/** `records` cut into segments of one destination each, at most SEGMENT long, in their order. */
function byDestination(records: NewRecord[]): [string, NewRecord[]][] {
  const byDest = new Map<string, NewRecord[]>();
  for (const r of records) {
    const dest = destinationOf(r.url);
    const list = byDest.get(dest);
    if (list) list.push(r);
    else byDest.set(dest, [r]);
  }
  const parts: [string, NewRecord[]][] = [];
  for (const [dest, list] of byDest)
    for (let from = 0; from < list.length; from += SEGMENT) parts.push([dest, list.slice(from, from + SEGMENT)]);
  return parts;
}
