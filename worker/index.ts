// The service-worker entry of sw-outbox: `import { installOutbox } from 'sw-outbox/worker'`.
export { installOutbox, SYNC_TAG, type OutboxHandle } from './outbox.js';
export { optionsFromQuery, type OutboxOptions } from '../src/engine/options.js';
export { OutboxError, type OutboxErrorCode } from '../src/errors.js';
export type {
  Stats,
  StorageUsage,
  DeadLetter,
  DeadLetterPage,
  DeadLettersQuery,
  RequeueResult,
  DiscardResult,
} from '../src/protocol.js';
