// The demo's service worker: a Workbox `injectManifest` worker that precaches the app
// shell, plus the outbox. This is the pattern for a PWA that already has a service
// worker: keep what you have, add one `installOutbox()` call at the top level.
//
// demo/build.mjs bundles this file into one classic script and injects the precache
// manifest (the list of built files with their revisions) where `self.__WB_MANIFEST` is.
import { cleanupOutdatedCaches, type PrecacheEntry, precacheAndRoute } from 'workbox-precaching';
import { installOutbox, optionsFromQuery } from 'sw-outbox/worker';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | PrecacheEntry)[] };

// The outbox's options come from the registration URL, which the page builds
// (`/sw.js?endpoints=<collector origin>&baseMs=…&maxMs=…`): the collector's port is only
// known when the demo server starts. A fixed app would write `installOutbox({endpoints: […]})`.
// Invalid options throw here, so the registration fails loudly.
installOutbox(optionsFromQuery(self.location.search));

// The app shell: index.html, the bundles, the manifest and the icons, so the page loads
// offline after the first visit. The page's query string only configures the demo, so
// `/?baseMs=250` is the same precached page as `/`.
precacheAndRoute(self.__WB_MANIFEST, { ignoreURLParametersMatching: [/.*/] });
cleanupOutdatedCaches();

// Take over at once. A real app with page-visible changes between versions may prefer to
// wait, or to ask the user ("a new version is available") before calling skipWaiting().
self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
