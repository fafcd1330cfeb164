// @ts-check
// The benchmark's collector: a minimal, fast HTTP server on 127.0.0.1 with CORS. It reads
// every POST body, parses it and counts the events it carries by their uuids
// (visitors[].snapshots[].events[].uuid), so one batched request counts for all of its
// events. Counts are kept per scenario, taken from the path: /s/<scenario>/<mode>/...
//   mode `ok`    answer 200 at once (empty body)
//   mode `hang`  read the request, never answer (holds the sender's requests in flight)
// hold(scenario) keeps that scenario's POSTs unread and unanswered (not counted) until
// release(scenario), which reads and answers them and every later one at once.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { uuidsOf } from './events.js';

/**
 * @typedef {{requests: number, preflights: number, events: number, duplicates: number, badBodies: number,
 *   uuids: Set<string>, firstAt: number | undefined, lastAt: number | undefined, held?: (() => void)[],
 *   waiters: {count: number, resolve: (at: number) => void}[]}} Scenario
 */

export async function startCollector() {
  /** @type {Map<string, Scenario>} */
  const scenarios = new Map();
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();

  /** @param {string} id @returns {Scenario} */
  const scenario = (id) => {
    let s = scenarios.get(id);
    if (!s) {
      s = {
        requests: 0,
        preflights: 0,
        events: 0,
        duplicates: 0,
        badBodies: 0,
        uuids: new Set(),
        firstAt: undefined,
        lastAt: undefined,
        waiters: [],
      };
      scenarios.set(id, s);
    }
    return s;
  };

  const cors = { 'access-control-allow-origin': '*' };
  const server = createServer((req, res) => {
    const parts = (req.url ?? '/').split('/');
    // ['', 's', id, mode, ...]
    const id = parts[1] === 's' && parts[2] ? parts[2] : '_';
    const mode = parts[3] ?? 'ok';
    const s = scenario(id);
    if (req.method === 'OPTIONS') {
      s.preflights++;
      res.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'content-type',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, cors);
      res.end();
      return;
    }
    // A closed gate holds the request unread (its events are counted once it opens).
    if (s.held) s.held.push(() => receive(req, res, s, mode));
    else receive(req, res, s, mode);
  });
  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {Scenario} s @param {string} mode */
  function receive(req, res, s, mode) {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      if (mode === 'hang') return; // never answered; destroyed when the collector closes
      const now = performance.now();
      s.requests++;
      s.firstAt ??= now;
      s.lastAt = now;
      res.writeHead(200, { ...cors, 'content-length': '0' });
      res.end();
      let uuids;
      try {
        uuids = uuidsOf(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        s.badBodies++;
        return;
      }
      for (const uuid of uuids) {
        s.events++;
        if (s.uuids.has(uuid)) s.duplicates++;
        else s.uuids.add(uuid);
      }
      if (s.waiters.length) {
        s.waiters = s.waiters.filter((w) => {
          if (s.uuids.size < w.count) return true;
          w.resolve(now);
          return false;
        });
      }
    });
  }
  server.keepAliveTimeout = 120_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok(undefined));
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('collector: no address');
  const origin = `http://127.0.0.1:${address.port}`;

  return {
    origin,
    /** The URL events of `scenarioId` are sent to. @param {string} scenarioId @param {'ok' | 'hang'} [mode] */
    url: (scenarioId, mode = 'ok') => `${origin}/s/${scenarioId}/${mode}/v1/events`,
    /** @param {string} scenarioId */
    get(scenarioId) {
      const s = scenario(scenarioId);
      return {
        requests: s.requests,
        preflights: s.preflights,
        events: s.events,
        unique: s.uuids.size,
        duplicates: s.duplicates,
        badBodies: s.badBodies,
        firstAt: s.firstAt,
        lastAt: s.lastAt,
      };
    },
    /** Holds the scenario's POSTs unread from now on, until `release`. @param {string} scenarioId */
    hold(scenarioId) {
      scenario(scenarioId).held ??= [];
    },
    /** POSTs held by `hold` so far. @param {string} scenarioId */
    holding: (scenarioId) => scenario(scenarioId).held?.length ?? 0,
    /** Reads and answers the held POSTs, and every later one at once. Returns performance.now(). @param {string} scenarioId */
    release(scenarioId) {
      const s = scenario(scenarioId);
      const held = s.held ?? [];
      s.held = undefined;
      const at = performance.now();
      for (const receive of held) receive();
      return at;
    },
    /**
     * Resolves with the time (performance.now()) at which the scenario had `count`
     * distinct events; rejects after `timeoutMs`.
     * @param {string} scenarioId @param {number} count @param {number} timeoutMs
     * @returns {Promise<number>}
     */
    waitFor(scenarioId, count, timeoutMs) {
      const s = scenario(scenarioId);
      if (s.uuids.size >= count) return Promise.resolve(s.lastAt ?? performance.now());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          s.waiters = s.waiters.filter((w) => w !== waiter);
          reject(new Error(`collector: scenario ${scenarioId} got ${s.uuids.size} of ${count} events within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = {
          count,
          /** @param {number} at */
          resolve: (at) => {
            clearTimeout(timer);
            resolve(at);
          },
        };
        s.waiters.push(waiter);
      });
    },
    close: () =>
      new Promise((ok) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => ok(undefined));
      }),
  };
}
