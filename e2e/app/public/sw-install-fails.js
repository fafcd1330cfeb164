// A service worker that evaluates but fails its install step: registration succeeds,
// the worker becomes redundant, no worker ever answers. Used by e2e/fallback.spec.ts.
self.addEventListener('install', (event) => event.waitUntil(Promise.reject(new Error('e2e: install refused'))));
