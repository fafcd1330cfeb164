// The page entry of sw-outbox: `import { createDispatcher } from 'sw-outbox'`.
export { createDispatcher, type Dispatcher, type DispatchResponse, type OutboxEvent } from './page/dispatcher.js';
export { closingDispatcher, type ClosingDispatcher } from './page/closing.js';
export type { DispatcherOptions } from './page/options.js';
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
