// @ts-check
// A local collector whose own request log is the ground truth of the end-to-end tests
// (and the demo's collector). Fault injection per collector and per request:
//   setMode({kind: 'up'})                                  200 to every POST
//   setMode({kind: 'status', status: 503, retryAfter: '2'}) that status to every POST
//   setMode({kind: 'down'})                                refuse connections (socket closed)
//   setMode({kind: 'slow', ms: 200})                       answer 200 after a delay
//   setMode({kind: 'hang'})                                never answer
//   setMode({kind: 'reset'})                               destroy the connection mid-request
//   script([{status: 503}, {status: 503}])                 the next POSTs get these, in order
import { createServer } from 'node:http';

/**
 * @typedef {{kind: 'up'} | {kind: 'down'} | {kind: 'hang'} | {kind: 'reset'}
 *   | {kind: 'slow', ms: number} | {kind: 'status', status: number, retryAfter?: string}} Mode
 * @typedef {{status?: number, retryAfter?: string, delayMs?: number, hang?: boolean, reset?: boolean}} Reply
 * @typedef {{at: number, method: string, path: string, headers: import('node:http').IncomingHttpHeaders,
 *   body: string, status: number | 'hang' | 'reset', cookie: string | undefined}} LoggedRequest
 */

/** @param {{host?: string, port?: number}} [options] */
export async function startCollector(options = {}) {
  const host = options.host ?? '127.0.0.1';
  /** @type {Mode} */
  let mode = { kind: 'up' };
  /** @type {Reply[]} */
  let scripted = [];
  /** @type {LoggedRequest[]} */
  const log = [];
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  /** @type {Set<import('node:http').ServerResponse>} */
  const hanging = new Set();

  const server = createServer((req, res) => {
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
      res.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'content-type',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      /** @type {Reply} */
      const reply = scripted.shift() ?? fromMode(mode);
      /** @type {LoggedRequest} */
      const entry = {
        at: Date.now(),
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        status: reply.hang ? 'hang' : reply.reset ? 'reset' : (reply.status ?? 200),
        cookie: req.headers.cookie,
      };
      log.push(entry);
      if (reply.reset) {
        req.socket.destroy();
        return;
      }
      if (reply.hang) {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      const send = () => {
        /** @type {Record<string, string>} */
        const headers = { ...cors, 'content-type': 'text/plain' };
        if (reply.retryAfter !== undefined) headers['retry-after'] = reply.retryAfter;
        res.writeHead(reply.status ?? 200, headers);
        res.end('ok');
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
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

  return {
    port,
    origin: `http://${host}:${port}`,
    /** The collecting endpoint. */
    url: `http://${host}:${port}/v1/events`,
    /** Every POST received, in order of arrival (OPTIONS preflights are not logged). */
    log,
    /** @param {Mode} next */
    async setMode(next) {
      if (next.kind === 'down') await stopListening();
      else if (!listening) {
        await listen(port);
        listening = true;
      }
      mode = next;
      if (next.kind !== 'hang') for (const res of hanging) res.destroy();
    },
    /** @param {Reply[]} replies */
    script(replies) {
      scripted = [...replies];
    },
    /** Bodies of the POSTs answered 2xx. */
    delivered() {
      return log.filter((r) => typeof r.status === 'number' && r.status >= 200 && r.status < 300).map((r) => r.body);
    },
    reset() {
      log.length = 0;
      scripted = [];
      mode = { kind: 'up' };
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
      return { reset: true };
    default:
      return { status: 200 };
  }
}

/** @typedef {Awaited<ReturnType<typeof startCollector>>} Collector */
