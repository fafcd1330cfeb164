// Dead letters are the user's data: listed (paged, newest first), sent again (back to the
// queue) or discarded for good, on request.
// - Arguments are checked strictly before anything is touched: a bad one is refused with
//   `invalid-argument`, naming what was wrong.
// - A retry or discard of many works a transaction per chunk (DEAD_CHUNK), so no
//   transaction grows with the dead-letter store; "all" means those there are when it starts.
// - A retry stops at a full queue (the rest would not fit either); each chunk's letters are
//   announced (`requeued`, `discarded`) as it is committed.
import { OutboxError, describe } from '../errors.js';
import type { DeadLetter, DeadLetterPage, DiscardResult, RequeueResult } from '../protocol.js';
import type { DeadRecord, DeadSelection } from '../store/store.js';
import type { EngineContext } from './context.js';

/** Dead letters per page: the default, and the most one page may hold. */
export const DEAD_PAGE_DEFAULT = 100;
export const DEAD_PAGE_MAX = 1000;
/** Most ids one retry or discard call may name. */
export const MAX_DEAD_IDS = 1000;
/** Dead letters per transaction of a retry or discard. */
const DEAD_CHUNK = 100;

/** One page of dead letters, newest first. */
export async function deadLetters(ctx: EngineContext, query: unknown): Promise<DeadLetterPage> {
  const { limit, before } = checkDeadQuery(query);
  // One more than asked for: whether another page follows.
  const records = await ctx.store.readDead(limit + 1, before);
  const page = records.slice(0, limit);
  return { letters: page.map(toDeadLetter), next: records.length > limit ? String(page[page.length - 1]!.seq) : null };
}

/** Dead letters back to the queue (all when `raw` is undefined), as far as the queue has room. */
export async function retryDeadLetters(ctx: EngineContext, raw: unknown): Promise<RequeueResult> {
  const ids = checkDeadIds(raw, 'retryDeadLetters(ids)');
  const result: RequeueResult = { requeued: [], alreadyQueued: [], queueFull: [], notFound: [] };
  await eachChunk(
    ctx,
    ids,
    (selection) => ctx.store.requeue(selection, ctx.opts.maxQueueSize),
    (chunk) => {
      result.requeued.push(...chunk.requeued);
      result.alreadyQueued.push(...chunk.alreadyQueued);
      result.queueFull.push(...chunk.queueFull);
      result.notFound.push(...chunk.notFound);
      if (chunk.requeued.length) ctx.host.broadcast('requeued', { ids: chunk.requeued });
      // All of them: a full queue stops the walk (the rest would not fit either).
      return chunk.queueFull.length === 0;
    },
  );
  ctx.statsChanged();
  return result;
}

/** Dead letters deleted for good (all when `raw` is undefined). */
export async function discardDeadLetters(ctx: EngineContext, raw: unknown): Promise<DiscardResult> {
  const ids = checkDeadIds(raw, 'discardDeadLetters(ids)');
  const result: DiscardResult = { discarded: [], notFound: [] };
  await eachChunk(
    ctx,
    ids,
    (selection) => ctx.store.discard(selection),
    (chunk) => {
      result.discarded.push(...chunk.discarded);
      result.notFound.push(...chunk.notFound);
      if (chunk.discarded.length) ctx.host.broadcast('discarded', { ids: chunk.discarded });
      return true;
    },
  );
  ctx.statsChanged();
  return result;
}

/**
 * Runs `op` over the selected dead letters, a transaction per chunk: the ids given, or
 * every dead letter there is now (oldest first; those that arrive meanwhile are left),
 * until `each` says stop.
 */
async function eachChunk<T extends { last?: number }>(
  ctx: EngineContext,
  ids: string[] | undefined,
  op: (selection: DeadSelection) => Promise<T>,
  each: (chunk: T) => boolean,
): Promise<void> {
  if (ids) {
    for (let i = 0; i < ids.length; i += DEAD_CHUNK) each(await op({ ids: ids.slice(i, i + DEAD_CHUNK) }));
    return;
  }
  const [newest] = await ctx.store.readDead(1);
  let after = Number.NEGATIVE_INFINITY;
  while (newest) {
    const chunk = await op({ after, through: newest.seq, limit: DEAD_CHUNK });
    if (!each(chunk) || chunk.last === undefined) return;
    after = chunk.last;
  }
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
