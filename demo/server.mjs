// @ts-check
// `npm start`: the demo PWA (demo/dist, built by `node scripts/build.mjs --demo`, its
// service worker at /sw.js) and a local fault-injecting collector, both on 127.0.0.1.
// The page switches the collector's mode and reads its log through /api/*.
//
//   PORT               page server port (default 5173; a busy port falls back to a free one)
//   COLLECTOR_PORT     collector port   (default 5174; likewise)
//   DEMO_EXIT_AFTER_MS stop by itself after this many ms (smoke tests)
//
// Also a module: `startDemo({port: 0, collectorPort: 0})` starts both servers in-process
// (the end-to-end test does) and returns them with a close(), and deployWorker(), which
// serves a new version of the worker from then on, as a deploy would.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startCollector } from '../e2e/collector.mjs';
import { startStaticServer } from '../e2e/static-server.mjs';
import { versionOf, withVersion } from './sw-version.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const defaultPageDir = resolve(here, 'dist');

/** @typedef {import('../e2e/collector.mjs').Collector} Collector */
/** @typedef {Parameters<Collector['setMode']>[0]} Mode */

/**
 * Starts a server on `port`; if that port is taken, on a free one instead.
 * @template T
 * @param {string} what @param {number} port @param {(port: number) => Promise<T>} start
 * @param {(message: string) => void} warn
 * @returns {Promise<T>}
 */
async function startWithFallback(what, port, start, warn) {
  try {
    return await start(port);
  } catch (error) {
    const code = /** @type {NodeJS.ErrnoException} */ (error).code;
    if (port === 0 || (code !== 'EADDRINUSE' && code !== 'EACCES')) throw error;
    warn(`sw-outbox demo: port ${port} for the ${what} is not available (${code}); using a free port instead`);
    return start(0);
  }
}

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

/**
 * The events in an Optimizely-shaped payload: uuid and key (`purchase`, or
 * `campaign_activated` for a decision's impression).
 * @param {string} body @returns {{uuid: string, key: string}[]}
 */
function eventsOf(body) {
  try {
    const params = JSON.parse(body);
    /** @type {{uuid: string, key: string}[]} */
    const out = [];
    for (const visitor of params?.visitors ?? []) {
      for (const snapshot of visitor?.snapshots ?? []) {
        for (const event of snapshot?.events ?? []) {
          if (typeof event?.uuid === 'string') out.push({ uuid: event.uuid, key: String(event.key ?? '') });
        }
      }
    }
    return out;
  } catch {
    return [];
  }
}

/** @param {LoggedStatus} status */
const isOk = (status) => typeof status === 'number' && status >= 200 && status < 300;
/** @typedef {Collector['log'][number]['status']} LoggedStatus */

/**
 * What the page shows of the collector: totals, and the last requests with the ones
 * whose uuid had already been accepted marked as duplicates.
 * @param {Collector} collector @param {Mode} mode
 */
function collectorReport(collector, mode) {
  /** @type {Set<string>} */
  const accepted = new Set();
  let duplicates = 0;
  const entries = collector.log.map((r) => {
    const events = eventsOf(r.body);
    let duplicate = false;
    if (isOk(r.status)) {
      for (const { uuid } of events) {
        if (accepted.has(uuid)) duplicate = true;
        accepted.add(uuid);
      }
      if (duplicate) duplicates++;
    }
    return {
      at: r.at,
      status: r.status,
      uuid: events.map((e) => e.uuid).join(', ') || null,
      key: events.map((e) => e.key).join(', ') || null,
      duplicate,
    };
  });
  return {
    mode,
    requests: collector.log.length,
    accepted: collector.log.filter((r) => isOk(r.status)).length,
    distinctUuids: accepted.size,
    duplicates,
    last: entries.slice(-30).reverse(),
  };
}

/**
 * @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} value
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

/**
 * Starts the collector and the page server.
 * @param {{port?: number, collectorPort?: number, dir?: string, warn?: (message: string) => void}} [options]
 *   ports default to 5173 and 5174 and fall back to free ones when taken; 0 means any free port.
 *   dir: the built demo (default demo/dist).
 */
export async function startDemo(options = {}) {
  const warn = options.warn ?? ((message) => console.warn(message));
  const pageDir = options.dir ?? defaultPageDir;
  for (const file of ['index.html', 'sw.js']) {
    if (!existsSync(resolve(pageDir, file))) {
      throw new Error(`sw-outbox demo: ${resolve(pageDir, file)} is missing; build first: node scripts/build.mjs --demo (or npm start)`);
    }
  }

  const collector = await startWithFallback('collector', options.collectorPort ?? 5174, (port) => startCollector({ port }), warn);
  /** @type {Mode} */
  let mode = { kind: 'up' };
  // One mode change at a time: the collector closing its socket (down) and reopening it
  // (up) must not overlap.
  let modeChange = Promise.resolve();
  // The worker script served once deployWorker() was called (until then, demo/dist/sw.js).
  /** @type {string | undefined} */
  let deployed;

  /** @type {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => Promise<boolean>} */
  const routes = async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/sw.js' && deployed !== undefined) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(deployed);
      return true;
    }
    if (!path.startsWith('/api/')) return false;
    if (path === '/api/config' && req.method === 'GET') {
      json(res, 200, { collectorUrl: collector.url, collectorOrigin: collector.origin });
    } else if (path === '/api/collector/log' && req.method === 'GET') {
      json(res, 200, collectorReport(collector, mode));
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
  };

  /** @type {Awaited<ReturnType<typeof startStaticServer>>} */
  let site;
  try {
    // /sw.js is demo/dist/sw.js, the demo's own worker (precache + outbox).
    site = await startWithFallback(
      'page',
      options.port ?? 5173,
      (port) => startStaticServer({ port, roots: { '/': pageDir }, routes }),
      warn,
    );
  } catch (error) {
    await collector.close();
    throw error;
  }

  return {
    /** The page's origin, e.g. http://127.0.0.1:5173 */
    origin: site.origin,
    collector,
    /** The collector's mode as last set through the page. */
    mode: () => mode,
    /**
     * A deploy, for the update flow: /sw.js is served with a new version id from now on
     * (the same code otherwise, so the same precache), and the browser's next update
     * check finds a new worker. Returns the new version id (what GET_VERSION answers).
     */
    deployWorker() {
      const current = deployed ?? readFileSync(resolve(pageDir, 'sw.js'), 'utf8');
      const version = versionOf(current);
      deployed = withVersion(current, version);
      return version;
    },
    async close() {
      await Promise.allSettled([site.close(), collector.close()]);
    },
  };
}

/** @typedef {Awaited<ReturnType<typeof startDemo>>} Demo */

/**
 * @param {string} name @param {string | undefined} value @param {number} fallback
 */
function portFromEnv(name, value, fallback) {
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`sw-outbox demo: ${name} must be a port number (0-65535), got ${JSON.stringify(value)}`);
  }
  return port;
}

async function main() {
  let demo;
  try {
    demo = await startDemo({
      port: portFromEnv('PORT', process.env.PORT, 5173),
      collectorPort: portFromEnv('COLLECTOR_PORT', process.env.COLLECTOR_PORT, 5174),
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  console.log(`sw-outbox demo: ${demo.origin}/  (collector ${demo.collector.url}) — Ctrl-C to stop`);

  let stopping = false;
  /** @param {string} why */
  const stop = async (why) => {
    if (stopping) return;
    stopping = true;
    console.log(`sw-outbox demo: stopping (${why})`);
    // A hung close must not keep the process alive.
    setTimeout(() => process.exit(0), 3000).unref();
    await demo.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const exitAfter = Number(process.env.DEMO_EXIT_AFTER_MS);
  if (process.env.DEMO_EXIT_AFTER_MS && Number.isFinite(exitAfter) && exitAfter >= 0) {
    setTimeout(() => void stop(`DEMO_EXIT_AFTER_MS=${exitAfter}`), exitAfter);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await main();
}
