// The demo's service worker: a Workbox `injectManifest` worker that precaches the app
// shell, plus the outbox. This is the pattern for a PWA that already has a service
// worker: keep what you have, add one `installOutbox()` call at the top level.
//
// demo/build.mjs bundles this file into one classic script, injects the precache
// manifest (the list of built files with their revisions) where `self.__WB_MANIFEST` is,
// and writes this version's id where `__DEMO_SW_VERSION__` is.
import { cleanupOutdatedCaches, type PrecacheEntry, precacheAndRoute } from 'workbox-precaching';
import { installOutbox, optionsFromQuery } from 'sw-outbox/worker';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | PrecacheEntry)[] };
/** `sw-outbox-demo@` and 12 hex digits of the built script's hash (demo/build.mjs). */
declare const __DEMO_SW_VERSION__: string;

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

// A new version waits: no skipWaiting() at install. Taking over at once would run the
// open tabs' old page code on the new precache, whose cleanup deletes the old files
// (a lazy chunk of the old page would 404). It takes over when the page asks, through
// workbox-window's `messageSkipWaiting()` (the page's "Reload to update" banner), and
// the page reloads on `controlling`. Queued events do not care either way: they are in
// IndexedDB, which both versions share, and the old worker delivers them until then.
self.addEventListener('message', (event) => {
  const type: unknown = event.data?.type;
  if (type === 'SKIP_WAITING') event.waitUntil(self.skipWaiting());
  // workbox-window's `messageSW({type: 'GET_VERSION'})`: the page shows which version runs.
  else if (type === 'GET_VERSION') event.ports[0]?.postMessage(__DEMO_SW_VERSION__);
});
// The first version takes the page it was installed from (nothing to replace: no
// waiting), so it works offline from the first visit.
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
