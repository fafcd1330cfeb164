import { createInstance } from '@optimizely/optimizely-sdk'; // v4
import { createDispatcher } from 'sw-outbox';
import { datafile } from './datafile'; // your project's datafile (JSON text)

export const dispatcher = createDispatcher({
  serviceWorker: '/sw.js?endpoints=https://logx.optimizely.com',
});

export const optimizely = createInstance({
  datafile,
  eventDispatcher: dispatcher,
  // Hand each event to the outbox (IndexedDB) at once, not after up to a second in memory.
  eventBatchSize: 1,
});

// The SDK closes itself on pagehide, handing what it holds to the dispatcher: close the
// dispatcher after it (this listener is added later, so it runs later).
addEventListener('pagehide', (event) => {
  if (!event.persisted) void dispatcher.close();
});
