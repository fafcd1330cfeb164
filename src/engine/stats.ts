// stats(): what the pages are told of the outbox. The store's counters (persisted across
// restarts), each destination's queue and hold (the store's count joined with what the
// flusher knows), the next attempt, and the storage facts of the host. Read-only: one
// read of each source, together.
import type { Stats } from '../protocol.js';
import type { EngineContext } from './context.js';
import type { StorageFacts } from './storage.js';

export async function readStats(ctx: EngineContext, storage: () => Promise<StorageFacts>): Promise<Stats> {
  const { store, flusher, host } = ctx;
  const [counters, next, queuedBy, facts] = await Promise.all([
    store.counters(),
    flusher.nextAttemptAt(),
    store.queuedByDestination(),
    storage(),
  ]);
  const now = Date.now();
  const known = new Map(flusher.destinations().map((d) => [d.destination, d]));
  const destinations = [...new Set([...Object.keys(queuedBy), ...known.keys()])].sort().map((destination) => {
    const d = known.get(destination);
    const queued = queuedBy[destination] ?? 0;
    return {
      destination,
      queued,
      nextAttemptAt: d && d.heldUntil > now ? d.heldUntil : queued > 0 ? now : null,
      heldFor: d && d.heldUntil > now ? d.reason : null,
      lastStatus: d?.lastStatus ?? null,
      lastAttemptAt: d?.lastAttemptAt ?? null,
    };
  });
  return {
    mode: host.mode,
    degraded: host.mode === 'memory',
    queued: counters.queued,
    deadLettered: counters.deadLettered,
    dropped: counters.dropped,
    delivered: counters.delivered,
    retried: counters.retried,
    requeued: counters.requeued ?? 0,
    discarded: counters.discarded ?? 0,
    inFlight: flusher.inFlight(),
    nextAttemptAt: next === undefined ? null : next,
    destinations,
    persisted: facts.persisted,
    storage: facts.storage,
  };
}
