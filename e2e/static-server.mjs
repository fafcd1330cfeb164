// @ts-check
// A minimal static file server on 127.0.0.1 for built pages and service workers, with
// optional extra routes (the demo's collector controls).
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * @param {{roots: Record<string, string>, host?: string, port?: number,
 *   headers?: Record<string, string>,
 *   routes?: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean | Promise<boolean>}} options
 *   roots: URL path prefix → folder, e.g. {'/': 'e2e/.app', '/sw.js': 'dist/sw.js'}
 */
export async function startStaticServer(options) {
  const host = options.host ?? '127.0.0.1';
  const entries = Object.entries(options.roots).sort((a, b) => b[0].length - a[0].length);
  const server = createServer(async (req, res) => {
    try {
      if (options.routes && (await options.routes(req, res))) return;
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      for (const [prefix, target] of entries) {
        if (!path.startsWith(prefix)) continue;
        const rest = path.slice(prefix.length);
        let file = statSync(target, { throwIfNoEntry: false })?.isFile() ? target : join(target, normalize(`/${rest}`));
        if (!resolve(file).startsWith(resolve(target))) break;
        if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
        if (!existsSync(file)) continue;
        res.writeHead(200, {
          'content-type': TYPES[/** @type {keyof typeof TYPES} */ (extname(file))] ?? 'application/octet-stream',
          'cache-control': 'no-cache',
          ...options.headers,
        });
        createReadStream(file).pipe(res);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, host, () => ok(undefined));
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('static server: no address');
  return {
    port: address.port,
    origin: `http://${host}:${address.port}`,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok(undefined));
        server.closeAllConnections();
      }),
  };
}
