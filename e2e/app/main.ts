// The page the end-to-end tests drive. It imports the *built* package (dist/), the way
// an app would, and exposes it on window. `?sw=<query>` creates a dispatcher for
// `/sw.js?<query>` (the ready-made worker with those options).
import { createDispatcher, type Dispatcher, type OutboxEventName } from 'sw-outbox';

declare global {
  interface Window {
    swOutbox: { createDispatcher: typeof createDispatcher };
    dispatcher?: Dispatcher;
    /** Every event the dispatcher emitted, in order. */
    outboxEvents: { name: OutboxEventName; detail: unknown }[];
  }
}

window.swOutbox = { createDispatcher };
window.outboxEvents = [];
const query = new URLSearchParams(location.search);
const sw = query.get('sw');
if (sw !== null) {
  const dispatcher = createDispatcher({ serviceWorker: `/sw.js?${sw}`, wakeIntervalMs: Number(query.get('wake') ?? 1000) });
  for (const name of ['delivered', 'retry', 'dead-letter', 'dropped', 'stats'] as const) {
    dispatcher.on(name, (detail) => window.outboxEvents.push({ name, detail }));
  }
  window.dispatcher = dispatcher;
}
