// src/sw.ts — your service worker; vite-plugin-pwa bundles it and fills in self.__WB_MANIFEST
import { installOutbox } from 'sw-outbox/worker';
import { cleanupOutdatedCaches, precacheAndRoute } from 'workbox-precaching';

declare const self: ServiceWorkerGlobalScope;

// The app shell (every built html, js and css file): the page loads offline.
cleanupOutdatedCaches();
precacheAndRoute(self.__WB_MANIFEST);

// The plugin's prompt flow: updateSW(true) on the page sends SKIP_WAITING to the waiting worker.
self.addEventListener('message', (event) => {
  if (event.data?.type === 'SKIP_WAITING') void self.skipWaiting();
});

// At the top level, synchronously, like every listener of a service worker.
installOutbox({ endpoints: [import.meta.env.VITE_ANALYTICS_URL] });
