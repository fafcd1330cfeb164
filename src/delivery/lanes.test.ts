// A destination's lanes (lanes.ts) through the flusher: the next page read while a request
// is out, lanes that outlive reads, and Optimizely batching (a merged request split when
// refused for good).
import { describe, expect, it, vi } from 'vitest';
import type { QueuedRecord } from '../store/store.js';
import { deferred, idle, OK, ROOMY, type Setup, setup, status, URL_, useFlusherTimers } from './flusher.fixture.js';
import type { SendResult } from './policy.js';
import { type Sendable, wholeBody } from './send.js';

useFlusherTimers();

describe('flusher: lanes', () => {
  it('reads the next page while the last request of a page is in flight, without the events of that page', async () => {
    const t = setup({ concurrency: 1, pageSize: 2 });
    await t.enqueue('a', 'b', 'c', 'd', 'e');
    const { started, gate } = t.holdSend('b');
    const pass = t.flusher.kick();
    await started.promise;
    await idle(t.store);
    // 'b' is still in flight: the next page has been read already, and holds neither a nor b.
    expect(t.readDue).toHaveBeenCalledTimes(2);
    expect([...(t.readDue.mock.calls[1]![2] ?? [])].length).toBe(2);
    expect(((await t.readDue.mock.results[1]!.value) as QueuedRecord[]).map((r) => r.id)).toEqual(['c', 'd']);
    gate.resolve(OK);
    await pass;
    expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await t.queued()).toEqual([]);
  });

  it('a lane done with its request goes on with the next page while the slowest request of the page is still out', async () => {
    const t = setup({ concurrency: 2, pageSize: 2 });
    await t.enqueue('a', 'b', 'c', 'd', 'e', 'f');
    const gate = deferred<SendResult>();
    t.script.set('a', () => gate.promise);
    const pass = t.flusher.kick();
    // 'a' is held: the other lane sends b, then the next pages (c, d, then e, f), none of them twice.
    await vi.waitFor(() => expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']));
    await vi.waitFor(() => expect(t.events.delivered.flatMap((d) => d.ids).sort()).toEqual(['b', 'c', 'd', 'e', 'f']));
    gate.resolve(OK);
    await pass;
    expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    // Each outcome is announced once written, not held back by a slower request: a, alone, last.
    expect(t.events.delivered.at(-1)!.ids).toEqual(['a']);
    expect(await t.queued()).toEqual([]);
  });
});

describe('flusher with Optimizely batching', () => {
  const optimizely = (id: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      account_id: '1',
      project_id: '2',
      revision: '42',
      client_name: 'js',
      client_version: '6.0.0',
      ...extra,
      visitors: [{ visitor_id: `v-${id}`, snapshots: [{ events: [{ uuid: id }] }] }],
    });
  const enqueueOptimizely = async (t: Setup, ids: string[], extra: Record<string, unknown> = {}) =>
    t.store.enqueue(
      ids.map((id) => ({ id, url: URL_, body: optimizely(id, extra) })),
      ROOMY,
    );
  const visitorsOf = (body: string) => (JSON.parse(body) as { visitors: { visitor_id: string }[] }).visitors.map((v) => v.visitor_id);

  it('sends events of one context as one request, and deletes them all after its 2xx', async () => {
    const t = setup({ batch: { maxVisitors: 100, maxBytes: 1 << 20 }, concurrency: 2 });
    await enqueueOptimizely(t, ['a', 'b', 'c', 'd']);
    await t.flusher.kick();
    expect(t.sent).toHaveLength(1);
    expect(visitorsOf(t.sent[0]!.body)).toEqual(['v-a', 'v-b', 'v-c', 'v-d']);
    expect(await t.queued()).toEqual([]);
    expect((await t.store.counters()).delivered).toBe(4);
    expect(t.events.delivered.flatMap((d) => d.ids).sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('splits a request refused for good until the bad event is alone; the others are delivered', async () => {
    const t = setup({ batch: { maxVisitors: 100, maxBytes: 1 << 20 } });
    await enqueueOptimizely(t, ['a', 'b', 'poison', 'c', 'd', 'e']);
    t.send.mockImplementation(async (event: Sendable) => {
      t.sent.push({ id: event.id, url: event.url, body: wholeBody(event) });
      return wholeBody(event).includes('"poison"') ? status(400) : OK;
    });
    await t.flusher.kick();
    expect(await t.queued()).toEqual([]);
    const counters = await t.store.counters();
    expect(counters).toMatchObject({ delivered: 5, deadLettered: 1 });
    expect((await t.store.deadLetters()).map((d) => d.id)).toEqual(['poison']);
    // Every good visitor delivered exactly once, and the poison sent alone once (the halves go
    // next, in their order: the destination's order holds).
    const deliveredVisitors = t.sent.filter((e) => !e.body.includes('"poison"')).flatMap((e) => visitorsOf(e.body));
    expect(deliveredVisitors.sort()).toEqual(['v-a', 'v-b', 'v-c', 'v-d', 'v-e']);
    expect(t.sent.filter((e) => visitorsOf(e.body).join() === 'v-poison')).toHaveLength(1);
    expect(t.sent.length).toBeLessThanOrEqual(1 + 2 + 2 + 2);
  });

  it('reschedules every event of a request that failed for a retryable reason', async () => {
    const t = setup({ batch: { maxVisitors: 100, maxBytes: 1 << 20 } });
    await enqueueOptimizely(t, ['a', 'b', 'c']);
    t.setFallback(status(503));
    await t.flusher.kick();
    expect(t.sent).toHaveLength(1);
    const queued = await t.queued();
    expect(queued.map((r) => [r.id, r.attempts, r.lastStatus])).toEqual([
      ['a', 1, 503],
      ['b', 1, 503],
      ['c', 1, 503],
    ]);
    expect(t.events.retry.flatMap((r) => r.ids)).toEqual(['a', 'b', 'c']);
  });

  it('keeps contexts apart and sends non-Optimizely bodies untouched', async () => {
    const t = setup({ batch: { maxVisitors: 100, maxBytes: 1 << 20 } });
    await enqueueOptimizely(t, ['a', 'b']);
    await enqueueOptimizely(t, ['c'], { revision: '43' });
    await t.enqueue('plain');
    await t.flusher.kick();
    expect(t.sent.map((e) => (e.body.includes('"plain"') ? 'plain' : visitorsOf(e.body).join('+'))).sort()).toEqual([
      'plain',
      'v-a+v-b',
      'v-c',
    ]);
    expect(t.sent.find((e) => e.id === 'plain')!.body).toBe(JSON.stringify({ id: 'plain' }));
    expect(t.sent.find((e) => e.id === 'c')!.body).toBe(optimizely('c', { revision: '43' }));
  });
});
