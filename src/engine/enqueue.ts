// Enqueue: the wire events of one message validated into records and handed to the store,
// which commits them (the page's 202 waits for that commit: ack after commit).
// - Every bad event gets a typed error with a stable `code` and a message naming what was
//   wrong; it is refused alone, the message's other events go on.
// - The payload is not modified: the body stored is the one the page made. Only the URL is
//   rewritten (the page's `rewrite` rules) and checked against the outbox's `endpoints`.
// - De-duplication (`dedupe: true` and a window): content keys (store/content-keys.ts) go
//   with the record, and the store refuses an event it has seen within the window.
// - Stored records are checked again before every send (`refuseStored`): other code may
//   write the same store.
import { OutboxError, type OutboxErrorCode } from '../errors.js';
import type { QueuedRecord, NewRecord } from '../store/store.js';
import { contentKeys } from '../store/content-keys.js';
import { type EnqueueResult, MAX_EVENTS_PER_MESSAGE, type WireEvent } from '../protocol.js';
import { checkBodySize, checkVerb, isAllowedEndpoint, parseHttpUrl, resolveRewrites, rewriteUrl } from '../validate.js';
import type { EngineContext } from './context.js';
import type { ResolvedOptions } from './options.js';

/** One enqueue message's events: a result for each, in order (refused ones with their code). */
export async function enqueue(
  ctx: EngineContext,
  events: unknown,
  rewrite: unknown,
  base: unknown,
  pageLimit: unknown,
): Promise<EnqueueResult[]> {
  const { opts, store } = ctx;
  if (!Array.isArray(events) || events.length === 0 || events.length > MAX_EVENTS_PER_MESSAGE) {
    throw new OutboxError('invalid-message', `enqueue.events must be an array of 1 to ${MAX_EVENTS_PER_MESSAGE} events`);
  }
  const rewrites = resolveRewrites(rewrite, base);
  const maxBodyBytes = typeof pageLimit === 'number' && pageLimit > 0 ? Math.min(pageLimit, opts.maxBodyBytes) : opts.maxBodyBytes;
  const results: EnqueueResult[] = new Array(events.length);
  const records: NewRecord[] = [];
  const positions: number[] = [];
  const checked = await Promise.allSettled(events.map((raw) => toRecord(opts, raw, rewrites, maxBodyBytes)));
  checked.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') {
      records.push(outcome.value);
      positions.push(i);
      return;
    }
    const raw = events[i] as Partial<WireEvent> | null;
    const id = typeof raw === 'object' && raw !== null && typeof raw.id === 'string' ? raw.id : '';
    const err = asOutboxError(outcome.reason, 'invalid-event');
    results[i] = { id, ok: false, code: err.code, message: err.message };
  });
  if (records.length > 0) {
    try {
      const { results: stored, droppedIds } = await store.enqueue(records, opts);
      stored.forEach((r, j) => {
        results[positions[j]!] = r.ok ? { id: r.id, ok: true } : { id: r.id, ok: false, code: r.error.code, message: r.error.message };
      });
      if (droppedIds.length) ctx.host.broadcast('dropped', { ids: droppedIds, reason: 'overflow' });
    } catch (error) {
      const err = asOutboxError(error, 'storage-error');
      positions.forEach((p, j) => {
        results[p] = { id: records[j]!.id, ok: false, code: err.code, message: err.message };
      });
    }
    ctx.statsChanged();
  }
  return results;
}

/** An error as sent to the page: an OutboxError as it is, anything else under `code`. */
export function asOutboxError(error: unknown, code: OutboxErrorCode): OutboxError {
  return error instanceof OutboxError ? error : new OutboxError(code, String(error));
}

/** Validates one wire event into a record; throws an OutboxError naming what was wrong. */
async function toRecord(opts: ResolvedOptions, raw: unknown, rewrites: [string, string][], maxBodyBytes: number): Promise<NewRecord> {
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

/** The flusher's check before every send: why a stored record must not be sent (corrupted, URL not allowed), or undefined. */
export function refuseStored(opts: ResolvedOptions): (record: QueuedRecord) => string | undefined {
  return (record) => {
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
  };
}
