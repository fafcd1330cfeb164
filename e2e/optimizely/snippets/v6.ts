import { createForwardingEventProcessor, createInstance, createStaticProjectConfigManager } from '@optimizely/optimizely-sdk';
import { createDispatcher } from 'sw-outbox';
import { datafile } from './datafile'; // your project's datafile (JSON text)

export const dispatcher = createDispatcher({
  serviceWorker: '/sw.js?endpoints=https://logx.optimizely.com',
});

export const optimizely = createInstance({
  projectConfigManager: createStaticProjectConfigManager({ datafile }),
  // Each event goes to the outbox (IndexedDB) as it happens; the outbox does the retrying.
  eventProcessor: createForwardingEventProcessor(dispatcher),
});

addEventListener('pagehide', (event) => {
  if (event.persisted) return; // kept in the back/forward cache: the page may come back
  void optimizely.close();
  void dispatcher.close();
});
