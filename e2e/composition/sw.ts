// An app's own service worker, built the way Workbox apps build theirs: bundled to one
// classic script (Vite, iife), then `workbox-build` injectManifest fills in
// self.__WB_MANIFEST. The outbox is one call among the app's own routes and listeners.
import { installOutbox } from 'sw-outbox/worker';
import { cleanupOutdatedCaches, precacheAndRoute } from 'workbox-precaching';
import { registerRoute } from 'workbox-routing';
import { StaleWhileRevalidate } from 'workbox-strategies';

declare const self: ServiceWorkerGlobalScope;
/** The test collector's origin, put in at build time (Vite `define`). */
declare const __COLLECTOR_ORIGIN__: string;

// The app's precaching and runtime caching.
cleanupOutdatedCaches();
precacheAndRoute(self.__WB_MANIFEST);
registerRoute(({ url }) => url.pathname.startsWith('/runtime/'), new StaleWhileRevalidate({ cacheName: 'app-runtime' }));

// The app's own messages: Workbox's SKIP_WAITING (sent by workbox-window's
// messageSkipWaiting) and a PING that the app answers on the MessageChannel port.
self.addEventListener('message', (event) => {
  const data = event.data as { type?: unknown; n?: unknown } | null;
  if (data?.type === 'SKIP_WAITING') void self.skipWaiting();
  if (data?.type === 'PING') event.ports[0]?.postMessage({ type: 'PONG', n: data.n });
});

// The outbox: its messages are namespaced (`sw-outbox/…`), its sync tag is `sw-outbox:deliver`.
installOutbox({
  endpoints: [__COLLECTOR_ORIGIN__],
  backoff: { baseMs: 100, maxMs: 1000 },
  timeoutMs: 5000,
});
