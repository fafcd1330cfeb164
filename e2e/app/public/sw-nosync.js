// A service worker without Background Sync, as in Firefox and Safari: the ready-made
// worker (/sw.js) imported into a scope where SyncManager and registration.sync are
// gone. Options pass through: inside the imported script, self.location is this
// worker's URL, query string included. Used by e2e/fallback.spec.ts.
delete self.SyncManager;
delete ServiceWorkerRegistration.prototype.sync;
if ('sync' in ServiceWorkerRegistration.prototype) {
  Object.defineProperty(ServiceWorkerRegistration.prototype, 'sync', { configurable: true, get: () => undefined });
}

// The test asks this worker what it sees (the outbox ignores messages that are not its own).
self.addEventListener('message', (event) => {
  if (event.data?.type !== 'e2e/probe') return;
  event.ports[0]?.postMessage({
    syncManager: 'SyncManager' in self,
    registrationSync: self.registration.sync !== undefined,
    search: self.location.search,
  });
});

importScripts(`/sw.js${self.location.search}`);
