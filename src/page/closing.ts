// closingDispatcher: the dispatcher for the batch the Optimizely SDK v6 flushes as the page
// goes. It is createDispatcher's dispatchEvent with its third, internal argument `closing`
// set (see enqueue in dispatcher.ts): the message goes at once, with a keepalive copy where
// no service worker holds the events.
import type { DispatchResponse, Dispatcher, OutboxEvent } from './types.js';

/** An Optimizely SDK v6 `EventDispatcher`: what `closingDispatcher` returns. */
export interface ClosingDispatcher {
  dispatchEvent(event: OutboxEvent): Promise<DispatchResponse>;
}

/**
 * For the Optimizely SDK v6 batch event processor's `closingEventDispatcher`, used for the
 * batch it flushes as the page goes (`pagehide`, `close()`). The SDK's default is its
 * sendBeacon dispatcher, which it leaves out once you pass your own `eventDispatcher`:
 * this one takes that batch as `dispatcher` does an event dispatched during `pagehide`:
 * posted to the worker at once, not batched with others, with a keepalive copy (within
 * the 64 KB budget, to allowed endpoints only) where no service worker holds the events
 * yet (a first visit, the fallback). It resolves `{statusCode: 202}` once committed, as
 * `dispatchEvent` does: a batch the page did not live to see acknowledged stays in the
 * SDK's event store, and its re-send is stored once (`dedupeWindowMs`).
 * @example createBatchEventProcessor({ eventDispatcher: dispatcher, closingEventDispatcher: closingDispatcher(dispatcher) })
 */
export function closingDispatcher(dispatcher: Dispatcher): ClosingDispatcher {
  const dispatch = dispatcher.dispatchEvent as (event: OutboxEvent, callback: undefined, closing: boolean) => Promise<DispatchResponse>;
  return { dispatchEvent: (event) => dispatch(event, undefined, true) };
}
