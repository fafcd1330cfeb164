// The outbox engine: answers protocol messages (enqueue, flush, stats, dead letters) with
// the store and the flusher. The service worker (worker/outbox.ts) and the fallback for
// browsers without one (worker/fallback.ts: a dedicated worker that the page's dispatcher
// starts where no service worker runs) are both thin hosts around it, so both keep the same
// rules: validation, de-duplication, backoff, status classes, batching. No DOM and no
// service-worker globals here: the host supplies those.
//
// This file wires the pieces together (context.ts lists them); the path of one event:
// answer → handle (answers.ts) → enqueue (enqueue.ts) → store.enqueue, the reply after its
// commit; then flusher.kick() (delivery/flusher.ts) sends it and deletes it after its 2xx.
import { type FlusherOptions, createFlusher } from '../delivery/flusher.js';
import { createSender } from '../delivery/send.js';
import type { DeadLetterPage, DiscardResult, RequeueResult, Stats, WorkerReply } from '../protocol.js';
import type { Store } from '../store/store.js';
import { answer, handle } from './answers.js';
import type { EngineContext, EngineHost } from './context.js';
import { deadLetters, discardDeadLetters, retryDeadLetters } from './dead-letters.js';
import { refuseStored } from './enqueue.js';
import type { ResolvedOptions } from './options.js';
import { readStats } from './stats.js';
import { createStorageProbe } from './storage.js';

export type { EngineHost };
export { replier } from './answers.js';
export { DEAD_PAGE_DEFAULT, DEAD_PAGE_MAX, MAX_DEAD_IDS, toDeadLetter } from './dead-letters.js';

export interface Engine {
  /** Answers one protocol message (already known to be ours). Throws an OutboxError. */
  handle(data: Record<string, unknown>): Promise<WorkerReply>;
  /**
   * Answers a message event's data if it is ours (then resolves after the reply and a
   * flusher pass: any message is a wake-up); undefined if it is not ours. The reply goes
   * on the message's port, else to `source` as a ReplyEnvelope for the message's `rid`.
   */
  answer(data: unknown, port: MessagePort | undefined, source?: { postMessage(message: unknown): void } | null): Promise<void> | undefined;
  kick(): Promise<void>;
  stats(): Promise<Stats>;
  /** Connectivity came back: events held only for these reasons are due now. */
  reconnected(holds: ('offline' | 'network')[]): Promise<void>;
  clear(): Promise<void>;
  /** One page of dead letters, newest first. Throws an OutboxError (`invalid-argument`) for a bad query. */
  deadLetters(query?: unknown): Promise<DeadLetterPage>;
  /** Dead letters back to the queue (all when `ids` is undefined), then a flusher pass. */
  retryDeadLetters(ids?: unknown): Promise<RequeueResult>;
  /** Dead letters deleted for good (all when `ids` is undefined). */
  discardDeadLetters(ids?: unknown): Promise<DiscardResult>;
  stop(): void;
}

export function createEngine(opts: ResolvedOptions, store: Store, host: EngineHost): Engine {
  // Stats go out at most every 200 ms, trailing, so a burst costs one read.
  let statsTimer: ReturnType<typeof setTimeout> | undefined;
  const statsChanged = () => {
    statsTimer ??= setTimeout(() => {
      statsTimer = undefined;
      void ctx.stats().then(
        (s) => host.broadcast('stats', s),
        () => {},
      );
    }, 200);
  };
  const flusher = createFlusher(flusherOptions(opts, store, host, statsChanged));
  const storage = createStorageProbe(host.storage);
  const ctx: EngineContext = {
    opts,
    store,
    host,
    flusher,
    statsChanged,
    stats: () => readStats(ctx, storage),
    reconnected: async (holds) => {
      flusher.unblock(holds);
      await store.release(holds, Date.now());
    },
  };

  return {
    handle: (data) => handle(ctx, data),
    answer: (data, port, source) => answer(ctx, data, port, source),
    kick: () => flusher.kick(),
    stats: ctx.stats,
    reconnected: ctx.reconnected,
    clear: () => store.clear(),
    deadLetters: (query) => deadLetters(ctx, query),
    retryDeadLetters: (ids) =>
      retryDeadLetters(ctx, ids).then((result) => {
        void flusher.kick().catch(() => {});
        return result;
      }),
    discardDeadLetters: (ids) => discardDeadLetters(ctx, ids),
    stop() {
      flusher.stop();
      if (statsTimer !== undefined) clearTimeout(statsTimer);
      store.close();
    },
  };
}

/** The flusher's options for these outbox options: the host's fetch, clocks and lease, its events broadcast. */
function flusherOptions(opts: ResolvedOptions, store: Store, host: EngineHost, changed: () => void): FlusherOptions {
  return {
    store,
    send: createSender(opts, host.fetch, host.isOffline),
    backoff: { ...opts.backoff, maxRetryAfterMs: opts.maxRetryAfterMs },
    maxAgeMs: opts.maxAgeMs,
    dedupeWindowMs: opts.dedupeWindowMs,
    concurrency: opts.concurrency,
    batch: opts.batching === 'optimizely' ? { maxVisitors: opts.batchMaxVisitors, maxBytes: opts.batchMaxBytes } : undefined,
    pageSize:
      opts.batching === 'optimizely'
        ? // A batch for every lane (the next page is read while this one is sent); at most
          // 2,500 records (~2.5 MB of ~1 KB events) in a page.
          Math.min(2500, Math.max(50, opts.batchMaxVisitors * opts.concurrency))
        : Math.max(50, opts.concurrency * 16),
    now: Date.now,
    // Against which the wall clock's jumps are measured (src/clock.ts).
    monotonic: () => performance.now(),
    random: Math.random,
    isOffline: host.isOffline,
    exclusive: host.exclusive,
    refuse: refuseStored(opts),
    onHeld: () => host.onHeld?.(),
    emit: {
      delivered: (d) => host.broadcast('delivered', d),
      retry: (d) => host.broadcast('retry', d),
      deadLetter: (d) => host.broadcast('dead-letter', d),
      dropped: (d) => host.broadcast('dropped', d),
      changed,
    },
  };
}
