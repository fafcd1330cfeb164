// One error class for everything the library refuses. `code` is stable (match on it);
// `message` names the field and the value that were wrong. Across postMessage only
// `{code, message}` travel, and the page rebuilds an OutboxError from them.

export type OutboxErrorCode =
  | 'invalid-event'
  | 'invalid-url'
  | 'invalid-verb'
  | 'invalid-params'
  | 'body-too-large'
  | 'endpoint-not-allowed'
  | 'invalid-option'
  | 'queue-full'
  | 'quota-exceeded'
  | 'storage-error'
  | 'worker-unavailable'
  | 'protocol-mismatch'
  | 'invalid-message'
  | 'invalid-argument'
  | 'closed';

export class OutboxError extends Error {
  override readonly name = 'OutboxError';
  readonly code: OutboxErrorCode;

  constructor(code: OutboxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A short, safe rendering of a bad value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
