// installOutbox's options, the public all-optional type with documented defaults, and the
// one reading of `endpoints` in a query string. Shared by the page (its `fallback` option,
// its pagehide beacon) and the worker side (engine/options.ts resolves them). Pure; no
// imports.

export interface OutboxOptions {
  /**
   * Origins or URL prefixes events may be sent to. Anything else is refused at enqueue
   * with `endpoint-not-allowed`, and never contacted.
   * @default any http(s) URL
   * @example ['https://logx.optimizely.com']
   */
  endpoints?: readonly string[];
  /** Exponential backoff with full jitter. */
  backoff?: {
    /** @default 1000 */
    baseMs?: number;
    /** Cap of every computed delay (not of a server's `Retry-After`: see `maxRetryAfterMs`). @default 300000 */
    maxMs?: number;
  };
  /**
   * A collector's `Retry-After` (seconds or HTTP date, on 429/503 and any retryable status)
   * is honoured exactly, whatever `backoff.maxMs`, for its destination only, and no wake-up
   * (Background Sync, `online`, a page's message, `flush()`) sends sooner; a longer one is
   * cut to this. One hour: long enough for a rate-limit window or a planned maintenance
   * (peers cap at 5 min to 1 h), short enough that a misconfigured header (a day) cannot
   * hold events until they expire.
   * @default 3600000 (1 h)
   */
  maxRetryAfterMs?: number;
  /** Events older than this are moved to the dead-letter store as expired. @default 604800000 (7 days) */
  maxAgeMs?: number;
  /** @default 10000 */
  maxQueueSize?: number;
  /** What a full queue does with a new event. @default 'drop-oldest' */
  overflow?: 'drop-oldest' | 'reject-new';
  /** Per request. @default 30000 */
  timeoutMs?: number;
  /**
   * `'off'`: each event is one POST of its own, its body untouched.
   * `'optimizely'`: queued Optimizely events whose context is identical (every top-level
   * field but `visitors`: account, project, revision, client name and version,
   * anonymize_ip, bot filtering, region...) go as one POST whose `visitors` are theirs
   * concatenated in order, as the SDK's own batch processor does.
   * @default 'off'
   */
  batching?: 'off' | 'optimizely';
  /**
   * With batching: most visitors in one request (with ~1 KB events, `batchMaxBytes` is
   * reached near 250 as well). @default 250
   */
  batchMaxVisitors?: number;
  /** With batching: largest merged body, in UTF-8 bytes. @default 262144 */
  batchMaxBytes?: number;
  /**
   * Events given to `dispatchEvent` that are the same event again (same URL and, for
   * Optimizely events, the same event uuids; otherwise the same body) are stored once
   * if the first copy is still queued or was delivered less than this long ago. `0`
   * turns content de-duplication off. (`send()` bodies are never de-duplicated.)
   * @default 86400000 (24 h)
   */
  dedupeWindowMs?: number;
  /** Sent with every request. @default 'omit' */
  credentials?: RequestCredentials;
  /** Dead letters kept; older ones are dropped and counted. @default 1000 */
  maxDeadLetters?: number;
  /** Largest accepted body, in UTF-8 bytes. @default 1048576 */
  maxBodyBytes?: number;
  /** Requests in flight at once (browsers open at most 6 connections per host). @default 6 */
  concurrency?: number;
  /**
   * A request header carrying each event's stable id, so a collector can drop
   * duplicates. Off by default: a custom header needs the collector's CORS to allow it.
   * @default false
   */
  idHeader?: string | false;
}

/**
 * `endpoints` of a query string: repeated or comma-separated, trimmed, blanks skipped;
 * `undefined` when the query has none. The one reading of `endpoints` in a URL: the
 * ready-made worker's, the fallback's and the page's pagehide beacon's.
 */
export function endpointsFromQuery(params: URLSearchParams): string[] | undefined {
  const given = params.getAll('endpoints');
  return given.length
    ? given
        .join()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
}
