// The flusher's loop (flusher.ts): due events sent in order and deleted only after their
// 2xx, at any concurrency; kick() callers sharing the running work; the timer armed for
// the next attempt. On the real store (fake-indexeddb), an injected clock and random source.
import { describe, expect, it, vi } from 'vitest';
import type { QueuedRecord } from '../store/store.js';
import { OK, T0, URL_, idle, setup, status, useFlusherTimers } from './flusher.fixture.js';

useFlusherTimers();

describe.each([1, 4])('flusher with concurrency %i', (concurrency) => {
  it('sends due events in insertion order and deletes each only after its 200', async () => {
    const t = setup({ concurrency });
    await t.enqueue('a', 'b', 'c', 'd', 'e');
    const stillQueuedDuringSend: boolean[] = [];
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      t.script.set(id, async () => {
        stillQueuedDuringSend.push((await t.queuedById(id)) !== undefined);
        return OK;
      });
    }
    await t.flusher.kick();

    expect(t.sentIds()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(t.sent[0]).toMatchObject({ id: 'a', url: URL_, body: '{"id":"a"}' });
    expect(stillQueuedDuringSend).toEqual([true, true, true, true, true]);
    expect(await t.queued()).toEqual([]);
    expect(await t.store.counters()).toEqual({ queued: 0, deadLettered: 0, delivered: 5, dropped: 0, retried: 0 });
    expect(t.events.delivered.flatMap((d) => d.ids)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(t.events.delivered.every((d) => d.status === 200)).toBe(true);
    expect(t.events.changed).toBeGreaterThanOrEqual(1);
    expect(t.events.retry).toEqual([]);
    expect(t.events.deadLetter).toEqual([]);
    expect(t.held).toEqual([]);
    expect(t.flusher.blockedUntil()).toBe(0);
    expect(t.flusher.inFlight()).toBe(0);
  });

  it('does nothing (and sends nothing) on an empty queue', async () => {
    const t = setup({ concurrency });
    await t.flusher.kick();
    expect(t.send).not.toHaveBeenCalled();
    expect(t.readDue).toHaveBeenCalledTimes(1);
    expect(t.events.changed).toBe(0);
  });

  it('400 dead-letters the event and the pass continues', async () => {
    const t = setup({ concurrency });
    await t.enqueue('a', 'b', 'c');
    t.script.set('a', status(400));
    await t.flusher.kick();

    expect(t.sentIds()).toEqual(['a', 'b', 'c']);
    expect(await t.queued()).toEqual([]);
    const dead = await t.store.deadLetters();
    expect(dead.map((d) => [d.id, d.reason, d.status, d.tries])).toEqual([['a', 'permanent', 400, 1]]);
    expect(await t.store.counters()).toMatchObject({ queued: 0, deadLettered: 1, delivered: 2 });
    expect(t.events.deadLetter).toEqual([{ ids: ['a'], status: 400, reason: 'permanent' }]);
    expect(t.events.delivered.flatMap((d) => d.ids)).toEqual(['b', 'c']);
    expect(t.held).toEqual([]);
    expect(t.flusher.blockedUntil()).toBe(0);
  });

  it('a network error while online grows attempts and holds for "network"', async () => {
    const t = setup({ concurrency });
    await t.enqueue('a');
    t.setFallback({ kind: 'network-error', offline: false, message: 'Failed to fetch' });
    await t.flusher.kick();

    expect(t.sentIds()).toEqual(['a']);
    // attempt 1: ceiling 1000 ms, random 0.5 → 500 ms.
    expect(await t.queuedById('a')).toMatchObject({ attempts: 1, tries: 1, hold: 'network', lastStatus: 0, nextAttemptAt: T0 + 500 });
    expect(t.held).toEqual(['network']);
    expect(t.flusher.blockedUntil()).toBe(T0 + 500);
    expect(t.events.retry).toEqual([{ ids: ['a'], status: 0, reason: 'network', nextAttemptAt: T0 + 500 }]);

    // Second failure: attempts 2, ceiling 2000 → 1000 ms.
    t.clock.now = T0 + 500;
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'a']);
    expect(await t.queuedById('a')).toMatchObject({ attempts: 2, tries: 2, hold: 'network', nextAttemptAt: T0 + 1500 });
    expect(t.held).toEqual(['network', 'network']);
    expect(await t.store.counters()).toMatchObject({ queued: 1, retried: 2, delivered: 0 });
  });
});

describe('flusher: kicks and passes', () => {
  it('kicks in the same tick cost at most one extra pass', async () => {
    const t = setup();
    await t.enqueue('a');
    // The first kick starts its pass at once; the others share the one queued after it.
    const p1 = t.flusher.kick();
    const p2 = t.flusher.kick();
    const p3 = t.flusher.kick();
    expect(p3).toBe(p2);
    await Promise.all([p1, p2, p3]);
    expect(t.sentIds()).toEqual(['a']);
    // Pass 1: page ['a'], then an empty page. Pass 2: an empty page.
    expect(t.readDue).toHaveBeenCalledTimes(3);
  });

  it('kick() while a request is in flight shares the promise of the running work, answered once all is idle', async () => {
    const t = setup();
    await t.enqueue('a');
    const { started, gate } = t.holdSend('a');

    const p1 = t.flusher.kick();
    await started.promise;
    expect(t.flusher.inFlight()).toBe(1);
    const p2 = t.flusher.kick();
    const p3 = t.flusher.kick();
    expect(p2).toBe(p3);
    expect(p2).toBe(p1);

    let done = false;
    void p1.then(() => {
      done = true;
    });
    await idle(t.store);
    // Not answered while 'a' is out.
    expect(done).toBe(false);
    gate.resolve(OK);
    await p1;
    expect(t.sentIds()).toEqual(['a']);
    // The page ['a']; a read for the first kick meanwhile and one more for the kick that came
    // while it ran (it may have been for an event enqueued since); one once 'a' is done.
    const pages = await Promise.all(t.readDue.mock.results.map((r) => r.value as Promise<QueuedRecord[]>));
    expect(pages.map((p) => p.map((r) => r.id))).toEqual([['a'], [], [], []]);
    expect(t.flusher.inFlight()).toBe(0);
    // Idle now: a new kick is new work.
    expect(t.flusher.kick()).not.toBe(p1);
  });

  it('an event queued during a pass is picked up by the queued pass', async () => {
    const t = setup();
    await t.enqueue('a');
    const { started, gate } = t.holdSend('a');
    const p1 = t.flusher.kick();
    await started.promise;
    await t.enqueue('b');
    const p2 = t.flusher.kick();
    gate.resolve(OK);
    await Promise.all([p1, p2]);
    expect(t.sentIds()).toEqual(['a', 'b']);
    expect(await t.queued()).toEqual([]);
  });
});

describe('flusher: timers', () => {
  it('arms a timer for the breaker deadline, which starts the next pass', async () => {
    const t = setup();
    await t.enqueue('a', 'b');
    t.script.set('a', status(503));
    await t.flusher.kick();
    await idle(t.store);
    expect(vi.getTimerCount()).toBe(1);
    const reads = t.readDue.mock.calls.length;

    t.script.delete('a');
    t.clock.now = T0 + 499;
    vi.advanceTimersByTime(499);
    expect(t.readDue.mock.calls.length).toBe(reads);

    t.clock.now = T0 + 500;
    vi.advanceTimersByTime(1);
    // The timer kicked: a pass started (it sweeps expired events, then reads what is due).
    await idle(t.store);
    expect(t.readDue.mock.calls.length).toBeGreaterThanOrEqual(reads + 1);
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'a', 'b']);
    expect(await t.queued()).toEqual([]);
    await idle(t.store);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() leaves no timer armed, even when called right after a pass', async () => {
    const t = setup();
    await t.enqueue('a', 'b');
    t.script.set('a', status(503));
    await t.flusher.kick();
    t.flusher.stop();
    await idle(t.store);
    expect(vi.getTimerCount()).toBe(0);
    // And a stopped flusher sends nothing.
    t.clock.now = T0 + 60_000;
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a']);
  });

  it('kick() delivers what is due and returns without waiting for a later retry', async () => {
    const t = setup();
    await t.enqueue('a', 'b');
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'b']);
    expect(await t.queued()).toEqual([]);

    // A retry due later: kick() returns without waiting for it (the timer will).
    await t.enqueue('c');
    t.script.set('c', status(503));
    await t.flusher.kick();
    expect(t.sentIds()).toEqual(['a', 'b', 'c']);
    expect(await t.queuedById('c')).toMatchObject({ attempts: 1, nextAttemptAt: T0 + 500 });
  });
});
