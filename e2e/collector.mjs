// @ts-check
// The one test collector: its own request log is the ground truth of the end-to-end tests,
// the demo's collector and the pack test's; its counts are the benchmark's. Fault
// injection per collector and per request:
//   setMode({kind: 'up'})                                  200 to every POST
//   setMode({kind: 'status', status: 503, retryAfter: '2'}) that status to every POST
//   setMode({kind: 'down'})                                refuse connections (server closed)
//   setMode({kind: 'refuse'})                              per request: reset the socket as soon
//                                                          as the request arrives, no response
//                                                          (a listening server cannot refuse a
//                                                          single request; this is the closest)
//   setMode({kind: 'slow', ms: 200})                       answer 200 after a delay
//   setMode({kind: 'hang'})                                never answer
//   setMode({kind: 'reset'})                               reset the connection mid-response: the
//                                                          request is read, a partial status line
//                                                          and headers go out, then a TCP RST (the
//                                                          client sees a network error)
//   setMode({kind: 'reset', after: 'headers', status: 200}) full headers with that status and part
//                                                          of the body, then a TCP RST (the client
//                                                          has the status; its body read fails)
//   setMode({kind: 'mix', seed: 7, weights?: {...}})       a seeded random choice per request among
//                                                          all of the above (see MIX_DEFAULT_WEIGHTS);
//                                                          the same seed gives the same sequence
//   script([{status: 503}, {status: 503}])                 the next POSTs get these, in order
//
// Scenarios (the benchmark's; any test may use them): a POST to /s/<id>/<mode>/… counts
// for scenario <id> (`scenarioUrl(id, mode)`); mode `hang` never answers it, whatever the
// collector's mode. Every POST answered 2xx is counted by the events it carries (their
// uuids: visitors[].snapshots[].events[].uuid, so one batched request counts for all of
// its events) in its scenario (`_` outside /s/): `counts(id)`, `waitFor(id, n, ms)`.
// `hold(id)` keeps the scenario's POSTs unread (not counted) until `release(id)`.
// `startCollector({log: false})` keeps no log at all (the benchmark's 100,000 events:
// counts only, no bodies kept).
//
// Each logged request says what it got (`status`: a number when a status line was sent
// in full, else 'hang' | 'reset' | 'refused'), which fault produced it (`fault`), when
// the response was finished (`answeredAt`), and whether the client went away before the
// response was finished (`aborted`: the client timed out, was killed, went offline).
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { uuidsOf } from './events.js';

/**
 * @typedef {'ok' | 's500' | 's502' | 's503' | 'r429' | 'r503date' | 'hang' | 'reset' | 'resetHeaders' | 'slow' | 'refuse'} MixChoice
 * @typedef {Partial<Record<MixChoice, number>>} MixWeights
 * @typedef {{kind: 'up'} | {kind: 'down'} | {kind: 'hang'} | {kind: 'refuse'}
 *   | {kind: 'reset', after?: 'status-line' | 'headers', status?: number}
 *   | {kind: 'slow', ms: number} | {kind: 'status', status: number, retryAfter?: string}
 *   | {kind: 'mix', seed: number, weights?: MixWeights, slowMs?: [number, number]}} Mode
 * @typedef {{status?: number, retryAfter?: string, retryAfterDateInMs?: number, delayMs?: number, hang?: boolean,
 *   reset?: boolean | 'headers', refuse?: boolean, fault?: string}} Reply
 *   retryAfterDateInMs: send `Retry-After` as an HTTP date that many ms after the answer.
 * @typedef {{at: number, method: string, path: string, headers: import('node:http').IncomingHttpHeaders,
 *   body: string, status: number | 'hang' | 'reset' | 'refused', cookie: string | undefined,
 *   fault?: string, answeredAt?: number, aborted?: boolean}} LoggedRequest
 * @typedef {{requests: number, preflights: number, events: number, duplicates: number, badBodies: number,
 *   uuids: Set<string>, firstAt: number | undefined, lastAt: number | undefined, held?: (() => void)[],
 *   waiters: {count: number, resolve: (at: number) => void}[]}} Scenario
 *   firstAt / lastAt: performance.now() of the first and latest counted POST.
 */

/** Default weights of the mix (relative; a choice left out of `weights` keeps its default). */
export const MIX_DEFAULT_WEIGHTS = Object.freeze({
  ok: 45, // 200
  s500: 4,
  s502: 4,
  s503: 4,
  r429: 4, // 429, Retry-After: 1 (seconds)
  r503date: 3, // 503, Retry-After: an HTTP date 1–2 s ahead
  hang: 4, // never answer (the client's timeout aborts)
  reset: 5, // partial status line, then TCP RST
  resetHeaders: 4, // 200 headers and part of the body, then TCP RST
  slow: 12, // 200 after a delay drawn from slowMs
  refuse: 5, // TCP RST as soon as the request arrives
});

/**
 * mulberry32: a small, fast, deterministic PRNG. The same seed gives the same sequence.
 * @param {number} seed @returns {() => number} uniform in [0, 1)
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The mix as a pure sequence: the n-th call gives the n-th request's reply.
 * @param {number} seed @param {MixWeights} [weights] @param {[number, number]} [slowMs]
 * @returns {() => Reply & {fault: MixChoice}}
 */
export function mixSequence(seed, weights = {}, slowMs = [100, 2500]) {
  const random = mulberry32(seed);
  /** @type {[MixChoice, number][]} */
  const table = /** @type {[MixChoice, number][]} */ (Object.entries({ ...MIX_DEFAULT_WEIGHTS, ...weights })).filter(([, w]) => w > 0);
  const total = table.reduce((sum, [, w]) => sum + w, 0);
  if (!(total > 0)) throw new Error('collector: mix weights must have a positive total');
  return () => {
    let x = random() * total;
    let choice = table[table.length - 1]?.[0] ?? 'ok';
    for (const [name, w] of table) {
      if (x < w) {
        choice = name;
        break;
      }
      x -= w;
    }
    // Always draw the second number, so the sequence of choices does not depend on them.
    const extra = random();
    switch (choice) {
      case 's500':
        return { fault: choice, status: 500 };
      case 's502':
        return { fault: choice, status: 502 };
      case 's503':
        return { fault: choice, status: 503 };
      case 'r429':
        return { fault: choice, status: 429, retryAfter: '1' };
      case 'r503date':
        // The date is computed when the answer goes out, not when it was drawn.
        return { fault: choice, status: 503, retryAfterDateInMs: 1000 + Math.round(extra * 1000) };
      case 'hang':
        return { fault: choice, hang: true };
      case 'reset':
        return { fault: choice, reset: true };
      case 'resetHeaders':
        return { fault: choice, reset: 'headers', status: 200 };
      case 'slow':
        return { fault: choice, status: 200, delayMs: Math.round(slowMs[0] + extra * (slowMs[1] - slowMs[0])) };
      case 'refuse':
        return { fault: choice, refuse: true };
      default:
        return { fault: 'ok', status: 200 };
    }
  };
}

/**
 * @param {{host?: string, port?: number, log?: boolean, keepAliveMs?: number}} [options]
 *   log: false keeps no request log (counts only); keepAliveMs: how long an idle
 *   connection stays open (Node's default, 5 s, unless given).
 */
export async function startCollector(options = {}) {
  const host = options.host ?? '127.0.0.1';
  const keepLog = options.log ?? true;
  /** @type {Map<string, Scenario>} */
  const scenarios = new Map();
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
  /** @type {Mode} */
  let mode = { kind: 'up' };
  /** @type {(() => Reply) | undefined} */
  let mix;
  /** @type {Reply[]} */
  let scripted = [];
  /** @type {LoggedRequest[]} */
  const log = [];
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  /** @type {Set<import('node:http').ServerResponse>} */
  const hanging = new Set();
  /** POSTs received whose response is neither finished nor abandoned. */
  let open = 0;

  const server = createServer((req, res) => {
    // ['', 's', id, mode, ...]
    const parts = (req.url ?? '/').split('/', 4);
    const inScenario = parts[1] === 's' && !!parts[2];
    const s = scenario(inScenario ? (parts[2] ?? '_') : '_');
    const origin = req.headers.origin;
    const cors = {
      'access-control-allow-origin': origin ?? '*',
      'access-control-allow-credentials': origin ? 'true' : 'false',
      vary: 'origin',
      // Retry-After is not a CORS-safelisted response header: a cross-origin worker
      // cannot read it unless the collector exposes it.
      'access-control-expose-headers': 'retry-after',
    };
    if (req.method === 'OPTIONS') {
      s.preflights++;
      res.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'content-type',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    // A closed gate holds the request unread (its events are counted once it opens).
    if (s.held) s.held.push(() => receive(req, res, s, inScenario && parts[3] === 'hang', cors));
    else receive(req, res, s, inScenario && parts[3] === 'hang', cors);
  });
  /**
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   * @param {Scenario} s @param {boolean} hangs @param {Record<string, string>} cors
   */
  function receive(req, res, s, hangs, cors) {
    /** @type {Reply} */
    const reply = hangs ? { hang: true } : (scripted.shift() ?? (mode.kind === 'mix' && mix ? mix() : fromMode(mode)));
    const socket = req.socket;
    if (reply.refuse) {
      if (keepLog)
        log.push({
          at: Date.now(),
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: '',
          status: 'refused',
          cookie: req.headers.cookie,
          fault: reply.fault ?? 'refuse',
          aborted: true,
        });
      resetSocket(socket);
      return;
    }
    open++;
    let settled = false;
    /** @type {LoggedRequest | undefined} */
    let entry;
    const settle = (/** @type {boolean} */ finished) => {
      if (settled) return;
      settled = true;
      open--;
      if (entry) {
        if (finished) entry.answeredAt = Date.now();
        else entry.aborted = true;
      }
    };
    res.on('finish', () => settle(true));
    res.on('close', () => settle(false));
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const resetKind = reply.reset === 'headers' ? 'headers' : reply.reset ? 'status-line' : undefined;
      entry = {
        at: Date.now(),
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        status: reply.hang ? 'hang' : resetKind === 'status-line' ? 'reset' : (reply.status ?? 200),
        cookie: req.headers.cookie,
      };
      if (reply.fault) entry.fault = reply.fault;
      else if (reply.hang) entry.fault = 'hang';
      else if (resetKind) entry.fault = resetKind === 'headers' ? 'resetHeaders' : 'reset';
      else if (reply.delayMs) entry.fault = 'slow';
      if (keepLog) log.push(entry);
      if (settled) entry.aborted = true; // the client left while sending
      if (resetKind === 'status-line') {
        // Mid-response: part of a head that never completes, then a reset. (A FIN here
        // would let a lenient client take the truncated head as a response.)
        socket.write(`HTTP/1.1 ${reply.status ?? 200} OK\r\ncontent-type: text/pl`, () => setTimeout(() => resetSocket(socket), 20));
        entry.aborted = true;
        return;
      }
      if (reply.hang) {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      const send = () => {
        if (res.destroyed || res.writableEnded) return;
        /** @type {Record<string, string>} */
        const headers = { ...cors, 'content-type': 'text/plain' };
        if (reply.retryAfter !== undefined) headers['retry-after'] = reply.retryAfter;
        else if (reply.retryAfterDateInMs !== undefined)
          headers['retry-after'] = new Date(Date.now() + reply.retryAfterDateInMs).toUTCString();
        if (resetKind === 'headers') {
          // Mid-response: the whole head and part of the body, then a reset.
          headers['content-length'] = '64';
          res.writeHead(reply.status ?? 200, headers);
          res.flushHeaders();
          res.write('partial', () => setTimeout(() => resetSocket(socket), 50));
          return;
        }
        res.writeHead(reply.status ?? 200, headers);
        res.end('ok');
        const status = reply.status ?? 200;
        if (status >= 200 && status < 300) count(s, body);
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  }
  if (options.keepAliveMs !== undefined) server.keepAliveTimeout = options.keepAliveMs;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  /** @param {number} port */
  const listen = (port) =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(undefined);
      });
    });
  await listen(options.port ?? 0);
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('collector: no address');
  const port = address.port;
  let listening = true;

  const stopListening = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise((resolve) => server.close(() => resolve(undefined)));
    for (const s of sockets) s.destroy();
    await closed;
  };

  const origin = `http://${host}:${port}`;
  return {
    port,
    origin,
    /** The collecting endpoint. */
    url: `${origin}/v1/events`,
    /** The URL events of scenario `id` are sent to; mode `hang`: never answered. @param {string} id @param {'ok' | 'hang'} [mode] */
    scenarioUrl: (id, mode = 'ok') => `${origin}/s/${id}/${mode}/v1/events`,
    /** What scenario `id` received (POSTs answered 2xx, their events). @param {string} id */
    counts(id) {
      const { requests, preflights, events, uuids, duplicates, badBodies, firstAt, lastAt } = scenario(id);
      return { requests, preflights, events, unique: uuids.size, duplicates, badBodies, firstAt, lastAt };
    },
    /** Holds scenario `id`'s POSTs unread from now on, until `release`. @param {string} id */
    hold(id) {
      scenario(id).held ??= [];
    },
    /** POSTs held by `hold` so far. @param {string} id */
    holding: (/** @type {string} */ id) => scenario(id).held?.length ?? 0,
    /** Reads and answers the held POSTs, and every later one at once. Returns performance.now(). @param {string} id */
    release(id) {
      const s = scenario(id);
      const held = s.held ?? [];
      s.held = undefined;
      const at = performance.now();
      for (const receive of held) receive();
      return at;
    },
    /**
     * Resolves with the time (performance.now()) at which scenario `id` had `count`
     * distinct events; rejects after `timeoutMs`.
     * @param {string} id @param {number} count @param {number} timeoutMs @returns {Promise<number>}
     */
    waitFor(id, count, timeoutMs) {
      const s = scenario(id);
      if (s.uuids.size >= count) return Promise.resolve(s.lastAt ?? performance.now());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          s.waiters = s.waiters.filter((w) => w !== waiter);
          reject(new Error(`collector: scenario ${id} got ${s.uuids.size} of ${count} events within ${timeoutMs} ms`));
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
    /** Every POST received, in order of arrival (OPTIONS preflights are not logged). */
    log,
    /** @param {Mode} next */
    async setMode(next) {
      if (next.kind === 'mix') mix = mixSequence(next.seed, next.weights, next.slowMs);
      if (next.kind === 'down') await stopListening();
      else if (!listening) {
        await listen(port);
        listening = true;
      }
      mode = next;
      if (next.kind !== 'hang' && next.kind !== 'mix') for (const res of hanging) res.destroy();
    },
    /** @param {Reply[]} replies */
    script(replies) {
      scripted = [...replies];
    },
    /** Bodies of the POSTs answered 2xx (a status line sent in full, even if the body was then cut). */
    delivered() {
      return log.filter((r) => typeof r.status === 'number' && r.status >= 200 && r.status < 300).map((r) => r.body);
    },
    /** How many POSTs are open now: received, response neither finished nor abandoned. */
    pending() {
      return open;
    },
    reset() {
      log.length = 0;
      scenarios.clear();
      scripted = [];
      mode = { kind: 'up' };
      mix = undefined;
      for (const res of hanging) res.destroy();
      if (!listening) return listen(port).then(() => void (listening = true));
      return Promise.resolve();
    },
    async close() {
      for (const res of hanging) res.destroy();
      await stopListening();
    },
  };
}

/** Counts a POST answered 2xx in its scenario, by the event uuids of its body. @param {Scenario} s @param {string} body */
function count(s, body) {
  const now = performance.now();
  s.requests++;
  s.firstAt ??= now;
  s.lastAt = now;
  let uuids;
  try {
    uuids = uuidsOf(JSON.parse(body));
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
}

/** @param {import('node:net').Socket} socket */
function resetSocket(socket) {
  if (socket.destroyed) return;
  // A real TCP RST where Node has it (≥ 16.17 / 18.3); a plain close otherwise.
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/** @param {Mode} mode @returns {Reply} */
function fromMode(mode) {
  switch (mode.kind) {
    case 'status':
      return { status: mode.status, retryAfter: mode.retryAfter };
    case 'slow':
      return { status: 200, delayMs: mode.ms };
    case 'hang':
      return { hang: true };
    case 'reset':
      return mode.after === 'headers' ? { reset: 'headers', status: mode.status ?? 200 } : { reset: true, status: mode.status };
    case 'refuse':
      return { refuse: true };
    default:
      return { status: 200 };
  }
}

/** @typedef {Awaited<ReturnType<typeof startCollector>>} Collector */
