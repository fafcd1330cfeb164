// @ts-check
// npm run bench [-- --rounds N] [--quick] [--no-build] [--only main,enqueue,...]
//               [--heap-events N] [--heap-batching both|auto|off|optimizely] [--<config key> N]
// Builds the library (npm run build) and the bench pages, then measures sw-outbox beside
// its anchors in the same run (see bench/README.md), prints a markdown table and writes
// bench-results/bench-<time>.{json,md} (and latest.{json,md}).
// Exit status: 0 when every measurement ran (goals met or not), 1 when one failed.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startStaticServer } from '../e2e/static-server.mjs';
import { browserVersion, openContext } from './browser.mjs';
import { buildBench, buildVariant, root, site } from './build.mjs';
import { startCollector } from '../e2e/collector.mjs';
import { EVENT_BYTES } from '../e2e/events.js';
import { buildSummary, renderMarkdown } from './report.mjs';
import * as scenarios from './scenarios.mjs';
import { measureSizes } from './sizes.mjs';

/** @type {import('./scenarios.mjs').Config & {rounds: number, heapRounds: number}} */
const DEFAULTS = {
  rounds: 5,
  mainBurst: 2000,
  mainTask: 1000,
  mainReps: 5,
  settleMs: 250,
  enqueueOurs: 10_000,
  enqueueWorkbox: 2000,
  ceiling: 10_000,
  drainOurs: 10_000,
  drainWorkbox: 1000,
  fetchCeiling: 3000,
  reconnect: 1000,
  relaunchSettleMs: 2000,
  heapEvents: 100_000,
  heapBatching: 'both',
  heapChunk: 5000,
  heapSampleMs: 100,
  heapRounds: 1,
};

/** A fast smoke run: one round, small counts. */
const QUICK = {
  rounds: 1,
  mainBurst: 500,
  mainTask: 300,
  mainReps: 3,
  enqueueOurs: 2000,
  enqueueWorkbox: 500,
  ceiling: 5000,
  drainOurs: 2000,
  drainWorkbox: 200,
  fetchCeiling: 500,
  heapEvents: 10_000,
};

const GROUPS = ['sizes', 'main', 'enqueue', 'drain', 'relaunch', 'reconnect', 'heap'];

const USAGE = `usage: npm run bench -- [options]
  --rounds N              rounds of every measurement but the heap one (default ${DEFAULTS.rounds})
  --quick                 smoke run: 1 round, small counts
  --no-build              use dist/ as it is (skip npm run build)
  --only a,b              only these groups: ${GROUPS.join(', ')}
  --heap-events N         backlog drained while sampling the worker heap (default ${DEFAULTS.heapEvents})
  --ab REV                A/B in the same run: every sw-outbox measurement also with the ready-made worker
                          of git revision REV (or a built sw.js file), interleaved (A then B in odd rounds,
                          B then A in even ones); the table gains A/B ratios (goal: no row more than 5 % worse)
  --heap-batching MODE    both (off, the default of the library, then optimizely; the default here), auto (optimizely when the worker knows it, else off), off, optimizely
  --<key> N               any count, e.g. --drainOurs 5000 (keys: ${Object.keys(DEFAULTS)
    .filter((k) => typeof DEFAULTS[/** @type {keyof typeof DEFAULTS} */ (k)] === 'number')
    .join(', ')})`;

/** @param {string[]} argv */
function parseArgs(argv) {
  const cfg = { ...DEFAULTS };
  let quick = false;
  let buildLib = true;
  let only = [...GROUPS];
  /** @type {string | undefined} */
  let ab;
  /** @type {Record<string, unknown>} */
  const overrides = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    const count = () => {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`${arg} needs a positive integer, got ${v}`);
      return Number(v);
    };
    if (arg === '--quick') quick = true;
    else if (arg === '--no-build') buildLib = false;
    else if (arg === '--ab') ab = value();
    else if (arg === '--rounds') overrides.rounds = count();
    else if (arg === '--heap-events') overrides.heapEvents = count();
    else if (arg === '--heap-batching') {
      const v = value();
      if (!['both', 'auto', 'off', 'optimizely'].includes(v)) throw new Error(`--heap-batching: both, auto, off or optimizely, got ${v}`);
      overrides.heapBatching = v;
    } else if (arg === '--only') {
      only = value().split(',');
      const unknown = only.filter((g) => !GROUPS.includes(g));
      if (unknown.length) throw new Error(`--only: unknown group(s) ${unknown.join(', ')}; known: ${GROUPS.join(', ')}`);
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg?.startsWith('--') && typeof DEFAULTS[/** @type {keyof typeof DEFAULTS} */ (arg.slice(2))] === 'number') {
      overrides[arg.slice(2)] = count();
    } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  Object.assign(cfg, quick ? QUICK : {}, overrides);
  return { cfg, quick, buildLib, only, ab };
}

const log = (/** @type {string} */ message) => process.stderr.write(`[bench] ${message}\n`);

/** @param {string[]} argv @returns {Promise<number>} exit code */
export async function main(argv) {
  let args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    console.error(/** @type {Error} */ (error).message);
    return 2;
  }
  const { cfg, quick, buildLib, only, ab } = args;
  const started = performance.now();
  const startedAt = new Date();

  if (buildLib) {
    log('npm run build');
    try {
      execFileSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      console.error('bench: npm run build failed (see above); fix it, or run with --no-build to measure dist/ as it is');
      return 1;
    }
  }
  log('building the bench pages and the workbox peer worker');
  await buildBench();
  /** @type {{ref: string, commit: string, swHash?: string} | undefined} */
  let variant;
  if (ab) {
    try {
      variant = buildVariant(ab, log);
    } catch (error) {
      console.error(`bench: --ab ${ab}: ${/** @type {Error} */ (error).message}`);
      return 1;
    }
  }

  const git = (/** @type {string[]} */ a) => {
    try {
      return execFileSync('git', a, { cwd: root, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  /** @type {any} */
  const run = {
    quick,
    config: cfg,
    selected: [],
    workerOptions: null,
    meta: {
      startedAt: startedAt.toISOString(),
      node: process.version,
      chromium: 'unknown',
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      git: git(['rev-parse', '--short', 'HEAD']),
      dirty: git(['status', '--porcelain', '--', 'src', 'worker']).split('\n').filter(Boolean).length,
      swHash: createHash('sha256')
        .update(readFileSync(join(site, 'sw.js')))
        .digest('hex')
        .slice(0, 12),
      eventBytes: EVENT_BYTES,
      ab: variant && {
        ...variant,
        swHash: createHash('sha256')
          .update(readFileSync(join(site, 'sw-b.js')))
          .digest('hex')
          .slice(0, 12),
      },
      loadStart: os.loadavg(),
    },
    sizes: null,
    rounds: [],
    heap: [],
    heapB: [],
    errors: [],
  };
  const selected = new Set(only);
  run.selected = [
    ...(selected.has('main') ? ['main'] : []),
    ...(selected.has('enqueue') ? ['enqueueOurs', 'enqueueWorkbox', 'ceiling'] : []),
    ...(selected.has('drain') ? ['drainOff', 'drainOn', 'drainWorkbox', 'fetchCeiling', 'besideOff', 'besideOn'] : []),
    ...(selected.has('relaunch') ? ['relaunchOff', 'relaunchOn', 'relaunchWorkbox', 'relaunchFetch'] : []),
    ...(selected.has('reconnect') ? ['reconnect'] : []),
    ...(selected.has('heap') ? ['heap'] : []),
  ];

  if (selected.has('sizes')) {
    log('bundle sizes');
    try {
      run.sizes = await measureSizes(root);
    } catch (error) {
      run.sizesError = /** @type {Error} */ (error).message;
      run.errors.push({ where: 'sizes', message: run.sizesError });
    }
  }

  const collector = await startCollector({ log: false, keepAliveMs: 120_000 });
  const server = await startStaticServer({ roots: { '/': site } });
  /** @type {import('./scenarios.mjs').Env} */
  const env = { collector, origin: server.origin, cfg };
  /** The B side of an A/B run: the same measurements with /sw-b.js. */
  const envB = variant ? { ...env, sw: '/sw-b.js' } : undefined;
  run.workerOptions = scenarios.workerOptions(env);
  {
    const probe = await openContext();
    run.meta.chromium = await browserVersion(probe.context);
    await probe.close();
  }

  /** @param {string} where @param {() => Promise<any>} fn */
  const attempt = async (where, fn) => {
    const t = performance.now();
    try {
      const result = await fn();
      log(`${where}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
      return result;
    } catch (error) {
      if (error instanceof scenarios.Unavailable) {
        log(`${where}: not available (${error.message})`);
        return { unavailable: error.message };
      }
      const message = /** @type {Error} */ (error)?.stack ?? String(error);
      log(`${where}: FAILED ${message}`);
      run.errors.push({ where, message: /** @type {Error} */ (error)?.message ?? String(error) });
      return { error: /** @type {Error} */ (error)?.message ?? String(error) };
    }
  };

  try {
    const perRound = run.selected.filter((/** @type {string} */ k) => k !== 'heap');
    for (let round = 1; perRound.length && round <= cfg.rounds; round++) {
      /** @type {Record<string, any>} */
      const r = { round, load: os.loadavg() };
      const at = (/** @type {string} */ name) => `round ${round}/${cfg.rounds} ${name}`;
      /**
       * A sw-outbox measurement: with the build under test (A) into r[key], and in an A/B run
       * also with B into r[key + 'B'], A first in odd rounds and B first in even ones.
       * @param {string} key @param {string} where @param {(e: typeof env) => Promise<any>} fn
       */
      const ours = async (key, where, fn) => {
        const sides = !envB ? [env] : round % 2 ? [env, envB] : [envB, env];
        for (const e of sides) r[e === envB ? `${key}B` : key] = await attempt(at(e === envB ? `${where} [B]` : where), () => fn(e));
      };
      if (perRound.includes('main')) r.main = await attempt(at('main thread'), () => scenarios.mainThread(env));
      if (perRound.includes('enqueueOurs')) {
        await ours('enqueueOurs', 'enqueue sw-outbox', (e) => scenarios.enqueueOurs(e));
        r.enqueueWorkbox = await attempt(at('enqueue workbox'), () => scenarios.enqueueWorkbox(env));
        r.ceiling = await attempt(at('IndexedDB ceiling'), () => scenarios.ceiling(env));
      }
      if (perRound.includes('drainOff')) {
        await ours('drainOff', 'drain batching off', (e) => scenarios.drainOurs(e, 'off', cfg.drainOurs));
        await ours('drainOn', 'drain batching optimizely', (e) => scenarios.drainOurs(e, 'optimizely', cfg.drainOurs));
        r.drainWorkbox = await attempt(at('drain workbox replay'), () => scenarios.drainWorkbox(env));
        r.fetchCeiling = await attempt(at('bare fetch ceiling'), () => scenarios.fetchCeiling(env));
        r.besideOff = await attempt(at('drain beside a destination down, batching off'), () =>
          scenarios.drainBesideDown(env, 'off', cfg.drainOurs),
        );
        r.besideOn = await attempt(at('drain beside a destination down, batching optimizely'), () =>
          scenarios.drainBesideDown(env, 'optimizely', cfg.drainOurs),
        );
      }
      if (perRound.includes('relaunchOff')) {
        await ours('relaunchOff', 'relaunched, no debugger: batching off', (e) => scenarios.relaunch(e, 'ours', 'off', cfg.drainOurs));
        await ours('relaunchOn', 'relaunched, no debugger: batching optimizely', (e) =>
          scenarios.relaunch(e, 'ours', 'optimizely', cfg.drainOurs),
        );
        r.relaunchWorkbox = await attempt(at('relaunched, no debugger: workbox replay'), () =>
          scenarios.relaunch(env, 'workbox', 'off', cfg.drainWorkbox),
        );
        r.relaunchFetch = await attempt(at('relaunched, no debugger: bare fetch'), () =>
          scenarios.relaunch(env, 'fetch', 'off', cfg.fetchCeiling),
        );
      }
      if (perRound.includes('reconnect')) {
        await ours('reconnect', 'reconnect', (e) => scenarios.drainOurs(e, 'optimizely', cfg.reconnect, 'reconnect'));
      }
      run.rounds.push(r);
    }
    if (run.selected.includes('heap')) {
      for (let i = 1; i <= cfg.heapRounds; i++) {
        const where = `heap ${i}/${cfg.heapRounds} (${cfg.heapEvents} events)`;
        /** @type {any} */
        let result;
        if (cfg.heapBatching === 'both') {
          run.heap.push(await attempt(`${where}, batching off`, () => scenarios.heap(env, 'off')));
          result = await attempt(`${where}, batching optimizely`, () => scenarios.heap(env, 'optimizely'));
        } else if (cfg.heapBatching === 'auto') {
          result = await attempt(`${where}, batching optimizely`, () => scenarios.heap(env, 'optimizely'));
          if (result.unavailable) {
            result = await attempt(`${where}, batching off`, () => scenarios.heap(env, 'off'));
            result.note = 'batching optimizely not available; measured with batching off';
          }
        } else {
          const mode = cfg.heapBatching;
          result = await attempt(`${where}, batching ${mode}`, () => scenarios.heap(env, mode));
        }
        run.heap.push(result);
        if (envB) {
          for (const mode of /** @type {('off' | 'optimizely')[]} */ (
            cfg.heapBatching === 'both' ? ['off', 'optimizely'] : [result.batching ?? 'off']
          )) {
            run.heapB.push(await attempt(`${where}, batching ${mode} [B]`, () => scenarios.heap(envB, mode)));
          }
        }
      }
    }
  } finally {
    await collector.close();
    await server.close();
  }

  run.meta.loadEnd = os.loadavg();
  run.meta.durationS = (performance.now() - started) / 1000;
  const summary = buildSummary(run);
  run.summary = summary;
  const markdown = renderMarkdown(run, summary);

  const dir = join(root, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const jsonFile = join(dir, `bench-${stamp}.json`);
  const mdFile = join(dir, `bench-${stamp}.md`);
  writeFileSync(jsonFile, `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(mdFile, markdown);
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), markdown);

  console.log(markdown);
  console.log(
    `Raw samples: ${relative(process.cwd(), jsonFile)}\nTable: ${relative(process.cwd(), mdFile)} (and bench-results/latest.{json,md})`,
  );
  if (run.errors.length) {
    console.error(`bench: ${run.errors.length} measurement(s) failed`);
    return 1;
  }
  return 0;
}
