// The page entry of sw-outbox: `import { createDispatcher } from 'sw-outbox'`.
export {
  createDispatcher,
  closingDispatcher,
  type ClosingDispatcher,
  type Dispatcher,
  type DispatcherOptions,
  type DispatchResponse,
  type OutboxEvent,
} from './page/dispatcher.js';
export type { OutboxOptions } from './outbox-options.js';
export { OutboxError, type OutboxErrorCode } from './errors.js';
export type {
  Stats,
  StorageUsage,
  OutboxMode,
  OutboxEvents,
  OutboxEventName,
  DeliveredDetail,
  RetryDetail,
  DeadLetterDetail,
  DroppedDetail,
  DegradedDetail,
  RequeuedDetail,
  DiscardedDetail,
  DeadLetter,
  DeadLetterPage,
  DeadLettersQuery,
  RequeueResult,
  DiscardResult,
} from './protocol.js';
