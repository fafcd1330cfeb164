// The service-worker entry of sw-outbox: `import { installOutbox } from 'sw-outbox/worker'`.
export { installOutbox, SYNC_TAG, type OutboxHandle } from './outbox';
export { optionsFromQuery, type OutboxOptions } from './options';
export { OutboxError, type OutboxErrorCode } from '../src/errors';
export type { Stats } from '../src/protocol';
