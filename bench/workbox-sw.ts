// The comparison peer: a service worker that queues failed beacons with
// workbox-background-sync's Queue, the way its docs show. Its default onSync is
// Queue.replayRequests: one request at a time, in order, on the `sync` event.
import { Queue } from 'workbox-background-sync';
import { EVENT_BYTES, makeParams } from '../e2e/events.js';

declare const self: ServiceWorkerGlobalScope;

const queue = new Queue('bench');

self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event) => {
  const port = event.ports[0];
  const data = event.data as { type: string; n: number; prefix: string; url: string };
  const work = (async () => {
    if (data.type === 'push') {
      const params = Array.from({ length: data.n }, (_, i) => makeParams(`${data.prefix}-${i}`, `user-${i % 7}`, { bytes: EVENT_BYTES }));
      const t0 = performance.now();
      // "pushed at once": every request handed to the queue in the same task.
      await Promise.all(
        params.map((p) =>
          queue.pushRequest({
            request: new Request(data.url, {
              method: 'POST',
              body: JSON.stringify(p),
              headers: { 'content-type': 'application/json' },
              credentials: 'omit',
            }),
          }),
        ),
      );
      const ms = performance.now() - t0;
      return { ms, size: await queue.size() };
    }
    if (data.type === 'size') return { size: await queue.size() };
    throw new Error(`unknown message ${data.type}`);
  })();
  event.waitUntil(
    work.then(
      (reply) => port?.postMessage(reply),
      (error: Error) => port?.postMessage({ error: error?.message ?? String(error) }),
    ),
  );
});
