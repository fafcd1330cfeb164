// The engine's dead-letter messages: strict argument checks (invalid-argument, nothing
// touched), the public record (reasons, attempt times), paging, chunked retry and
// discard of all, their events and counters, and the retried letters delivered.
import { afterEach, describe, expect, it } from 'vitest';
import { OutboxError } from '../errors.js';
import { type DeadLetter, type DeadLetterPage, type OutboxEventName, PROTOCOL_VERSION, type RequeueResult } from '../protocol.js';
import { openMemoryStore } from '../store/memory.js';
import { type DeadRecord, type Store, openStore } from '../store/store.js';
import { type Engine, createEngine, toDeadLetter } from './engine.js';
import { resolveOptions } from './options.js';

const URL_ = 'https://collector.example/v1/events';
const v = PROTOCOL_VERSION;
const engines: Engine[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.stop();
});

function setup(kind: 'IndexedDB' | 'memory', options: Record<string, unknown> = {}) {
  const status = { value: 400 };
  const received: string[] = [];
  const events: { name: OutboxEventName; detail: unknown }[] = [];
  const store: Store = kind === 'memory' ? openMemoryStore() : openStore({ name: `engine-dead-${Math.random().toString(36).slice(2)}` });
  const engine = createEngine(resolveOptions({ backoff: { baseMs: 1, maxMs: 5 }, concurrency: 2, ...options }), store, {
    mode: kind === 'memory' ? 'memory' : 'page',
    broadcast: (name, detail) => events.push({ name, detail }),
    isOffline: () => false,
    fetch: (async (_url: string, init: RequestInit) => {
      received.push(String(init.body instanceof Uint8Array ? new TextDecoder().decode(init.body) : init.body));
      return new Response(null, { status: status.value });
    }) as typeof fetch,
  });
  engines.push(engine);
  /** Enqueues `n` events (ids `${prefix}-i`) and lets the flusher try them. */
  const dispatch = async (n: number, prefix = 'e') => {
    for (let from = 0; from < n; from += 1000) {
      const batch = Array.from({ length: Math.min(1000, n - from) }, (_, i) => ({
        id: `${prefix}-${from + i}`,
        url: URL_,
        body: JSON.stringify({ n: from + i }),
      }));
      await engine.handle({ type: 'sw-outbox/enqueue', v, events: batch });
    }
    await engine.kick();
  };
  return { engine, store, status, received, events, dispatch };
}

const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboxError);
  return error as OutboxError;
};

describe.each(['IndexedDB', 'memory'] as const)('%s: dead letters through the engine', (kind) => {
  it('lists what a 400 refused, with the public fields, newest first, paged with `next` / `before`', async () => {
    const t = setup(kind);
    const before = Date.now();
    await t.dispatch(5);
    const first = await t.engine.deadLetters({ limit: 2 });
    expect(first.letters.map((l) => l.id)).toEqual(['e-4', 'e-3']);
    expect(first.next).toEqual(expect.any(String));
    const letter = first.letters[0]!;
    expect(letter).toEqual({
      id: 'e-4',
      url: URL_,
      body: '{"n":4}',
      status: 400,
      reason: 'http-4xx',
      attempts: 1,
      firstAttemptAt: letter.deadAt,
      lastAttemptAt: letter.deadAt,
      createdAt: expect.any(Number),
      deadAt: expect.any(Number),
    } satisfies DeadLetter);
    expect(letter.createdAt).toBeGreaterThanOrEqual(before);
    expect(letter.deadAt).toBeGreaterThanOrEqual(letter.createdAt);
    const second = await t.engine.deadLetters({ limit: 2, before: first.next! });
    expect(second.letters.map((l) => l.id)).toEqual(['e-2', 'e-1']);
    const third = await t.engine.deadLetters({ limit: 2, before: second.next! });
    expect(third).toEqual({ letters: [expect.objectContaining({ id: 'e-0' })], next: null });
    // The message form answers the same.
    const reply = await t.engine.handle({ type: 'sw-outbox/dead-letters', v, arg: { limit: 2 } });
    expect(reply).toEqual({ type: 'sw-outbox/result', v, result: first });
    expect((await t.engine.deadLetters()).letters).toHaveLength(5);
  });

  it('retryDeadLetters(ids): the same ids back in the queue, delivered once the collector is fixed; counted and announced', async () => {
    const t = setup(kind);
    await t.dispatch(3);
    t.status.value = 200;
    t.received.length = 0;
    const result = await t.engine.retryDeadLetters(['e-0', 'e-2', 'gone']);
    expect(result).toEqual({ requeued: ['e-0', 'e-2'], alreadyQueued: [], queueFull: [], notFound: ['gone'] } satisfies RequeueResult);
    expect(t.events).toContainEqual({ name: 'requeued', detail: { ids: ['e-0', 'e-2'] } });
    await t.engine.kick();
    expect(t.received.sort()).toEqual(['{"n":0}', '{"n":2}']);
    expect(t.events.filter((e) => e.name === 'delivered').flatMap((e) => (e.detail as { ids: string[] }).ids)).toEqual(
      expect.arrayContaining(['e-0', 'e-2']),
    );
    expect(await t.engine.stats()).toMatchObject({ queued: 0, deadLettered: 1, delivered: 2, requeued: 2, discarded: 0 });
  });

  it('retryDeadLetters() with no ids takes every dead letter, in several transactions (250 > one chunk)', async () => {
    const t = setup(kind);
    await t.dispatch(250);
    expect((await t.engine.stats()).deadLettered).toBe(250);
    t.status.value = 200;
    const result = await t.engine.handle({ type: 'sw-outbox/retry-dead-letters', v });
    const requeued = (result as { result: RequeueResult }).result.requeued;
    expect(new Set(requeued).size).toBe(250);
    const announced = t.events.filter((e) => e.name === 'requeued');
    expect(announced.length).toBeGreaterThanOrEqual(3);
    expect(announced.flatMap((e) => (e.detail as { ids: string[] }).ids).sort()).toEqual([...requeued].sort());
    await t.engine.kick();
    expect(await t.engine.stats()).toMatchObject({ queued: 0, deadLettered: 0, delivered: 250, requeued: 250 });
  });

  it('retry with a full queue: what does not fit stays dead (queueFull), nothing queued is evicted', async () => {
    const t = setup(kind, { maxQueueSize: 2 });
    await t.dispatch(2, 'dead');
    t.status.value = 503; // the two next events stay queued
    await t.dispatch(1, 'q');
    const result = await t.engine.retryDeadLetters();
    expect(result.requeued).toHaveLength(1);
    expect(result.queueFull).toHaveLength(1);
    expect(await t.engine.stats()).toMatchObject({ queued: 2, deadLettered: 1, dropped: 0 });
  });

  it('discardDeadLetters(ids) and () delete for good; counted and announced', async () => {
    const t = setup(kind);
    await t.dispatch(150);
    expect(await t.engine.discardDeadLetters(['e-1', 'nope'])).toEqual({ discarded: ['e-1'], notFound: ['nope'] });
    expect(t.events).toContainEqual({ name: 'discarded', detail: { ids: ['e-1'] } });
    const all = await t.engine.discardDeadLetters();
    expect(all.discarded).toHaveLength(149);
    expect(all.notFound).toEqual([]);
    expect(await t.engine.deadLetters()).toEqual({ letters: [], next: null } satisfies DeadLetterPage);
    expect(await t.engine.stats()).toMatchObject({ deadLettered: 0, discarded: 150, queued: 0 });
  });

  describe('bad arguments: invalid-argument naming what was wrong, nothing touched', () => {
    const bad: [string, unknown, RegExp][] = [
      ['a string query', 'x', /deadLetters\(query\) must be an object/],
      ['an array query', [], /deadLetters\(query\) must be an object/],
      ['null query', null, /deadLetters\(query\) must be an object/],
      ['an unknown option', { cursor: '1' }, /unknown option "cursor"/],
      ['limit 0', { limit: 0 }, /limit must be an integer from 1 to 1000, got 0/],
      ['limit 1001', { limit: 1001 }, /limit must be an integer from 1 to 1000, got 1001/],
      ['limit 2.5', { limit: 2.5 }, /got 2.5/],
      ['limit as a string', { limit: '10' }, /limit must be an integer.*got "10"/],
      ['before a number', { before: 12 }, /before must be the `next` cursor.*got 12/],
      ['before not digits', { before: 'abc' }, /before must be the `next` cursor.*got "abc"/],
    ];
    it.each(bad)('deadLetters(%s)', async (_what, query, message) => {
      const t = setup(kind);
      const error = await refusal(t.engine.handle({ type: 'sw-outbox/dead-letters', v, arg: query }));
      expect(error.code).toBe('invalid-argument');
      expect(error.message).toMatch(message);
    });

    const badIds: [string, unknown, RegExp][] = [
      ['a string', 'e-0', /must be an array of at most 1000 event ids, or omitted for all, got "e-0"/],
      ['null', null, /got null/],
      ['a number among them', ['e-0', 7], /ids\[1\] must be an event id.*got 7/],
      ['an empty id', [''], /ids\[0\] must be an event id.*got ""/],
      ['1001 ids', Array.from({ length: 1001 }, (_, i) => `x${i}`), /at most 1000.*of 1001/],
    ];
    it.each(badIds)('retryDeadLetters / discardDeadLetters(%s)', async (_what, ids, message) => {
      const t = setup(kind);
      await t.dispatch(2);
      for (const type of ['retry', 'discard']) {
        const error = await refusal(t.engine.handle({ type: `sw-outbox/${type}-dead-letters`, v, arg: ids }));
        expect(error.code).toBe('invalid-argument');
        expect(error.message).toMatch(new RegExp(`^${type}DeadLetters\\(ids\\)`));
        expect(error.message).toMatch(message);
      }
      expect(await t.engine.stats()).toMatchObject({ deadLettered: 2, queued: 0, requeued: 0, discarded: 0 });
    });

    it('an empty list of ids does nothing (it is not "all")', async () => {
      const t = setup(kind);
      await t.dispatch(2);
      expect(await t.engine.retryDeadLetters([])).toEqual({ requeued: [], alreadyQueued: [], queueFull: [], notFound: [] });
      expect(await t.engine.discardDeadLetters([])).toEqual({ discarded: [], notFound: [] });
      expect((await t.engine.stats()).deadLettered).toBe(2);
    });
  });
});

describe('toDeadLetter: reasons and attempt times', () => {
  const base: DeadRecord = {
    seq: 1,
    id: 'a',
    url: URL_,
    body: '{}',
    createdAt: 1000,
    nextAttemptAt: 1000,
    attempts: 0,
    tries: 1,
    deadAt: 5000,
    reason: 'permanent',
    status: 400,
  };
  it('a 4xx refusal is http-4xx; another permanent status is http-status', () => {
    expect(toDeadLetter(base).reason).toBe('http-4xx');
    expect(toDeadLetter({ ...base, status: 501 }).reason).toBe('http-status');
    expect(toDeadLetter({ ...base, status: 302 }).reason).toBe('http-status');
  });
  it('dead at its first try: first = last = dead time', () => {
    expect(toDeadLetter(base)).toMatchObject({ attempts: 1, firstAttemptAt: 5000, lastAttemptAt: 5000 });
  });
  it('dead after retries: first from the record, last = dead time', () => {
    expect(toDeadLetter({ ...base, tries: 3, firstAttemptAt: 2000, lastAttemptAt: 3000 })).toMatchObject({
      attempts: 3,
      firstAttemptAt: 2000,
      lastAttemptAt: 5000,
    });
  });
  it('expired with no try: null times, status 0; expired after retries: their times and last status', () => {
    expect(toDeadLetter({ ...base, reason: 'expired', status: 0, tries: 0 })).toMatchObject({
      reason: 'expired',
      status: 0,
      attempts: 0,
      firstAttemptAt: null,
      lastAttemptAt: null,
    });
    expect(
      toDeadLetter({ ...base, reason: 'expired', status: 0, tries: 4, lastStatus: 503, firstAttemptAt: 2000, lastAttemptAt: 4000 }),
    ).toMatchObject({ reason: 'expired', status: 503, attempts: 4, firstAttemptAt: 2000, lastAttemptAt: 4000 });
  });
  it('invalid, with its detail', () => {
    expect(toDeadLetter({ ...base, reason: 'invalid', status: 0, tries: 0, detail: 'not in endpoints' })).toMatchObject({
      reason: 'invalid',
      detail: 'not in endpoints',
      firstAttemptAt: null,
      lastAttemptAt: null,
    });
  });
});
