// Settling (settle.ts) through the flusher: each outcome written, then announced with its
// ids; records that must not be sent dead-lettered as invalid without being sent.
import { describe, expect, it } from 'vitest';
import { setup, status, T0, useFlusherTimers } from './flusher.fixture.js';

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
