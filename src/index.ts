// The page entry of sw-outbox: `import { createDispatcher } from 'sw-outbox'`.
export { createDispatcher } from './page/dispatcher.js';
export type { Dispatcher, DispatchResponse, OutboxEvent } from './page/types.js';
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
