// The Optimizely SDK v6, set up the way an app would, with the outbox as its
// eventDispatcher. Nothing here talks to Optimizely's servers: the datafile is bundled,
// and every event goes to the outbox, which delivers it to the local collector.
import {
  type Client,
  type EventDispatcher,
  type EventDispatcherResponse,
  type LogEvent,
  createForwardingEventProcessor,
  createInstance,
  createStaticProjectConfigManager,
} from '@optimizely/optimizely-sdk';
import type { Dispatcher } from '../src/index';
import { datafile } from './datafile';

export { EVENT_KEY, FLAG_KEY } from './datafile';

/**
 * @param dispatcher the outbox (`createDispatcher(...)`)
 * @param collectorUrl where the demo's events go
 * @param onDispatch sees the outcome of every event the SDK hands over (for the counters)
 */
export function createOptimizely(
  dispatcher: Dispatcher,
  collectorUrl: string,
  onDispatch: (outcome: Promise<EventDispatcherResponse>) => void,
): Client {
  // The SDK addresses every event to https://logx.optimizely.com/v1/events. The demo's
  // collector is local, so this wrapper points each event at it, leaving the body
  // (`params`) untouched. In an app, pass the dispatcher itself:
  //   createForwardingEventProcessor(dispatcher)
  // (This wrapper goes away when sw-outbox has an option to rewrite endpoints.)
  const eventDispatcher: EventDispatcher = {
    dispatchEvent(event: LogEvent) {
      const outcome = dispatcher.dispatchEvent({ ...event, url: collectorUrl });
      onDispatch(outcome);
      return outcome;
    },
  };

  return createInstance({
    // A static datafile: no polling, no request for the datafile.
    projectConfigManager: createStaticProjectConfigManager({ datafile: JSON.stringify(datafile) }),
    // Forwarding, not batching: each event is handed to the outbox (and so to IndexedDB)
    // as soon as it happens. The SDK's batch processor would hold events in memory for up
    // to its flush interval, and a tab closed meanwhile would lose them; the outbox does
    // the retrying, so the SDK need not.
    eventProcessor: createForwardingEventProcessor(eventDispatcher),
    // No odpManager and no vuidManager: both are opt-in in v6, so the SDK makes no
    // requests of its own.
  });
}
