// The outbox engine: answers protocol messages (enqueue, flush, stats, ...) with the
// store and the flusher. The service worker (worker/outbox.ts) and the page-side
// fallback for browsers without one (src/page/fallback.ts) are both thin hosts around
// it, so both keep the same rules: validation, de-duplication, backoff, status classes,
// batching. No DOM and no service-worker globals here: the host supplies those.
import { contentKeys } from '../delivery/batching.js';
import { type Flusher, createFlusher } from '../delivery/flusher.js';
import { createSender } from '../delivery/send.js';
import { OutboxError } from '../errors.js';
import {
  type EnqueueResult,
  type OutboxEventName,
  type OutboxEvents,
  type OutboxMode,
  MAX_EVENTS_PER_MESSAGE,
  MESSAGE_PREFIX,
  PROTOCOL_VERSION,
  type Stats,
  type WireEvent,
  type WorkerReply,
} from '../protocol.js';
import type { NewRecord, Store } from '../store/store.js';
import { checkBodySize, checkVerb, isAllowedEndpoint, parseHttpUrl, resolveRewrites, rewriteUrl } from '../validate.js';
import type { ResolvedOptions } from './options.js';

export interface EngineHost {
  mode: OutboxMode;
  /** Tells every page about an outcome. */
  broadcast<K extends OutboxEventName>(name: K, detail: OutboxEvents[K]): void;
  /** Delivery is held back (offline, collector down): ask the platform for a wake-up. */
  onHeld?(): void;
  /** Runs a flusher pass exclusively across every context sharing the store (a Web Lock). */
  exclusive?: <T>(pass: () => Promise<T>) => Promise<T>;
  isOffline(): boolean;
  fetch?: typeof fetch;
}

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
  stop(): void;
}

export function createEngine(opts: ResolvedOptions, store: Store, host: EngineHost): Engine {
  // Stats go out at most every 200 ms, trailing, so a burst costs one read.
  let statsTimer: ReturnType<typeof setTimeout> | undefined;
  const statsChanged = () => {
    statsTimer ??= setTimeout(() => {
      statsTimer = undefined;
      void stats().then(
        (s) => host.broadcast('stats', s),
        () => {},
      );
    }, 200);
  };

  const flusher: Flusher = createFlusher({
    store,
    send: createSender(opts, host.fetch, host.isOffline),
    backoff: { ...opts.backoff, maxRetryAfterMs: opts.maxRetryAfterMs },
    maxAgeMs: opts.maxAgeMs,
    dedupeWindowMs: opts.dedupeWindowMs,
    concurrency: opts.concurrency,
    batch: opts.batching === 'optimizely' ? { maxVisitors: opts.batchMaxVisitors, maxBytes: opts.batchMaxBytes } : undefined,
    pageSize:
      opts.batching === 'optimizely'
        ? // A batch for every lane (the next page is read while this one is sent).
          Math.min(1000, Math.max(50, opts.batchMaxVisitors * opts.concurrency))
        : Math.max(50, opts.concurrency * 16),
    now: Date.now,
    random: Math.random,
    isOffline: host.isOffline,
    exclusive: host.exclusive,
    refuse: (record) => {
      if (typeof record.id !== 'string' || typeof record.body !== 'string' || typeof record.url !== 'string') {
        return 'corrupted record: id, url and body must be strings';
      }
      let url: URL;
      try {
        url = parseHttpUrl(record.url, 'stored url');
      } catch (error) {
        return (error as Error).message;
      }
      if (!isAllowedEndpoint(url, opts.endpoints)) return `${url.href} is not in this outbox's endpoints`;
      return undefined;
    },
    onHeld: () => host.onHeld?.(),
    emit: {
      delivered: (d) => host.broadcast('delivered', d),
      retry: (d) => host.broadcast('retry', d),
      deadLetter: (d) => host.broadcast('dead-letter', d),
      dropped: (d) => host.broadcast('dropped', d),
      changed: statsChanged,
    },
  });

  async function stats(): Promise<Stats> {
    const [counters, next, queuedBy] = await Promise.all([store.counters(), flusher.nextAttemptAt(), store.queuedByDestination()]);
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
      inFlight: flusher.inFlight(),
      nextAttemptAt: next === undefined ? null : next,
      destinations,
    };
  }

  async function reconnected(holds: ('offline' | 'network')[]): Promise<void> {
    flusher.unblock(holds);
    await store.release(holds, Date.now());
  }

  // Validates one wire event into a record; throws an OutboxError naming what was wrong.
  async function toRecord(raw: unknown, rewrites: [string, string][], maxBodyBytes: number): Promise<NewRecord> {
    const e = checkWireEvent(raw);
    e.url = rewriteUrl(e.url, rewrites);
    checkVerb(e.verb);
    const url = parseHttpUrl(e.url, 'event.url');
    if (!isAllowedEndpoint(url, opts.endpoints)) {
      throw new OutboxError(
        'endpoint-not-allowed',
        `event.url ${JSON.stringify(url.href)} is not in this outbox's endpoints (${opts.endpoints!.map((u) => u.href).join(', ')})`,
      );
    }
    checkBodySize(e.body, maxBodyBytes, 'event body');
    const record: NewRecord = { id: e.id, url: url.href, body: e.body };
    if (e.dedupe === true && opts.dedupeWindowMs > 0) {
      const keys = await contentKeys(record.url, record.body);
      if (keys.length > 0) record.keys = keys;
    }
    return record;
  }

  async function enqueue(events: unknown, rewrite: unknown, base: unknown, pageLimit: unknown): Promise<EnqueueResult[]> {
    if (!Array.isArray(events) || events.length === 0 || events.length > MAX_EVENTS_PER_MESSAGE) {
      throw new OutboxError('invalid-message', `enqueue.events must be an array of 1 to ${MAX_EVENTS_PER_MESSAGE} events`);
    }
    const rewrites = resolveRewrites(rewrite, base);
    const maxBodyBytes = typeof pageLimit === 'number' && pageLimit > 0 ? Math.min(pageLimit, opts.maxBodyBytes) : opts.maxBodyBytes;
    const results: EnqueueResult[] = new Array(events.length);
    const records: NewRecord[] = [];
    const positions: number[] = [];
    const checked = await Promise.allSettled(events.map((raw) => toRecord(raw, rewrites, maxBodyBytes)));
    checked.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') {
        records.push(outcome.value);
        positions.push(i);
        return;
      }
      const raw = events[i] as Partial<WireEvent> | null;
      const id = typeof raw === 'object' && raw !== null && typeof raw.id === 'string' ? raw.id : '';
      const error = outcome.reason;
      const err = error instanceof OutboxError ? error : new OutboxError('invalid-event', String(error));
      results[i] = { id, ok: false, code: err.code, message: err.message };
    });
    if (records.length > 0) {
      try {
        const { results: stored, droppedIds } = await store.enqueue(records, opts);
        stored.forEach((r, j) => {
          results[positions[j]!] = r.ok ? { id: r.id, ok: true } : { id: r.id, ok: false, code: r.error.code, message: r.error.message };
        });
        if (droppedIds.length) host.broadcast('dropped', { ids: droppedIds, reason: 'overflow' });
      } catch (error) {
        const err = error instanceof OutboxError ? error : new OutboxError('storage-error', String(error));
        positions.forEach((p, j) => {
          results[p] = { id: records[j]!.id, ok: false, code: err.code, message: err.message };
        });
      }
      statsChanged();
    }
    return results;
  }

  async function handle(data: Record<string, unknown>): Promise<WorkerReply> {
    const v = PROTOCOL_VERSION;
    if (data.v !== PROTOCOL_VERSION) {
      throw new OutboxError(
        'protocol-mismatch',
        `message speaks protocol version ${String(data.v)}, this worker speaks ${PROTOCOL_VERSION}; reload the page`,
      );
    }
    switch (data.type) {
      case 'sw-outbox/enqueue': {
        const results = await enqueue(data.events, data.rewrite, data.base, data.maxBodyBytes);
        // The compact reply, for pages that ask for it: the refused events only.
        if (data.failedOnly === true) {
          const failed = results.flatMap((r, i) => (r.ok ? [] : [{ i, code: r.code, message: r.message }]));
          return { type: 'sw-outbox/enqueued', v, failed };
        }
        return { type: 'sw-outbox/enqueued', v, results };
      }
      case 'sw-outbox/flush':
        await reconnected(['offline', 'network']);
        await flusher.kick();
        return { type: 'sw-outbox/done', v };
      case 'sw-outbox/online':
        await reconnected(['offline', 'network']);
        return { type: 'sw-outbox/done', v };
      case 'sw-outbox/wake':
      case 'sw-outbox/stats':
        return { type: 'sw-outbox/stats', v, stats: await stats() };
      case 'sw-outbox/clear':
        await store.clear();
        statsChanged();
        return { type: 'sw-outbox/done', v };
      default:
        throw new OutboxError('invalid-message', `unknown message type ${JSON.stringify(String(data.type)).slice(0, 80)}`);
    }
  }

  function answer(
    data: unknown,
    port: MessagePort | undefined,
    source?: { postMessage(message: unknown): void } | null,
  ): Promise<void> | undefined {
    // Not ours (Workbox's SKIP_WAITING, an app's own messages): leave it alone.
    const type = (data as { type?: unknown } | null)?.type;
    if (typeof type !== 'string' || !type.startsWith(MESSAGE_PREFIX)) return undefined;
    const reply = replier(data, port, source);
    return handle(data as Record<string, unknown>)
      .then(reply, (error: unknown) => {
        const err = error instanceof OutboxError ? error : new OutboxError('storage-error', String(error));
        reply({ type: 'sw-outbox/error', v: PROTOCOL_VERSION, code: err.code, message: err.message });
      })
      .then(() => flusher.kick())
      .catch(() => {});
  }

  return {
    handle,
    answer,
    kick: () => flusher.kick(),
    stats,
    reconnected,
    clear: () => store.clear(),
    stop() {
      flusher.stop();
      if (statsTimer !== undefined) clearTimeout(statsTimer);
      store.close();
    },
  };
}

/**
 * How to answer a message: on its port if it came with one, else to `source` (the page)
 * as a ReplyEnvelope for the message's request id. Never throws: a page that is gone
 * leaves the work done regardless.
 */
export function replier(
  data: unknown,
  port: MessagePort | undefined,
  source?: { postMessage(message: unknown): void } | null,
): (reply: WorkerReply) => void {
  const rid = (data as { rid?: unknown } | null)?.rid;
  return (reply) => {
    try {
      if (port) port.postMessage(reply);
      else if (typeof rid === 'number') source?.postMessage({ type: 'sw-outbox/reply', rid, reply });
    } catch {
      // The page is gone.
    }
  };
}

function checkWireEvent(raw: unknown): WireEvent {
  if (typeof raw !== 'object' || raw === null) throw new OutboxError('invalid-message', 'each event must be an object {id, url, body}');
  const e = raw as Record<string, unknown>;
  if (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > 200) {
    throw new OutboxError('invalid-message', 'event.id must be a string of 1 to 200 characters');
  }
  if (typeof e.body !== 'string') throw new OutboxError('invalid-message', `event ${e.id}: body must be a string`);
  if (typeof e.url !== 'string') throw new OutboxError('invalid-url', `event ${e.id}: url must be a string`);
  return { id: e.id, url: e.url, body: e.body, dedupe: e.dedupe === true, verb: e.verb };
}
