// Which records are duplicates of events the IndexedDB store already holds, looked at one
// by one. Off the usual path: enqueue asks only for a segment a unique index of `fresh`
// refused, or near a full queue; requeue asks for the dead letters it puts back.
import type { NewRecord } from './records.js';
import type { FreshEvent, Segment, WriteTx } from './schema.js';

export interface QueuedCheck {
  /** The ids of the records that are duplicates. */
  duplicates: Set<string>;
  /** For each of the others, the keys it may hold (those neither queued nor delivered). */
  keys: Map<string, string[] | undefined>;
}

/**
 * Which of `records` are duplicates of queued events (an id queued, or every key queued
 * or delivered since `deliveredSince`), and the keys each of the others may hold. Reads
 * the indexes of `fresh` (a segment's indexes still hold its events that are gone: those
 * do not count), and those of `queue` when it holds anything (`retries`: only events that
 * failed, usually none).
 */
export async function againstQueued(tx: WriteTx, records: NewRecord[], deliveredSince: number, retries: boolean): Promise<QueuedCheck> {
  const queue = tx.objectStore('queue');
  const fresh = tx.objectStore('fresh');
  // Still in the segment, or (a key) delivered from it.
  const inSegment = async (segment: Segment | undefined, has: (e: FreshEvent) => boolean, key?: string): Promise<boolean> => {
    if (!segment) return false;
    const st = await tx.objectStore('spent').get(segment.seg);
    const gone = new Set(st?.gone);
    return segment.events.some((e, i) => has(e) && !gone.has(i)) || (key !== undefined && !!st?.delivered?.includes(key));
  };
  const queuedId = async (id: string) =>
    (await inSegment(await fresh.index('ids').get(id), (e) => e.id === id)) ||
    (retries && (await queue.index('id').getKey(id)) !== undefined);
  // Queued, or delivered within the window (kept in `fresh` under a negative key)?
  const queuedKey = async (key: string) => {
    const holder = await fresh.index('keys').get(key);
    if (holder && holder.seg < 0) return holder.createdAt > deliveredSince;
    return (
      (await inSegment(holder, (e) => !!e.keys?.includes(key), key)) || (retries && (await queue.index('keys').getKey(key)) !== undefined)
    );
  };
  const duplicates = new Set<string>();
  const keys = new Map<string, string[] | undefined>();
  await Promise.all(
    records.map(async (r) => {
      const [idQueued, keysQueued] = await Promise.all([queuedId(r.id), Promise.all((r.keys ?? []).map(queuedKey))]);
      const left = r.keys?.filter((_, i) => !keysQueued[i]);
      if (idQueued || (r.keys && left!.length === 0)) duplicates.add(r.id);
      else keys.set(r.id, left);
    }),
  );
  return { duplicates, keys };
}
