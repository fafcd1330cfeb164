// The ready-made service worker, for apps that have none. Register it with its options
// in the query string, e.g.
//   createDispatcher({ serviceWorker: '/sw.js?endpoints=https://logx.optimizely.com' })
// Invalid options make the script throw, so the registration fails loudly.
import { installOutbox } from './outbox.js';
import { optionsFromQuery } from '../src/engine/options.js';

declare const self: ServiceWorkerGlobalScope;

installOutbox(optionsFromQuery(self.location.search));

// Take over at once: this worker does nothing but deliver events, so there is no
// page-visible behaviour that an immediate takeover could break.
self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
