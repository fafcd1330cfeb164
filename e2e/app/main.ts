// The page the end-to-end tests drive. It imports the *built* package (dist/), the way
// an app would, and exposes it on window. `?sw=<query>` creates a dispatcher for
// `/sw.js?<query>` (the ready-made worker with those options); `&script=<path>` registers
// another script with that query instead (e.g. `/sw-nosync.js`, see e2e/app/public).
import { createDispatcher, type Dispatcher, type OutboxEventName } from 'sw-outbox';

declare global {
  interface Window {
    swOutbox: { createDispatcher: typeof createDispatcher };
    dispatcher?: Dispatcher;
    /** Every event the dispatcher emitted, in order. */
    outboxEvents: { name: OutboxEventName; detail: unknown }[];
    /** With ?early=<url>: an event dispatched at module start, before any await. */
    early?: { activeWorkerAtDispatch: boolean; controlledAtDispatch: boolean; response?: unknown; error?: string };
  }
}

window.swOutbox = { createDispatcher };
window.outboxEvents = [];
const query = new URLSearchParams(location.search);
const sw = query.get('sw');
if (sw !== null) {
  const script = query.get('script') ?? '/sw.js';
  const dispatcher = createDispatcher({ serviceWorker: `${script}?${sw}`, wakeIntervalMs: Number(query.get('wake') ?? 1000) });
  for (const name of ['delivered', 'retry', 'dead-letter', 'dropped', 'stats', 'degraded', 'requeued', 'discarded'] as const) {
    dispatcher.on(name, (detail) => window.outboxEvents.push({ name, detail }));
  }
  window.dispatcher = dispatcher;
}

const early = query.get('early');
if (early !== null && window.dispatcher) {
  const state = { activeWorkerAtDispatch: false, controlledAtDispatch: !!navigator.serviceWorker.controller };
  window.early = state;
  void navigator.serviceWorker.getRegistration().then((r) => (state.activeWorkerAtDispatch = !!r?.active));
  window.dispatcher.dispatchEvent({ url: early, httpVerb: 'POST', params: { early: true } }).then(
    (response) => (window.early!.response = response),
    (error: Error) => (window.early!.error = error.message),
  );
}
