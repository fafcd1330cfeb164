// Settling (settle.ts) through the flusher: each outcome written, then announced with its
// ids; records that must not be sent dead-lettered as invalid without being sent. Then
// decideUnit (an answer → settlements, random 0.5) and announcements (the grouping), on their own.
import { describe, expect, it } from 'vitest';
import { bareContext, queuedRecord, setup, status, T0, useFlusherTimers } from './flusher.fixture.js';
import { destinationFor } from './context.js';
import { announcements, decideUnit, refusedSettlement } from './settle.js';

useFlusherTimers();

describe('flusher: outcomes announced', () => {
  it('a mixed page with concurrency 4 emits each outcome with its ids', async () => {
    const t = setup({ concurrency: 4, maxDeadLetters: 1 });
    await t.enqueue('a', 'b', 'c', 'd', 'e');
    t.script.set('a', status(400));
    t.script.set('b', status(204));
    t.script.set('c', status(404));
    t.script.set('d', status(500));
    await t.flusher.kick();

    // a's 400 comes back first: its worker goes on to 'e' (only a retry stops the pass).
    expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd', 'e']);
    // One delivered event per distinct status, each with the status the collector gave.
    expect(t.events.delivered).toHaveLength(2);
    expect(t.events.delivered.find((e) => e.status === 204)?.ids).toEqual(['b']);
    expect(t.events.delivered.find((e) => e.status === 200)?.ids).toEqual(['e']);
    expect(t.events.deadLetter).toHaveLength(1);
    expect(t.events.deadLetter[0]!.reason).toBe('permanent');
    expect([...t.events.deadLetter[0]!.ids].sort()).toEqual(['a', 'c']);
    expect(t.events.retry).toEqual([{ ids: ['d'], status: 500, reason: 'server', nextAttemptAt: T0 + 500 }]);
    // maxDeadLetters 1: the older of the two dead letters was dropped.
    expect(t.events.dropped).toHaveLength(1);
    expect(t.events.dropped[0]).toMatchObject({ reason: 'dead-letter-overflow' });
    expect(t.events.dropped[0]!.ids).toHaveLength(1);
    expect(t.events.changed).toBe(1);
    expect(await t.store.counters()).toEqual({ queued: 1, deadLettered: 1, delivered: 2, dropped: 1, retried: 1 });
    expect((await t.queued()).map((r) => r.id)).toEqual(['d']);
    expect(t.held).toEqual(['server']);
  });
});

describe('flusher: records that must not be sent', () => {
  it('dead-letters a refused record as invalid, without sending it, and goes on with the rest', async () => {
    const t = setup({ refuse: (r) => (r.id === 'bad' ? 'corrupted record' : undefined) });
    await t.enqueue('a', 'bad', 'c');
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'c']);
    expect(t.events.deadLetter).toEqual([{ ids: ['bad'], status: 0, reason: 'invalid' }]);
    const [dead] = await t.store.deadLetters();
    expect(dead).toMatchObject({ id: 'bad', reason: 'invalid', detail: 'corrupted record' });
    expect(await t.store.counters()).toMatchObject({ queued: 0, delivered: 2, deadLettered: 1 });
  });
});

describe('settle: an answer made into settlements', () => {
  const backoff = { baseMs: 1000, maxMs: 60_000 };
  const records = [queuedRecord(1, 'a'), queuedRecord(2, 'b', { attempts: 2, tries: 2 })];

  it('a 2xx settles every record delivered; nothing failed', () => {
    const { settlements, outcome, failed } = decideUnit(records, status(204), backoff, T0, () => 0.5);
    expect(settlements.map((s) => [s.seq, s.kind])).toEqual([
      [1, 'delivered'],
      [2, 'delivered'],
    ]);
    expect(outcome).toEqual({
      delivered: [
        { id: 'a', status: 204 },
        { id: 'b', status: 204 },
      ],
      dead: [],
      retried: [],
    });
    expect(failed).toBeUndefined();
  });

  it('a permanent status dead-letters each, counting the try', () => {
    const { settlements, outcome } = decideUnit(records, status(400), backoff, T0, () => 0.5);
    expect(settlements).toMatchObject([
      { seq: 1, kind: 'dead', status: 400, reason: 'permanent', tries: 1 },
      { seq: 2, kind: 'dead', status: 400, reason: 'permanent', tries: 3 },
    ]);
    expect(outcome.dead.map((d) => d.id)).toEqual(['a', 'b']);
  });

  it('a retryable failure reschedules each on its own backoff; the latest one holds the destination', () => {
    const { settlements, outcome, failed } = decideUnit(records, status(503), backoff, T0, () => 0.5);
    // attempt 1: half of 1 s; attempt 3: half of 4 s.
    expect(settlements).toMatchObject([
      { seq: 1, kind: 'retry', attempts: 1, tries: 1, nextAttemptAt: T0 + 500, hold: 'server', status: 503 },
      { seq: 2, kind: 'retry', attempts: 3, tries: 3, nextAttemptAt: T0 + 2000, hold: 'server', status: 503 },
    ]);
    expect(outcome.retried).toEqual(['a', 'b']);
    expect(failed).toMatchObject({ kind: 'retry', nextAttemptAt: T0 + 2000, reason: 'server' });
  });

  it('a refused record is dead-lettered as invalid with why, its tries as they were', () => {
    expect(refusedSettlement(queuedRecord(7, 'x', { tries: 2 }), 'not allowed')).toMatchObject({
      seq: 7,
      kind: 'dead',
      status: 0,
      reason: 'invalid',
      tries: 2,
      detail: 'not allowed',
    });
  });
});

describe('settle: outcomes written together, announced together', () => {
  it('one delivered per status, dead letters permanent then invalid, one retry per destination at its real next attempt', () => {
    const { ctx } = bareContext();
    const a = destinationFor(ctx, 'https://a.example');
    const b = destinationFor(ctx, 'https://b.example');
    a.until = T0 + 9000;
    const retryAt = (nextAttemptAt: number) => ({
      kind: 'retry' as const,
      status: 503,
      reason: 'server' as const,
      hold: 'server' as const,
      attempts: 1,
      tries: 1,
      nextAttemptAt,
    });
    const events = announcements(
      {
        outcomes: [
          [
            a,
            {
              delivered: [{ id: 'a1', status: 200 }],
              dead: [{ id: 'a2', status: 0, reason: 'invalid' }],
              retried: ['a3'],
              retry: retryAt(T0 + 500),
            },
          ],
          [
            b,
            {
              delivered: [
                { id: 'b1', status: 204 },
                { id: 'b2', status: 200 },
              ],
              dead: [{ id: 'b3', status: 404, reason: 'permanent' }],
              retried: ['b4'],
              retry: retryAt(T0 + 700),
            },
          ],
          [undefined, { delivered: [], dead: [{ id: 'r1', status: 0, reason: 'invalid' }], retried: [] }],
        ],
        dropped: [],
      },
      T0 + 600,
    );
    expect(events.delivered).toEqual([
      { ids: ['a1', 'b2'], status: 200 },
      { ids: ['b1'], status: 204 },
    ]);
    expect(events.deadLetter).toEqual([
      { ids: ['b3'], status: 404, reason: 'permanent' },
      { ids: ['a2', 'r1'], status: 0, reason: 'invalid' },
    ]);
    // a: held past its event's schedule; b: its own schedule, past the offline hold.
    expect(events.retry).toEqual([
      { ids: ['a3'], status: 503, reason: 'server', nextAttemptAt: T0 + 9000 },
      { ids: ['b4'], status: 503, reason: 'server', nextAttemptAt: T0 + 700 },
    ]);
    expect(events.dropped).toBeUndefined();
    expect(announcements({ outcomes: [], dropped: ['old'] }, 0).dropped).toEqual({ ids: ['old'], reason: 'dead-letter-overflow' });
  });
});
