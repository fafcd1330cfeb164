// installOutbox's options resolved: one defaults object, one normalise-and-validate step
// (the public all-optional type is in ../outbox-options.ts, shared with the page).
// Internals see a complete shape.
import { OutboxError, describe } from '../errors.js';
import { DEFAULT_MAX_RETRY_AFTER_MS } from '../delivery/policy.js';
import { DEFAULT_MAX_BODY_BYTES, parseHttpUrl } from '../validate.js';
import { type OutboxOptions, endpointsFromQuery } from '../outbox-options.js';

export { type OutboxOptions, endpointsFromQuery };

export interface ResolvedOptions {
  endpoints: URL[] | undefined;
  backoff: { baseMs: number; maxMs: number };
  maxRetryAfterMs: number;
  maxAgeMs: number;
  maxQueueSize: number;
  overflow: 'drop-oldest' | 'reject-new';
  timeoutMs: number;
  batching: 'off' | 'optimizely';
  batchMaxVisitors: number;
  batchMaxBytes: number;
  dedupeWindowMs: number;
  credentials: RequestCredentials;
  maxDeadLetters: number;
  maxBodyBytes: number;
  concurrency: number;
  idHeader: string | false;
}

export const DEFAULTS: Omit<ResolvedOptions, 'endpoints'> = {
  backoff: { baseMs: 1000, maxMs: 300_000 },
  maxRetryAfterMs: DEFAULT_MAX_RETRY_AFTER_MS,
  maxAgeMs: 7 * 24 * 3600_000,
  maxQueueSize: 10_000,
  overflow: 'drop-oldest',
  timeoutMs: 30_000,
  batching: 'off',
  batchMaxVisitors: 250,
  batchMaxBytes: 256 * 1024,
  dedupeWindowMs: 24 * 3600_000,
  credentials: 'omit',
  maxDeadLetters: 1000,
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  concurrency: 6,
  idHeader: false,
};

const KNOWN = new Set([
  'endpoints',
  'backoff',
  'maxRetryAfterMs',
  'maxAgeMs',
  'maxQueueSize',
  'overflow',
  'timeoutMs',
  'batching',
  'batchMaxVisitors',
  'batchMaxBytes',
  'dedupeWindowMs',
  'credentials',
  'maxDeadLetters',
  'maxBodyBytes',
  'concurrency',
  'idHeader',
]);

function bad(field: string, expected: string, value: unknown): never {
  throw new OutboxError('invalid-option', `installOutbox: ${field} must be ${expected}, got ${describe(value)}`);
}

function integer(field: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) bad(field, `an integer ≥ ${min}`, value);
  return value;
}

function oneOf<T extends string>(field: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) bad(field, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
  return value as T;
}

export function resolveOptions(input: unknown = {}): ResolvedOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) bad('options', 'an object', input);
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) {
      throw new OutboxError('invalid-option', `installOutbox: unknown option ${describe(key)}`);
    }
  }

  let endpoints: URL[] | undefined;
  if (o.endpoints !== undefined) {
    if (!Array.isArray(o.endpoints) || o.endpoints.length === 0) bad('endpoints', 'a non-empty array of URLs', o.endpoints);
    endpoints = (o.endpoints as unknown[]).map((e, i) => {
      try {
        return parseHttpUrl(e, `endpoints[${i}]`);
      } catch (cause) {
        throw new OutboxError('invalid-option', `installOutbox: ${(cause as Error).message}`, { cause });
      }
    });
  }

  const backoffIn = o.backoff === undefined ? {} : o.backoff;
  if (typeof backoffIn !== 'object' || backoffIn === null || Array.isArray(backoffIn))
    bad('backoff', 'an object {baseMs, maxMs}', backoffIn);
  const b = backoffIn as Record<string, unknown>;
  const baseMs = integer('backoff.baseMs', b.baseMs, DEFAULTS.backoff.baseMs, 1);
  const maxMs = integer('backoff.maxMs', b.maxMs, Math.max(DEFAULTS.backoff.maxMs, baseMs), 1);
  if (maxMs < baseMs) bad('backoff.maxMs', `≥ backoff.baseMs (${baseMs})`, maxMs);

  const idHeader = o.idHeader ?? DEFAULTS.idHeader;
  if (idHeader !== false && (typeof idHeader !== 'string' || !/^[A-Za-z0-9-]+$/.test(idHeader))) {
    bad('idHeader', 'false or a header name', idHeader);
  }

  return {
    endpoints,
    backoff: { baseMs, maxMs },
    maxRetryAfterMs: integer('maxRetryAfterMs', o.maxRetryAfterMs, DEFAULTS.maxRetryAfterMs, 0),
    maxAgeMs: integer('maxAgeMs', o.maxAgeMs, DEFAULTS.maxAgeMs, 1),
    maxQueueSize: integer('maxQueueSize', o.maxQueueSize, DEFAULTS.maxQueueSize, 1),
    overflow: oneOf('overflow', o.overflow, DEFAULTS.overflow, ['drop-oldest', 'reject-new']),
    timeoutMs: integer('timeoutMs', o.timeoutMs, DEFAULTS.timeoutMs, 1),
    batching: oneOf('batching', o.batching, DEFAULTS.batching, ['off', 'optimizely']),
    batchMaxVisitors: integer('batchMaxVisitors', o.batchMaxVisitors, DEFAULTS.batchMaxVisitors, 1),
    batchMaxBytes: integer('batchMaxBytes', o.batchMaxBytes, DEFAULTS.batchMaxBytes, 2),
    dedupeWindowMs: integer('dedupeWindowMs', o.dedupeWindowMs, DEFAULTS.dedupeWindowMs, 0),
    credentials: oneOf('credentials', o.credentials, DEFAULTS.credentials, ['omit', 'same-origin', 'include']),
    maxDeadLetters: integer('maxDeadLetters', o.maxDeadLetters, DEFAULTS.maxDeadLetters, 0),
    maxBodyBytes: integer('maxBodyBytes', o.maxBodyBytes, DEFAULTS.maxBodyBytes, 2),
    concurrency: integer('concurrency', o.concurrency, DEFAULTS.concurrency, 1),
    idHeader: idHeader as string | false,
  };
}

/**
 * Options from a query string, for the ready-made worker:
 * `sw.js?endpoints=https://a.example,https://b.example&baseMs=500&maxMs=60000&overflow=reject-new`.
 * `baseMs`/`maxMs` (or `backoff.baseMs`/`backoff.maxMs`) fill `backoff`; numbers are parsed;
 * `endpoints` may repeat or be comma-separated.
 */
export function optionsFromQuery(search: string): OutboxOptions {
  const params = new URLSearchParams(search);
  const out: Record<string, unknown> = {};
  const backoff: Record<string, unknown> = {};
  const num = (v: string) => (/^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v);
  for (const [key, value] of params) {
    if (key === 'endpoints') out.endpoints = endpointsFromQuery(params);
    else if (key === 'baseMs' || key === 'backoff.baseMs') backoff.baseMs = num(value);
    else if (key === 'maxMs' || key === 'backoff.maxMs') backoff.maxMs = num(value);
    else if (key === 'idHeader') out.idHeader = value === 'false' || value === '' ? false : value;
    else if (key === 'v')
      continue; // free for cache-busting a new worker version
    else out[key] = num(value);
  }
  if (Object.keys(backoff).length) out.backoff = backoff;
  return out as OutboxOptions;
}

/** A key optionsFromQuery reads as an option (`v` aside: it is always ignored). (A function, not a Set: no code at module level for bundles that only need endpointsFromQuery.) */
const isQueryKey = (key: string): boolean => KNOWN.has(key) || /^(backoff\.)?(baseMs|maxMs)$/.test(key);

/** The fallback's options as read from a service worker URL (see fallbackOptionsFromUrl). */
export interface UrlOptions {
  /** Options for resolveOptions: each one valid; those that were not are left out. */
  options: OutboxOptions;
  /** One line for `console.warn` when the query was ambiguous or an option was left out. */
  warning?: string;
}

/**
 * The options of the page-side fallback when the dispatcher was given none (`fallback`
 * absent): those in the service worker URL's query string, read only where that query is
 * unambiguously the ready-made worker's options. Only that worker reads options from its
 * URL; an app's own worker URL carries the app's query (`/sw.js?v=3`, `?opts=...`), and
 * no setting of the app's own may make every event fail.
 *
 * - Every key an option key (optionsFromQuery's: the option names, `baseMs`/`maxMs`,
 *   `backoff.*`; `v` is always ignored): they are the options. One with an invalid value
 *   (`maxMs=abc`) is left out, with the reason in `warning`: the fallback then runs on
 *   that option's default rather than refusing every event.
 * - Some key unknown (`?v=3&build=abc`, `?opts=...`): the app's own query, not options:
 *   nothing is taken from it. Where it mixes option keys and unknown ones it is ambiguous,
 *   and `warning` names what was ignored; a query of unknown keys only warns nothing.
 * - `endpoints` is the exception to both, because ignoring an allow-list widens where
 *   events may go: wherever it appears it is taken, and an invalid one (`endpoints=`,
 *   `endpoints=ftp://x`) throws `invalid-option` (the fallback then refuses events,
 *   naming it, and the page's pagehide beacon sends nothing) rather than allowing any URL.
 *
 * An explicit `fallback: {...}` never comes here: resolveOptions checks it strictly.
 */
export function fallbackOptionsFromUrl(href: string | URL, base?: string | URL): UrlOptions {
  const url = new URL(href, base);
  const keys = [...new Set(url.searchParams.keys())].filter((key) => key !== 'v');
  const unknown = keys.filter((key) => !isQueryKey(key));
  const notes: string[] = [];
  let options: Record<string, unknown>;
  if (unknown.length) {
    // Option keys beside unknown ones: ambiguous, so said once (unknown keys alone are
    // simply the app's, and nothing is taken from them).
    if (keys.length > unknown.length) {
      const list = (of: string[]) => of.map((key) => describe(key)).join(', ');
      const ignored = keys.filter((key) => key !== 'endpoints');
      notes.push(
        `the query of ${url.pathname} is not the ready-made worker's options (${list(unknown)} ${unknown.length > 1 ? 'are not options' : 'is not an option'}): ` +
          `the fallback ignores ${list(ignored)}${keys.includes('endpoints') ? ' but keeps endpoints' : ''}`,
      );
    }
    options = {};
    const endpoints = endpointsFromQuery(url.searchParams);
    if (endpoints) options.endpoints = endpoints;
  } else {
    options = optionsFromQuery(url.search) as Record<string, unknown>;
    for (const key of Object.keys(options)) {
      if (key === 'endpoints') continue;
      try {
        resolveOptions({ [key]: options[key] });
      } catch (error) {
        delete options[key];
        notes.push(`the fallback ignores ${key} from the query of ${url.pathname} and uses its default: ${(error as Error).message}`);
      }
    }
  }
  if (options.endpoints !== undefined) {
    try {
      resolveOptions({ endpoints: options.endpoints });
    } catch (cause) {
      throw new OutboxError('invalid-option', `${(cause as Error).message} (in the query of ${url.pathname})`, { cause });
    }
  }
  return notes.length ? { options, warning: `sw-outbox: ${notes.join('; ')}` } : { options };
}
