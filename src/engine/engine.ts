// The outbox engine: answers protocol messages (enqueue, flush, stats, ...) with the
// store and the flusher. The service worker (worker/outbox.ts) and the fallback for
// browsers without one (worker/fallback.ts: a dedicated worker that the page's
// dispatcher starts where no service worker runs) are both thin hosts around it, so both keep the same rules: validation, de-duplication, backoff, status classes,
// batching. No DOM and no service-worker globals here: the host supplies those.
import { contentKeys } from '../store/content-keys.js';
import { type Flusher, createFlusher } from '../delivery/flusher.js';
import { createSender } from '../delivery/send.js';
import { OutboxError, describe } from '../errors.js';
import {
  type DeadLetter,
  type DeadLetterPage,
  type DiscardResult,
  type EnqueueResult,
  type OutboxEventName,
  type OutboxEvents,
  type OutboxMode,
  type RequeueResult,
  MAX_EVENTS_PER_MESSAGE,
  MESSAGE_PREFIX,
  PROTOCOL_VERSION,
  type Stats,
  type WireEvent,
  type WorkerReply,
} from '../protocol.js';
import type { DeadRecord, DeadSelection, NewRecord, Store } from '../store/store.js';
import { checkBodySize, checkVerb, isAllowedEndpoint, parseHttpUrl, resolveRewrites, rewriteUrl } from '../validate.js';
import type { ResolvedOptions } from './options.js';
import { type StorageManagerLike, createStorageProbe } from './storage.js';

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
  /** The host's `navigator.storage`, for stats().persisted and stats().storage (absent: null). */
  storage?: StorageManagerLike;
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
  /** One page of dead letters, newest first. Throws an OutboxError (`invalid-argument`) for a bad query. */
  deadLetters(query?: unknown): Promise<DeadLetterPage>;
  /** Dead letters back to the queue (all when `ids` is undefined), then a flusher pass. */
  retryDeadLetters(ids?: unknown): Promise<RequeueResult>;
  /** Dead letters deleted for good (all when `ids` is undefined). */
  discardDeadLetters(ids?: unknown): Promise<DiscardResult>;
  stop(): void;
}

/** Dead letters per page: the default, and the most one page may hold. */
export const DEAD_PAGE_DEFAULT = 100;
export const DEAD_PAGE_MAX = 1000;
/** Most ids one retry or discard call may name. */
export const MAX_DEAD_IDS = 1000;
/** Dead letters per transaction of a retry or discard. */
const DEAD_CHUNK = 100;

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
        ? // A batch for every lane (the next page is read while this one is sent); at most
          // 2,500 records (~2.5 MB of ~1 KB events) in a page.
          Math.min(2500, Math.max(50, opts.batchMaxVisitors * opts.concurrency))
        : Math.max(50, opts.concurrency * 16),
    now: Date.now,
    // Against which the wall clock's jumps are measured (delivery/clock.ts).
    monotonic: () => performance.now(),
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

  const storage = createStorageProbe(host.storage);

  async function stats(): Promise<Stats> {
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

  async function deadLetters(query: unknown): Promise<DeadLetterPage> {
    const { limit, before } = checkDeadQuery(query);
    // One more than asked for: whether another page follows.
    const records = await store.readDead(limit + 1, before);
    const page = records.slice(0, limit);
    return { letters: page.map(toDeadLetter), next: records.length > limit ? String(page[page.length - 1]!.seq) : null };
  }

  /**
   * Runs `op` over the selected dead letters, a transaction per chunk: the ids given, or
   * every dead letter there is now (oldest first; those that arrive meanwhile are left),
   * until `each` says stop.
   */
  async function eachChunk<T extends { last?: number }>(
    ids: string[] | undefined,
    op: (selection: DeadSelection) => Promise<T>,
    each: (chunk: T) => boolean,
  ): Promise<void> {
    if (ids) {
      for (let i = 0; i < ids.length; i += DEAD_CHUNK) each(await op({ ids: ids.slice(i, i + DEAD_CHUNK) }));
      return;
    }
    const [newest] = await store.readDead(1);
    let after = Number.NEGATIVE_INFINITY;
    while (newest) {
      const chunk = await op({ after, through: newest.seq, limit: DEAD_CHUNK });
      if (!each(chunk) || chunk.last === undefined) return;
      after = chunk.last;
    }
  }

  async function retryDeadLetters(raw: unknown): Promise<RequeueResult> {
    const ids = checkDeadIds(raw, 'retryDeadLetters(ids)');
    const result: RequeueResult = { requeued: [], alreadyQueued: [], queueFull: [], notFound: [] };
    await eachChunk(
      ids,
      (selection) => store.requeue(selection, opts.maxQueueSize),
      (chunk) => {
        result.requeued.push(...chunk.requeued);
        result.alreadyQueued.push(...chunk.alreadyQueued);
        result.queueFull.push(...chunk.queueFull);
        result.notFound.push(...chunk.notFound);
        if (chunk.requeued.length) host.broadcast('requeued', { ids: chunk.requeued });
        // All of them: a full queue stops the walk (the rest would not fit either).
        return chunk.queueFull.length === 0;
      },
    );
    statsChanged();
    return result;
  }

  async function discardDeadLetters(raw: unknown): Promise<DiscardResult> {
    const ids = checkDeadIds(raw, 'discardDeadLetters(ids)');
    const result: DiscardResult = { discarded: [], notFound: [] };
    await eachChunk(
      ids,
      (selection) => store.discard(selection),
      (chunk) => {
        result.discarded.push(...chunk.discarded);
        result.notFound.push(...chunk.notFound);
        if (chunk.discarded.length) host.broadcast('discarded', { ids: chunk.discarded });
        return true;
      },
    );
    statsChanged();
    return result;
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
      case 'sw-outbox/dead-letters':
        return { type: 'sw-outbox/result', v, result: await deadLetters(data.arg) };
      // (answer() kicks the flusher after every message: the requeued letters go at once.)
      case 'sw-outbox/retry-dead-letters':
        return { type: 'sw-outbox/result', v, result: await retryDeadLetters(data.arg) };
      case 'sw-outbox/discard-dead-letters':
        return { type: 'sw-outbox/result', v, result: await discardDeadLetters(data.arg) };
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
    deadLetters,
    retryDeadLetters: (ids) =>
      retryDeadLetters(ids).then((result) => {
        void flusher.kick().catch(() => {});
        return result;
      }),
    discardDeadLetters,
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

/** `{limit, before}` checked: a bad one is refused with `invalid-argument`, naming what was wrong. */
function checkDeadQuery(query: unknown): { limit: number; before?: number } {
  const bad = (message: string): never => {
    throw new OutboxError('invalid-argument', `deadLetters(${message}`);
  };
  if (query === undefined) return { limit: DEAD_PAGE_DEFAULT };
  if (typeof query !== 'object' || query === null || Array.isArray(query))
    bad(`query) must be an object {limit?, before?}, got ${describe(query)}`);
  const q = query as Record<string, unknown>;
  for (const key of Object.keys(q))
    if (key !== 'limit' && key !== 'before') bad(`query): unknown option ${describe(key)} (options: limit, before)`);
  const limit = q.limit ?? DEAD_PAGE_DEFAULT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > DEAD_PAGE_MAX) {
    bad(`{limit}): limit must be an integer from 1 to ${DEAD_PAGE_MAX}, got ${describe(q.limit)}`);
  }
  if (q.before === undefined) return { limit: limit as number };
  if (typeof q.before !== 'string' || !/^\d{1,15}$/.test(q.before)) {
    bad(`{before}): before must be the \`next\` cursor of a previous page (a string of digits), got ${describe(q.before)}`);
  }
  return { limit: limit as number, before: Number(q.before) };
}

/** `ids` checked: undefined (all), or an array of at most MAX_DEAD_IDS event ids; duplicates removed. */
function checkDeadIds(ids: unknown, what: string): string[] | undefined {
  if (ids === undefined) return undefined;
  if (!Array.isArray(ids) || ids.length > MAX_DEAD_IDS) {
    throw new OutboxError(
      'invalid-argument',
      `${what} must be an array of at most ${MAX_DEAD_IDS} event ids, or omitted for all, got ${describe(ids)}${Array.isArray(ids) ? ` of ${ids.length}` : ''}`,
    );
  }
  ids.forEach((id, i) => {
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
      throw new OutboxError(
        'invalid-argument',
        `${what}: ids[${i}] must be an event id (a string of 1 to 200 characters), got ${describe(id)}`,
      );
    }
  });
  return [...new Set(ids as string[])];
}

/** A stored dead letter as `deadLetters()` lists it (see DeadLetter). */
export function toDeadLetter(r: DeadRecord): DeadLetter {
  // A permanent status came with an attempt: the last one, when it died.
  const tried = r.reason === 'permanent';
  const status = Number(r.status) || Number(r.lastStatus) || 0;
  const attempts = Number(r.tries) || 0;
  return {
    id: String(r.id),
    url: String(r.url),
    body: String(r.body),
    status,
    reason: tried ? (status >= 400 && status < 500 ? 'http-4xx' : 'http-status') : r.reason === 'expired' ? 'expired' : 'invalid',
    ...(r.detail ? { detail: r.detail } : {}),
    attempts,
    firstAttemptAt: r.firstAttemptAt ?? (tried && attempts <= 1 ? r.deadAt : null),
    lastAttemptAt: tried ? r.deadAt : (r.lastAttemptAt ?? null),
    createdAt: r.createdAt,
    deadAt: r.deadAt,
  };
}
