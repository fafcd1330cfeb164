// A service worker whose script throws while it is evaluated: registration is refused.
// Used by e2e/fallback.spec.ts.
throw new Error('e2e: this worker script refuses to run');
