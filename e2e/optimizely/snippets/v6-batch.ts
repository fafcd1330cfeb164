import { createBatchEventProcessor, createInstance, createStaticProjectConfigManager } from '@optimizely/optimizely-sdk';
import { closingDispatcher, createDispatcher } from 'sw-outbox';
import { datafile } from './datafile'; // your project's datafile (JSON text)

export const dispatcher = createDispatcher({
  serviceWorker: '/sw.js?endpoints=https://logx.optimizely.com',
});

export const optimizely = createInstance({
  projectConfigManager: createStaticProjectConfigManager({ datafile }),
  // The SDK batches (10 events or 1 s) and keeps each batch in localStorage until the
  // outbox has accepted it; a batch it sends again is stored once (dedupeWindowMs).
  // The batch it flushes as the page goes: handed over at once, as its sendBeacon would.
  eventProcessor: createBatchEventProcessor({ eventDispatcher: dispatcher, closingEventDispatcher: closingDispatcher(dispatcher) }),
});

addEventListener('pagehide', (event) => {
  if (event.persisted) return; // kept in the back/forward cache: the page may come back
  void optimizely.close();
  void dispatcher.close();
});
