// The benchmark page for sw-outbox. It imports the built package (dist/, aliased as
// 'sw-outbox' by bench/build.mjs), the way an app would. bench/run.mjs drives window.bench.
import { createDispatcher, type Dispatcher } from 'sw-outbox';
import { EVENT_BYTES, makeParams } from '../../e2e/events.js';

interface BenchEvent {
  url: string;
  httpVerb: 'POST';
  params: Record<string, unknown>;
}

let dispatcher: Dispatcher | undefined;
let registration: ServiceWorkerRegistration | undefined;
let events: BenchEvent[] = [];

async function activated(reg: ServiceWorkerRegistration): Promise<ServiceWorker> {
  const worker = reg.installing ?? reg.waiting ?? reg.active;
  if (!worker) throw new Error('the registration has no worker');
  if (worker.state === 'activated') return worker;
  await new Promise<void>((ok, fail) => {
    const check = () => {
      if (worker.state === 'activated') ok();
      else if (worker.state === 'redundant') fail(new Error('the worker became redundant'));
    };
    worker.addEventListener('statechange', check);
    check();
  });
  return worker;
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`bench: ${what} is not set up`);
  return value;
}

/** Runs `fn(i)` once per task, `n` times (MessageChannel tasks: no timer clamping). */
function perTask(n: number, fn: (i: number) => void): Promise<void> {
  return new Promise((done) => {
    const channel = new MessageChannel();
    let i = 0;
    channel.port1.onmessage = () => {
      if (i === n) {
        channel.port1.close();
        done();
        return;
      }
      fn(i++);
      channel.port2.postMessage(0);
    };
    channel.port2.postMessage(0);
  });
}

const bench = {
  /**
   * Registers the ready-made worker with these options, waits until it is activated, and
   * creates the dispatcher. The worker throws on options it does not know, which makes
   * the registration fail: reported as {ok: false}.
   */
  async setup(swUrl: string): Promise<{ ok: true } | { ok: false; error: string }> {
    try {
      registration = await navigator.serviceWorker.register(swUrl);
      await activated(registration);
    } catch (error) {
      return { ok: false, error: (error as Error)?.message ?? String(error) };
    }
    // wakeIntervalMs: no page pings during the measurements (a backlog is held on purpose).
    dispatcher = createDispatcher({ serviceWorker: swUrl, wakeIntervalMs: 600_000 });
    await dispatcher.stats();
    return { ok: true };
  },

  /** Builds `n` events (outside any measured window). */
  prepare(n: number, prefix: string, url: string): number {
    events = Array.from({ length: n }, (_, i) => ({
      url,
      httpVerb: 'POST' as const,
      params: makeParams(`${prefix}-${i}`, `user-${i % 7}`, { bytes: EVENT_BYTES }),
    }));
    return events.length;
  },

  /**
   * Dispatches the prepared events, `chunk` per task (all in one task when 0), each chunk
   * after the previous one was acknowledged; resolves when every promise has resolved.
   */
  async enqueue(chunk = 0): Promise<{ ms: number; accepted: number }> {
    const d = need(dispatcher, 'dispatcher');
    const size = chunk > 0 ? chunk : events.length;
    let accepted = 0;
    const t0 = performance.now();
    for (let at = 0; at < events.length; at += size) {
      const responses = await Promise.all(events.slice(at, at + size).map((e) => d.dispatchEvent(e)));
      for (const r of responses) if (r.statusCode === 202) accepted++;
    }
    return { ms: performance.now() - t0, accepted };
  },

  /**
   * Main-thread work of the prepared events: `idle` does nothing (the harness's own
   * cost), `post` is one bare postMessage of each event object to the same worker,
   * `dispatch` is dispatcher.dispatchEvent, awaited. `burst`: all in one task; `task`:
   * one event per task.
   */
  async mainThread(variant: 'idle' | 'post' | 'dispatch', pattern: 'burst' | 'task'): Promise<number> {
    const d = need(dispatcher, 'dispatcher');
    const worker = need(registration?.active ?? undefined, 'active worker');
    const pending: Promise<unknown>[] = [];
    const one = (i: number) => {
      const event = events[i]!;
      if (variant === 'post') worker.postMessage(event);
      else if (variant === 'dispatch') pending.push(d.dispatchEvent(event));
    };
    if (pattern === 'burst') for (let i = 0; i < events.length; i++) one(i);
    else await perTask(events.length, one);
    await Promise.all(pending);
    return events.length;
  },

  /**
   * The one-transaction IndexedDB ceiling: `n` puts of ~1 KB records (the body as the
   * outbox stores it: a JSON string) into a bare object store, one readwrite transaction,
   * default durability (as the outbox's store uses), timed until `complete`.
   */
  async ceiling(n: number, prefix: string, url: string): Promise<{ ms: number }> {
    const now = Date.now();
    const records = Array.from({ length: n }, (_, i) => ({
      id: `${prefix}-${i}`,
      url,
      body: JSON.stringify(makeParams(`${prefix}-${i}`, `user-${i % 7}`, { bytes: EVENT_BYTES })),
      createdAt: now,
      nextAttemptAt: now,
      attempts: 0,
    }));
    const db = await new Promise<IDBDatabase>((ok, fail) => {
      const request = indexedDB.open(`bench-ceiling-${prefix}`, 1);
      request.onupgradeneeded = () => request.result.createObjectStore('queue', { keyPath: 'id' });
      request.onsuccess = () => ok(request.result);
      request.onerror = () => fail(request.error);
    });
    const t0 = performance.now();
    await new Promise<void>((ok, fail) => {
      const tx = db.transaction('queue', 'readwrite');
      const store = tx.objectStore('queue');
      for (const record of records) store.put(record);
      tx.oncomplete = () => ok();
      tx.onerror = () => fail(tx.error);
      tx.onabort = () => fail(tx.error ?? new Error('aborted'));
    });
    const ms = performance.now() - t0;
    db.close();
    return { ms };
  },

  /**
   * The prepared events POSTed by bare fetch, `lanes` in flight, as the worker sends them
   * (no store); the collector's own count is the measurement.
   */
  async fetchAll(url: string, lanes: number): Promise<number> {
    const bodies = events.map((e) => JSON.stringify(e.params));
    let next = 0;
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            credentials: 'omit',
            mode: 'cors',
          });
          response.body?.cancel().catch(() => {});
        }
      }),
    );
    return bodies.length;
  },

  async stats() {
    return need(dispatcher, 'dispatcher').stats();
  },
};

declare global {
  interface Window {
    bench: typeof bench;
  }
}
window.bench = bench;

// A browser launched with no driver (bench/scenarios.mjs, relaunch): what to do on load.
//   /?auto=<worker URL>                set up the dispatcher (the worker drains its backlog)
//   /?fetch=<collector URL>&n=&prefix= POST n events by bare fetch, 6 in flight
{
  const q = new URLSearchParams(location.search);
  const auto = q.get('auto');
  const target = q.get('fetch');
  if (auto) void bench.setup(auto);
  else if (target) {
    bench.prepare(Number(q.get('n')), String(q.get('prefix')), target);
    void bench.fetchAll(target, 6);
  }
}
