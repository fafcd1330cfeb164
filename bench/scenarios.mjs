// @ts-check
// One function per measurement. Each opens its own browser context on a fresh on-disk
// profile, so no backlog, worker or open connection of one measurement runs during
// another (context.setOffline() holds for every origin of a context).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchPlain, openContext, workerSession } from './browser.mjs';
import { summarize } from './report.mjs';

/**
 * @typedef {{
 *   mainBurst: number, mainTask: number, mainReps: number, settleMs: number,
 *   enqueueOurs: number, enqueueWorkbox: number, ceiling: number,
 *   drainOurs: number, drainWorkbox: number, fetchCeiling: number, reconnect: number, relaunchSettleMs: number,
 *   heapEvents: number, heapBatching: 'off' | 'optimizely' | 'auto' | 'both', heapChunk: number, heapSampleMs: number,
 * }} Config
 * @typedef {{collector: Awaited<ReturnType<typeof import('../e2e/collector.mjs').startCollector>>, origin: string, cfg: Config, sw?: string}} Env
 *   `sw`: the path of the ready-made worker under measurement (default `/sw.js`; `/sw-b.js` is
 *   the B build of an A/B run, see `--ab` in run.mjs)
 * @typedef {import('@playwright/test').Page} Page
 */

/** Raised when a worker option the library does not know yet (batching: 'optimizely') fails the registration. */
export class Unavailable extends Error {}

/** Options of the ready-made worker for every measurement (only batching varies). */
export function workerOptions(/** @type {Env} */ env, /** @type {Record<string, string | number>} */ extra = {}) {
  return {
    endpoints: env.collector.origin,
    baseMs: 100,
    maxMs: 2000,
    timeoutMs: 30_000,
    maxQueueSize: Math.max(200_000, env.cfg.heapEvents * 2),
    ...extra,
  };
}

/** @param {Env} env */
const swPath = (env) => env.sw ?? '/sw.js';

/** @param {Env} env @param {Record<string, string | number>} [extra] */
const swUrl = (env, extra) =>
  `${swPath(env)}?${new URLSearchParams(Object.entries(workerOptions(env, extra)).map(([k, v]) => [k, String(v)]))}`;

let serial = 0;
/** A scenario id unique in this run (the collector counts per id). @param {string} name */
const newId = (name) => `${name}-${++serial}`;

/** @param {Page} page @param {Env} env @param {Record<string, string | number>} [extra] */
async function setupOurs(page, env, extra) {
  await page.goto(`${env.origin}/`);
  const url = swUrl(env, extra);
  const result = await page.evaluate((u) => window.bench.setup(u), url);
  if (!result.ok) throw new Unavailable(`the worker refused ${url}: ${result.error}`);
}

/** @param {Page} page @param {number} n @param {string} prefix @param {string} url */
const prepare = (page, n, prefix, url) =>
  page.evaluate(([n, prefix, url]) => window.bench.prepare(n, prefix, url), /** @type {const} */ ([n, prefix, url]));

/** @param {Page} page @param {number} expected @param {number} [chunk] */
async function enqueuePrepared(page, expected, chunk = 0) {
  const r = await page.evaluate((c) => window.bench.enqueue(c), chunk);
  if (r.accepted !== expected) throw new Error(`enqueue: ${r.accepted} of ${expected} events accepted`);
  return r.ms;
}

/**
 * Runs `body` in a fresh context, closed afterwards; a measurement that hangs (a worker
 * that never acknowledges) fails after `timeoutMs` instead of stalling the run.
 * @param {(session: Awaited<ReturnType<typeof openContext>>) => Promise<any>} body
 * @param {number} [timeoutMs]
 */
async function inContext(body, timeoutMs = 300_000) {
  const session = await openContext();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const work = body(session);
  work.catch(() => {}); // after a timeout, closing the context rejects what was pending
  try {
    return await Promise.race([
      work,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    await session.close();
  }
}

// --- main-thread cost ------------------------------------------------------------------

/**
 * dispatchEvent vs one bare postMessage of the same event object to the same worker, on
 * the page's main thread: CDP Performance.getMetrics TaskDuration (all main-thread tasks:
 * script, structured clone, message handling, GC) and ScriptDuration, read before the
 * call and after every promise resolved plus `settleMs`, so deferred work (the
 * microtask that serialises and posts, the acknowledgement handled later) is in. An
 * `idle` run of the same harness (same evaluate, same per-task scheduling, no event) is
 * subtracted. Delivery is held (the collector never answers; the worker's 4 requests
 * stay in flight) so no delivery broadcasts reach the page during the window.
 * @param {Env} env
 */
export async function mainThread(env) {
  const { cfg } = env;
  return inContext(async ({ context, page }) => {
    await setupOurs(page, env, { timeoutMs: 600_000 });
    const id = newId('main');
    const url = env.collector.scenarioUrl(id, 'hang');
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const metrics = async () => {
      const { metrics } = await cdp.send('Performance.getMetrics');
      const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
      return { task: m.TaskDuration ?? Number.NaN, script: m.ScriptDuration ?? Number.NaN };
    };
    let batch = 0;
    /** @param {'idle' | 'post' | 'dispatch'} variant @param {'burst' | 'task'} pattern @param {number} n */
    const sample = async (variant, pattern, n) => {
      await prepare(page, n, `${id}-${++batch}`, url);
      // Garbage of earlier runs collected first, so a GC it would cause does not land in
      // this window by chance.
      await cdp.send('HeapProfiler.collectGarbage');
      await sleep(50);
      const profile = process.env.BENCH_CPU_PROFILE && n >= cfg.mainTask && variant !== 'idle';
      if (profile) {
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.start');
      }
      const before = await metrics();
      await page.evaluate(([v, p]) => window.bench.mainThread(v, p), /** @type {const} */ ([variant, pattern]));
      await sleep(cfg.settleMs);
      const after = await metrics();
      if (profile)
        await writeProfile(
          String(process.env.BENCH_CPU_PROFILE),
          `main-${pattern}-${variant}-${batch}`,
          (await cdp.send('Profiler.stop')).profile,
        );
      return { taskMs: (after.task - before.task) * 1000, scriptMs: (after.script - before.script) * 1000 };
    };
    /** @type {Record<string, any>} */
    const out = {};
    for (const pattern of /** @type {const} */ (['burst', 'task'])) {
      const n = pattern === 'burst' ? cfg.mainBurst : cfg.mainTask;
      for (const variant of /** @type {const} */ (['idle', 'post', 'dispatch'])) await sample(variant, pattern, Math.min(n, 200)); // warm-up
      /** @type {Record<'idle' | 'post' | 'dispatch', {taskMs: number, scriptMs: number}[]>} */
      const reps = { idle: [], post: [], dispatch: [] };
      for (let r = 0; r < cfg.mainReps; r++) {
        for (const variant of /** @type {const} */ (['idle', 'post', 'dispatch'])) reps[variant].push(await sample(variant, pattern, n));
      }
      const med = (/** @type {number[]} */ xs) => summarize(xs)?.median ?? Number.NaN;
      const idleTask = med(reps.idle.map((x) => x.taskMs));
      const idleScript = med(reps.idle.map((x) => x.scriptMs));
      const perEvent = (/** @type {'post' | 'dispatch'} */ v) => ({
        taskUs: ((med(reps[v].map((x) => x.taskMs)) - idleTask) / n) * 1000,
        scriptUs: ((med(reps[v].map((x) => x.scriptMs)) - idleScript) / n) * 1000,
      });
      out[pattern] = { events: n, post: perEvent('post'), dispatch: perEvent('dispatch'), reps };
    }
    return out;
  });
}

// --- durable enqueue -------------------------------------------------------------------

/**
 * sw-outbox: `n` events dispatched in one task, timed on the page from the first
 * dispatchEvent until every promise resolved (the worker's IndexedDB commit was
 * acknowledged). Offline, so the worker holds them (as Workbox's peer does).
 * @param {Env} env
 */
export async function enqueueOurs(env) {
  const n = env.cfg.enqueueOurs;
  return inContext(async ({ context, page }) => {
    await setupOurs(page, env);
    await context.setOffline(true);
    const id = newId('enq');
    const url = env.collector.scenarioUrl(id);
    await prepare(page, 200, `${id}-warm`, url);
    await enqueuePrepared(page, 200);
    await prepare(page, n, id, url);
    const ms = await enqueuePrepared(page, n);
    const stats = await page.evaluate(() => window.bench.stats());
    if (stats.queued < n) throw new Error(`enqueue: only ${stats.queued} queued after ${n} acknowledged`);
    return { events: n, ms, eventsPerSec: n / (ms / 1000), queued: stats.queued };
  });
}

/**
 * workbox-background-sync: `n` Queue.pushRequest calls at once inside its service
 * worker (Request construction included), timed inside the worker until every push
 * resolved. Offline, so its `sync` replay does not run meanwhile.
 * @param {Env} env
 */
export async function enqueueWorkbox(env) {
  const n = env.cfg.enqueueWorkbox;
  return inContext(async ({ context, page }) => {
    await page.goto(`${env.origin}/wb/`);
    await page.evaluate(() => window.wbBench.setup());
    await context.setOffline(true);
    const id = newId('wbenq');
    const url = env.collector.scenarioUrl(id);
    await page.evaluate(([u, p]) => window.wbBench.push(50, String(p), String(u)), [url, `${id}-warm`]);
    const r = await page.evaluate(([u, p, n]) => window.wbBench.push(Number(n), String(p), String(u)), [url, id, n]);
    if (r.size < n) throw new Error(`workbox: only ${r.size} requests in the queue after pushing ${n}`);
    return { events: n, ms: r.ms, eventsPerSec: n / (r.ms / 1000), size: r.size };
  });
}

/**
 * The one-transaction IndexedDB ceiling: `n` puts of ~1 KB records, one transaction.
 * @param {Env} env
 */
export async function ceiling(env) {
  const n = env.cfg.ceiling;
  return inContext(async ({ page }) => {
    await page.goto(`${env.origin}/`);
    const id = newId('ceil');
    const url = env.collector.scenarioUrl(id);
    await page.evaluate(([n, p, u]) => window.bench.ceiling(Number(n), String(p), String(u)), [500, `${id}-warm`, url]);
    const r = await page.evaluate(([n, p, u]) => window.bench.ceiling(Number(n), String(p), String(u)), [n, id, url]);
    return { events: n, ms: r.ms, eventsPerSec: n / (r.ms / 1000) };
  });
}

// --- drain -----------------------------------------------------------------------------

/**
 * A backlog for sw-outbox: `n` events of scenario `id` dispatched with the browser offline.
 * @param {Env} env @param {import('@playwright/test').BrowserContext} context @param {Page} page
 * @param {'off' | 'optimizely'} batching @param {string} id @param {number} n
 */
async function queueOurs(env, context, page, batching, id, n) {
  await setupOurs(page, env, { batching });
  await context.setOffline(true);
  await prepare(page, n, id, env.collector.scenarioUrl(id));
  await enqueuePrepared(page, n, 5000);
}

/**
 * A backlog for workbox: `n` requests of scenario `id` pushed into its Queue with the browser offline.
 * @param {Env} env @param {import('@playwright/test').BrowserContext} context @param {Page} page
 * @param {string} id @param {number} n
 */
async function queueWorkbox(env, context, page, id, n) {
  await page.goto(`${env.origin}/wb/`);
  await page.evaluate(() => window.wbBench.setup());
  await context.setOffline(true);
  const r = await page.evaluate(
    ([u, p, n]) => window.wbBench.push(Number(n), String(p), String(u)),
    [env.collector.scenarioUrl(id), id, n],
  );
  if (r.size < n) throw new Error(`workbox: only ${r.size} requests in the queue after pushing ${n}`);
}

/**
 * A backlog of `n` events queued offline, then `context.setOffline(false)`: time until
 * the collector has every event (by uuid), and the HTTP requests it took.
 * @param {Env} env @param {'off' | 'optimizely'} batching @param {number} n @param {string} name
 */
export async function drainOurs(env, batching, n, name = 'drain') {
  return inContext(
    async ({ context, page }) => {
      const id = newId(`${name}-${batching}`);
      await queueOurs(env, context, page, batching, id, n);
      const stats = await page.evaluate(() => window.bench.stats());
      if (stats.queued < n) throw new Error(`drain: only ${stats.queued} queued before reconnecting`);
      return reconnectAndWait(env, context, id, n, { batching });
    },
    120_000 + n * 40,
  );
}

/**
 * Two destinations, one down: a backlog of `n` for a second origin (the same collector as
 * `localhost`) whose requests hang until `timeoutMs`, queued first, then `n` for the
 * collector; reconnect: time until the collector has its `n` (the healthy destination's
 * drain, to set beside drainOurs alone).
 * @param {Env} env @param {'off' | 'optimizely'} batching @param {number} n
 */
export async function drainBesideDown(env, batching, n) {
  return inContext(
    async ({ context, page }) => {
      const id = newId(`beside-${batching}`);
      const downId = newId(`down-${batching}`);
      const down = env.collector.origin.replace('127.0.0.1', 'localhost');
      await setupOurs(page, env, { batching, endpoints: `${env.collector.origin},${down}` });
      await context.setOffline(true);
      await prepare(page, n, downId, `${down}/s/${downId}/hang/v1/events`);
      await enqueuePrepared(page, n, 5000);
      await prepare(page, n, id, env.collector.scenarioUrl(id));
      await enqueuePrepared(page, n, 5000);
      return reconnectAndWait(env, context, id, n, { batching });
    },
    120_000 + n * 80,
  );
}

/**
 * workbox-background-sync: a backlog of `n` requests pushed offline, then reconnect; its
 * `sync` event replays them (Queue.replayRequests, one fetch at a time).
 * @param {Env} env
 */
export async function drainWorkbox(env) {
  const n = env.cfg.drainWorkbox;
  return inContext(
    async ({ context, page }) => {
      const id = newId('wbdrain');
      await queueWorkbox(env, context, page, id, n);
      return reconnectAndWait(env, context, id, n, {});
    },
    120_000 + n * 40,
  );
}

/**
 * One request per event without any outbox: the same ~1 KB bodies POSTed by bare `fetch`
 * from a page, as the worker sends them (JSON content type, CORS, credentials omitted,
 * response body cancelled), 6 in flight, no store at all; timed until the collector has
 * every event. What a request costs on this browser and machine.
 * @param {Env} env
 */
export async function fetchCeiling(env) {
  const n = env.cfg.fetchCeiling;
  return inContext(async ({ page }) => {
    await page.goto(`${env.origin}/`);
    const id = newId('fetch');
    const url = env.collector.scenarioUrl(id);
    await prepare(page, 50, `${id}-warm`, url);
    await page.evaluate(([u]) => window.bench.fetchAll(String(u), 6), [url]);
    await prepare(page, n, id, url);
    const t0 = performance.now();
    await page.evaluate(([u]) => window.bench.fetchAll(String(u), 6), [url]);
    const doneAt = await env.collector.waitFor(id, n, 60_000 + n * 30);
    const ms = doneAt - t0;
    return { events: n, ms, eventsPerSec: n / (ms / 1000), requests: env.collector.counts(id).requests };
  });
}

/**
 * A drain after a browser restart, with no debugger attached: the backlog is queued
 * offline under Playwright on an on-disk profile, the browser is closed, and the profile
 * is opened again by plain Chromium (bench/browser.mjs launchPlain), online. The collector
 * holds the scenario's first requests unread until the browser has settled (`relaunchSettleMs`
 * after the first one, so the browser's start is not timed), then opens: time from then
 * until it has every event. The same for each sender: sw-outbox (`/?auto=<worker URL>`),
 * workbox (`/wb/?auto`: its sync event replays) and bare fetch (`/?fetch=`, 6 in flight).
 * @param {Env} env @param {'ours' | 'workbox' | 'fetch'} kind @param {'off' | 'optimizely'} batching @param {number} n
 */
export async function relaunch(env, kind, batching, n) {
  const id = newId(`relaunch-${kind}${kind === 'ours' ? `-${batching}` : ''}`);
  const dir = mkdtempSync(join(tmpdir(), 'sw-outbox-bench-relaunch-'));
  /** @type {{stop(): Promise<void>} | undefined} */
  let plain;
  try {
    const filled = await openContext(dir);
    /** @type {string} */
    let url;
    try {
      const { context, page } = filled;
      if (kind === 'ours') {
        await queueOurs(env, context, page, batching, id, n);
        url = `${env.origin}/?auto=${encodeURIComponent(swUrl(env, { batching }))}`;
      } else if (kind === 'workbox') {
        await queueWorkbox(env, context, page, id, n);
        url = `${env.origin}/wb/?auto`;
      } else {
        url = `${env.origin}/?${new URLSearchParams({ fetch: env.collector.scenarioUrl(id), n: String(n), prefix: id })}`;
      }
    } finally {
      await filled.close();
    }
    env.collector.hold(id);
    plain = launchPlain(dir, url);
    const deadline = performance.now() + 60_000;
    while (env.collector.holding(id) === 0) {
      if (performance.now() > deadline) throw new Error('relaunch: no request within 60 s of the browser start');
      await sleep(50);
    }
    await sleep(env.cfg.relaunchSettleMs);
    const cpu0 = process.env.BENCH_CPU_PROC ? await processCpu() : undefined;
    const t0 = env.collector.release(id);
    const doneAt = await env.collector.waitFor(id, n, 60_000 + n * 30);
    if (cpu0) printCpu(cpu0, await processCpu(), id, n, doneAt - t0);
    const got = env.collector.counts(id);
    return {
      kind,
      ...(kind === 'ours' ? { batching } : {}),
      events: n,
      ms: doneAt - t0,
      eventsPerSec: n / ((doneAt - t0) / 1000),
      requests: got.requests,
      requestsPerEvent: got.requests / n,
      duplicates: got.duplicates,
    };
  } finally {
    await plain?.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

/**
 * @param {Env} env @param {import('@playwright/test').BrowserContext} context
 * @param {string} id @param {number} n @param {Record<string, unknown>} extra
 */
async function reconnectAndWait(env, context, id, n, extra) {
  // BENCH_CPU_PROFILE=<dir>: a CPU profile of the service worker over the drain, written
  // there (open it in Chrome DevTools), and its top functions by self time printed.
  const profileDir = process.env.BENCH_CPU_PROFILE;
  const profiler = profileDir && (extra.batching ? await workerSession(context, `${env.origin}${swPath(env)}`) : undefined);
  if (profiler) {
    await profiler.send('Profiler.enable');
    await profiler.send('Profiler.start');
  }
  const cpu0 = process.env.BENCH_CPU_PROC ? await processCpu() : undefined;
  const t0 = performance.now();
  await context.setOffline(false);
  const doneAt = await env.collector.waitFor(id, n, 60_000 + n * 30);
  const ms = doneAt - t0;
  if (cpu0) printCpu(cpu0, await processCpu(), id, n, ms);
  if (profiler && profileDir) await writeProfile(profileDir, id, (await profiler.send('Profiler.stop')).profile);
  const got = env.collector.counts(id);
  return {
    ...extra,
    events: n,
    ms,
    eventsPerSec: n / (ms / 1000),
    requests: got.requests,
    requestsPerEvent: got.requests / n,
    preflights: got.preflights,
    duplicates: got.duplicates,
    firstRequestMs: got.firstAt === undefined ? null : got.firstAt - t0,
  };
}

/** @param {Map<string, number>} cpu0 @param {Map<string, number>} cpu1 @param {string} id @param {number} n @param {number} ms */
function printCpu(cpu0, cpu1, id, n, ms) {
  const per = [...cpu1]
    .map(([k, v]) => [k, ((v - (cpu0.get(k) ?? 0)) * 1000) / n])
    .filter(([, v]) => Number(v) > 0)
    .map(([k, v]) => `${k} ${Number(v).toFixed(0)}`)
    .join(', ');
  console.log(`CPU ms per 1,000 events, ${id} (${n} in ${ms.toFixed(0)} ms): ${per}`);
}

/**
 * BENCH_CPU_PROC=1: CPU time (user + system, ms) of this process (bench driver and
 * collector) and of every Chromium process by kind, read from /proc (Linux).
 * @returns {Promise<Map<string, number>>}
 */
async function processCpu() {
  const { readdirSync, readFileSync } = await import('node:fs');
  const tick = 1000 / 100; // USER_HZ
  /** @type {Map<string, number>} */
  const byKind = new Map();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
      const isSelf = Number(pid) === process.pid;
      if (!isSelf && !cmd[0]?.includes('chrom')) continue;
      const type = cmd.find((a) => a.startsWith('--type='))?.slice(7);
      const sub = cmd
        .find((a) => a.startsWith('--utility-sub-type='))
        ?.slice(19)
        .split('.')
        .pop();
      const kind = isSelf ? 'node (driver + collector)' : type ? (sub ? `${type}:${sub}` : type) : 'browser';
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byKind.set(kind, (byKind.get(kind) ?? 0) + (Number(fields[11]) + Number(fields[12])) * tick);
    } catch {
      // gone meanwhile
    }
  }
  return byKind;
}

/**
 * Writes a CDP CPU profile and prints its top functions by self time.
 * @param {string} dir @param {string} name
 * @param {{nodes: {id: number, callFrame: {functionName: string, url: string, lineNumber: number}}[], samples?: number[], timeDeltas?: number[]}} profile
 */
async function writeProfile(dir, name, profile) {
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/${name}.cpuprofile`, JSON.stringify(profile));
  const dt = new Map();
  (profile.samples ?? []).forEach((node, i) => {
    dt.set(node, (dt.get(node) ?? 0) + (profile.timeDeltas?.[i] ?? 0));
  });
  const self = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const us = dt.get(node.id) ?? 0;
    total += us;
    const f = node.callFrame;
    const where = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(where, (self.get(where) ?? 0) + us);
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
  console.log(`CPU profile ${name}: ${(total / 1000).toFixed(0)} ms sampled`);
  for (const [where, us] of top)
    console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${where}`);
}

// --- worker heap -----------------------------------------------------------------------

/**
 * Worker heap while draining a backlog of `n` events: a CDP session on the service-worker
 * target; HeapProfiler.collectGarbage then Runtime.getHeapUsage before reconnecting, then
 * Runtime.getHeapUsage every `heapSampleMs` (no forced GC: garbage not yet collected
 * counts, as it would in the browser) until the collector has every event, then once
 * more after a forced GC.
 * @param {Env} env @param {'off' | 'optimizely'} batching
 */
export async function heap(env, batching) {
  const { cfg } = env;
  const n = cfg.heapEvents;
  return inContext(
    async ({ context, page }) => {
      await setupOurs(page, env, { batching });
      await context.setOffline(true);
      const id = newId(`heap-${batching}`);
      const url = env.collector.scenarioUrl(id);
      let enqueueMs = 0;
      // Prepared and dispatched in slices, so the page never holds all of them at once.
      for (let at = 0; at < n; at += cfg.heapChunk) {
        const size = Math.min(cfg.heapChunk, n - at);
        await page.evaluate(([k, p, u]) => window.bench.prepare(Number(k), String(p), String(u)), [size, `${id}-${at}`, url]);
        enqueueMs += await enqueuePrepared(page, size);
      }
      const stats = await page.evaluate(() => window.bench.stats());
      if (stats.queued < n) throw new Error(`heap: only ${stats.queued} queued before reconnecting`);
      const worker = await workerSession(context, `${env.origin}${swPath(env)}`);
      try {
        /** @returns {Promise<{used: number, embedder: number, total: number}>} */
        const usage = async () => {
          const u = await worker.send('Runtime.getHeapUsage');
          return { used: u.usedSize, embedder: u.embedderHeapUsedSize ?? 0, total: u.totalSize };
        };
        await worker.send('HeapProfiler.collectGarbage');
        const before = await usage();
        /** @type {{at: number, used: number, embedder: number, total: number}[]} */
        const samples = [];
        let sampling = true;
        /** @type {Error | undefined} */
        let samplerError;
        const t0 = performance.now();
        const sampler = (async () => {
          while (sampling) {
            try {
              samples.push({ at: performance.now() - t0, ...(await usage()) });
            } catch (error) {
              samplerError = /** @type {Error} */ (error);
              return;
            }
            await sleep(cfg.heapSampleMs);
          }
        })();
        await context.setOffline(false);
        let doneAt;
        try {
          doneAt = await env.collector.waitFor(id, n, 60_000 + n * 5);
        } finally {
          sampling = false;
          await sampler;
        }
        if (samplerError) throw samplerError;
        // The drain ends when the worker has written every outcome, not when the collector
        // has the last request: its last settlements are in memory until then.
        for (const deadline = performance.now() + 30_000; ; await sleep(50)) {
          const s = await page.evaluate(() => window.bench.stats());
          if (s.queued === 0) break; // (written in the same transaction as the last outcome)
          if (performance.now() > deadline) throw new Error(`heap: ${s.queued} still queued 30 s after the collector had every event`);
        }
        await worker.send('HeapProfiler.collectGarbage');
        const after = await usage();
        // BENCH_HEAP_SNAPSHOT=<dir>: what is retained after the drain, as a .heapsnapshot (open it in DevTools' Memory panel).
        if (process.env.BENCH_HEAP_SNAPSHOT) {
          /** @type {string[]} */
          const chunks = [];
          worker.on('HeapProfiler.addHeapSnapshotChunk', (p) => chunks.push(p.chunk));
          await worker.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
          mkdirSync(process.env.BENCH_HEAP_SNAPSHOT, { recursive: true });
          writeFileSync(join(process.env.BENCH_HEAP_SNAPSHOT, `${id}${env.sw === '/sw-b.js' ? '-B' : ''}.heapsnapshot`), chunks.join(''));
        }
        const mb = (/** @type {number} */ bytes) => bytes / 2 ** 20;
        const peakUsed = Math.max(before.used, ...samples.map((s) => s.used));
        const peakAll = Math.max(before.used + before.embedder, ...samples.map((s) => s.used + s.embedder));
        const got = env.collector.counts(id);
        return {
          batching,
          events: n,
          enqueueMs,
          drainMs: doneAt - t0,
          drainEventsPerSec: n / ((doneAt - t0) / 1000),
          requests: got.requests,
          duplicates: got.duplicates,
          baselineMB: mb(before.used),
          baselineEmbedderMB: mb(before.embedder),
          peakGrowthMB: mb(peakUsed - before.used),
          peakGrowthWithEmbedderMB: mb(peakAll - before.used - before.embedder),
          afterGcGrowthMB: mb(after.used - before.used),
          samples: samples.length,
          series: samples.map((s) => ({ ms: Math.round(s.at), usedMB: +mb(s.used).toFixed(3), embedderMB: +mb(s.embedder).toFixed(3) })),
        };
      } finally {
        await worker.detach();
      }
    },
    120_000 + n * 10,
  );
}
