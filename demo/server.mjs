// @ts-check
// `npm start`: the demo page (demo/dist, built by `node scripts/build.mjs --demo`), the
// ready-made service worker (dist/sw.js) and a local fault-injecting collector, all on
// 127.0.0.1. The page switches the collector's mode through /api/collector/*.
//
//   PORT               page server port (default 5173; a busy port falls back to a free one)
//   COLLECTOR_PORT     collector port   (default 5174; likewise)
//   DEMO_EXIT_AFTER_MS stop by itself after this many ms (smoke tests)
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCollector } from '../e2e/collector.mjs';
import { startStaticServer } from '../e2e/static-server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const files = {
  sw: resolve(root, 'dist/sw.js'),
  swMap: resolve(root, 'dist/sw.js.map'),
  page: resolve(here, 'dist'),
};

for (const file of [files.sw, resolve(files.page, 'index.html')]) {
  if (!existsSync(file)) {
    console.error(`sw-outbox demo: ${file} is missing; build first: node scripts/build.mjs --demo (or npm start)`);
    process.exit(1);
  }
}

/**
 * @param {string} name
 * @param {string | undefined} value
 * @param {number} fallback
 */
function portFromEnv(name, value, fallback) {
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`sw-outbox demo: ${name} must be a port number (0-65535), got ${JSON.stringify(value)}`);
    process.exit(1);
  }
  return port;
}

/**
 * Starts a server on `port`; if that port is taken, on a free one instead.
 * @template T
 * @param {string} what
 * @param {number} port
 * @param {(port: number) => Promise<T>} start
 * @returns {Promise<T>}
 */
async function startWithFallback(what, port, start) {
  try {
    return await start(port);
  } catch (error) {
    const code = /** @type {NodeJS.ErrnoException} */ (error).code;
    if (port === 0 || (code !== 'EADDRINUSE' && code !== 'EACCES')) throw error;
    console.warn(`sw-outbox demo: port ${port} for the ${what} is not available (${code}); using a free port instead`);
    return start(0);
  }
}

const ports = {
  page: portFromEnv('PORT', process.env.PORT, 5173),
  collector: portFromEnv('COLLECTOR_PORT', process.env.COLLECTOR_PORT, 5174),
};

const collector = await startWithFallback('collector', ports.collector, (port) => startCollector({ port }));

/** @typedef {import('../e2e/collector.mjs').Collector} Collector */
/** @typedef {Parameters<Collector['setMode']>[0]} Mode */

/** @type {Mode} */
let mode = { kind: 'up' };
// One mode change at a time: the collector closing its socket (down) and reopening it
// (up) must not overlap.
let modeChange = Promise.resolve();

/**
 * A mode `setMode` understands, checked field by field; undefined when it is not one.
 * @param {unknown} input @returns {Mode | undefined}
 */
function parseMode(input) {
  if (typeof input !== 'object' || input === null) return undefined;
  const m = /** @type {Record<string, unknown>} */ (input);
  const int = (/** @type {unknown} */ v, /** @type {number} */ min, /** @type {number} */ max) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
  switch (m.kind) {
    case 'up':
    case 'down':
    case 'hang':
    case 'reset':
      return { kind: m.kind };
    case 'slow':
      return int(m.ms, 0, 60_000) ? { kind: 'slow', ms: /** @type {number} */ (m.ms) } : undefined;
    case 'status':
      if (!int(m.status, 200, 599)) return undefined;
      if (m.retryAfter !== undefined && (typeof m.retryAfter !== 'string' || m.retryAfter.length > 64)) return undefined;
      return m.retryAfter === undefined
        ? { kind: 'status', status: /** @type {number} */ (m.status) }
        : { kind: 'status', status: /** @type {number} */ (m.status), retryAfter: m.retryAfter };
    default:
      return undefined;
  }
}

/** @param {string} body @returns {string[]} every event uuid in an Optimizely-shaped payload */
function uuidsOf(body) {
  try {
    const params = JSON.parse(body);
    /** @type {string[]} */
    const out = [];
    for (const visitor of params?.visitors ?? []) {
      for (const snapshot of visitor?.snapshots ?? []) {
        for (const event of snapshot?.events ?? []) if (typeof event?.uuid === 'string') out.push(event.uuid);
      }
    }
    return out;
  } catch {
    return [];
  }
}

function collectorLog() {
  /** @type {Map<string, number>} */
  const accepted = new Map();
  const entries = collector.log.map((r) => {
    const uuids = uuidsOf(r.body);
    const ok = typeof r.status === 'number' && r.status >= 200 && r.status < 300;
    if (ok) for (const id of uuids) accepted.set(id, (accepted.get(id) ?? 0) + 1);
    return { at: r.at, status: r.status, uuid: uuids.join(', ') || null };
  });
  let duplicates = 0;
  for (const n of accepted.values()) duplicates += n - 1;
  return {
    mode,
    requests: collector.log.length,
    accepted: collector.log.filter((r) => typeof r.status === 'number' && r.status >= 200 && r.status < 300).length,
    distinctUuids: accepted.size,
    duplicates,
    last: entries.slice(-20).reverse(),
  };
}

/**
 * @param {import('node:http').ServerResponse} res
 * @param {number} status
 * @param {unknown} value
 */
function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(value));
}

/** @param {import('node:http').IncomingMessage} req @returns {Promise<string>} */
async function readBody(req) {
  /** @type {Buffer[]} */
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 10_000) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** @type {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<boolean>} */
async function routes(req, res) {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (!path.startsWith('/api/')) return false;
  if (path === '/api/config' && req.method === 'GET') {
    json(res, 200, { collectorUrl: collector.url, collectorOrigin: collector.origin });
  } else if (path === '/api/collector/log' && req.method === 'GET') {
    json(res, 200, collectorLog());
  } else if (path === '/api/collector/mode' && req.method === 'POST') {
    let next;
    try {
      next = parseMode(JSON.parse(await readBody(req)));
    } catch {
      next = undefined;
    }
    if (!next) {
      json(res, 400, {
        error:
          'expected a JSON mode: {kind:"up"}, {kind:"down"}, {kind:"hang"}, {kind:"reset"}, {kind:"slow", ms}, {kind:"status", status, retryAfter?}',
      });
      return true;
    }
    const chosen = next;
    modeChange = modeChange.then(async () => {
      await collector.setMode(chosen);
      mode = chosen;
    });
    try {
      await modeChange;
      json(res, 200, { mode });
    } catch (error) {
      modeChange = Promise.resolve();
      json(res, 500, { error: String(error) });
    }
  } else if (['/api/config', '/api/collector/log', '/api/collector/mode'].includes(path)) {
    json(res, 405, { error: `${req.method} is not allowed on ${path}` });
  } else {
    json(res, 404, { error: `no route ${path}` });
  }
  return true;
}

/** @type {Awaited<ReturnType<typeof startStaticServer>>} */
let site;
try {
  site = await startWithFallback('page', ports.page, (port) =>
    startStaticServer({ port, roots: { '/sw.js.map': files.swMap, '/sw.js': files.sw, '/': files.page }, routes }),
  );
} catch (error) {
  await collector.close();
  throw error;
}

console.log(`sw-outbox demo: ${site.origin}/  (collector ${collector.url}) — Ctrl-C to stop`);

let stopping = false;
/** @param {string} why */
async function stop(why) {
  if (stopping) return;
  stopping = true;
  console.log(`sw-outbox demo: stopping (${why})`);
  // A hung close must not keep the process alive.
  setTimeout(() => process.exit(0), 3000).unref();
  await Promise.allSettled([site.close(), collector.close()]);
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

const exitAfter = Number(process.env.DEMO_EXIT_AFTER_MS);
if (process.env.DEMO_EXIT_AFTER_MS && Number.isFinite(exitAfter) && exitAfter >= 0) {
  setTimeout(() => void stop(`DEMO_EXIT_AFTER_MS=${exitAfter}`), exitAfter);
}
