// The dispatcher's options: the public type with its defaults, and the one check at the
// boundary (readOptions) that turns them into the complete, valid `Settings` every other
// part of the page reads. Settings of ours that cannot work are one `invalid-option` error
// from createDispatcher, not every event refused later: a script URL that is no URL, a bad
// `rewrite` entry. (An explicit `fallback` is checked where it is used, strictly, by the
// fallback: this entry cannot afford installOutbox's checks.)
import { OutboxError, type OutboxErrorCode } from '../errors.js';
import type { OutboxOptions } from '../outbox-options.js';
import { invalidOption, resolveRewrites } from '../validate.js';
import type { Workbox } from 'workbox-window';

export interface DispatcherOptions {
  /**
   * The service worker that runs `installOutbox`: a script URL (registered for you, as
   * workbox-window's `Workbox` would), a `Workbox` instance, or a `ServiceWorkerRegistration`.
   */
  serviceWorker: string | URL | Workbox | ServiceWorkerRegistration;
  /** Registration scope when `serviceWorker` is a URL. @default the script's folder */
  scope?: string;
  /** How long to wait for the worker's commit before posting again. @default 10000 */
  ackTimeoutMs?: number;
  /** Posts of one batch before the worker counts as unavailable. @default 3 */
  maxPostAttempts?: number;
  /** Largest body, UTF-8 bytes of `JSON.stringify(params)`. @default 1048576 */
  maxBodyBytes?: number;
  /** While the worker reports a backlog, ping it this often (revives a stopped worker). @default 5000 */
  wakeIntervalMs?: number;
  /**
   * Endpoint rewriting, for a first-party proxy: each key is a URL prefix matched against
   * the event's URL, its value what replaces it (an absolute URL, or a path on this
   * page's origin). The body is untouched. Checked here (a bad entry throws
   * `invalid-option` from createDispatcher), applied where events are stored.
   * @example { 'https://logx.optimizely.com/v1/events': '/collect/v1/events' }
   */
  rewrite?: Record<string, string>;
  /**
   * Where no service worker can run (API absent, registration refused or timed out), a
   * page-side outbox with the same store and delivery code takes over (loaded lazily).
   * Its options (`installOutbox`'s, checked strictly: an unknown or invalid one refuses
   * the events with `invalid-option`). By default, those in the `serviceWorker` URL's
   * query string where that query is the ready-made worker's options (every key an
   * option; an app's own worker URL, `/sw.js?v=3`, is not, and is ignored; an option
   * with an invalid value is left out, with a console warning, except `endpoints`: see
   * fallbackOptionsFromUrl). `false`: no fallback, calls reject with `worker-unavailable`.
   */
  fallback?: OutboxOptions | false;
  /** How long registration may take before the fallback takes over. @default 10000 */
  registrationTimeoutMs?: number;
  /**
   * When the dispatcher asks the browser to keep this origin's storage (the queue with
   * it) rather than evict it: `'never'` (call `persistStorage()` yourself, at a moment of
   * your choosing), or `'first-event'`: once, as this page's first event is accepted.
   * Chromium and Safari decide silently, by how much the user uses the site (installed,
   * bookmarked, visited often); Firefox asks the user with a prompt at that moment.
   * @default 'never'
   */
  persistStorage?: 'never' | 'first-event';
}

/** Integer options: [name, default, minimum]. */
const INTEGERS = [
  ['ackTimeoutMs', 10_000, 1],
  ['maxPostAttempts', 3, 1],
  ['maxBodyBytes', 1 << 20, 2],
  ['wakeIntervalMs', 5000, 100],
  ['registrationTimeoutMs', 10_000, 1],
] as const;

/** The options after readOptions: every default applied, every value checked. */
export type Settings = Omit<DispatcherOptions, (typeof INTEGERS)[number][0] | 'persistStorage'> &
  Record<(typeof INTEGERS)[number][0], number> & {
    persistStorage: 'never' | 'first-event';
    /** `serviceWorker` resolved against the page, when it is a script URL. */
    swUrl: URL | undefined;
    /** `rewrite` as the worker resolves it (validate.ts), for the pagehide copies. */
    rewrites: [string, string][];
  };

/** Throws the OutboxError the page answers with. */
export const fail = (code: OutboxErrorCode, message: string, cause?: unknown): never => {
  throw new OutboxError(code, message, { cause });
};

export function readOptions(options: DispatcherOptions): Settings {
  if (typeof options !== 'object' || !options) invalidOption('options', 'an object {serviceWorker}', options);
  const { serviceWorker: sw, rewrite, persistStorage = 'never' } = options;
  if (!(sw && (typeof sw === 'string' || typeof sw === 'object'))) {
    invalidOption('serviceWorker', 'a script URL, a Workbox or a ServiceWorkerRegistration', sw);
  }
  let swUrl: URL | undefined;
  try {
    swUrl = typeof sw === 'string' || sw instanceof URL ? new URL(sw, location.href) : undefined;
  } catch {
    invalidOption('serviceWorker', 'a script URL', sw);
  }
  // Resolved here as the worker resolves them, the longest prefix first; the enqueue
  // message still carries `rewrite`, which the worker resolves again. An empty value
  // (`null`, `''`) is no rewriting, as the enqueue message reads it.
  const settings = { ...options, swUrl, persistStorage, rewrites: resolveRewrites(rewrite || undefined, location.href) } as Settings;
  for (const [name, fallback, min] of INTEGERS) {
    const value = options[name] ?? fallback;
    settings[name] = Number.isInteger(value) && value >= min ? value : invalidOption(name, `an integer ≥ ${min}`, value);
  }
  if (persistStorage !== 'never' && persistStorage !== 'first-event')
    invalidOption('persistStorage', '"never" or "first-event"', persistStorage);
  return settings;
}
