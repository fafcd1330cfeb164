// The pagehide beacon: the page is going away with events it answers for (not
// acknowledged yet: a first visit whose worker is still installing; or kept by the
// fallback, whose worker ends with the page). Each goes out now as a keepalive request
// to its (rewritten) URL, within the keepalive budget, if the outbox's endpoints allow
// it, as the SDKs' own last-chance beacons do. It stays queued and may also be delivered
// later from the store: at-least-once.
// The URL is rewritten as the worker rewrites it (validate.ts's resolveRewrites, read
// once by readOptions, and rewriteUrl). Which events go is the dispatcher's call.
import { endpointsFromQuery } from '../outbox-options.js';
import type { WireEvent } from '../protocol.js';
import { rewriteUrl } from '../validate.js';
import type { Settings } from './options.js';

/**
 * What the keepalive copies of one page-hide may carry: browsers allow 64 KiB of
 * keepalive bodies in flight per page (Fetch: "keepalive"); the rest is left to
 * requests of the page's own.
 */
export const KEEPALIVE_BUDGET_BYTES = 60_000;
/** A body counts as its UTF-16 length times this: no UTF-16 code unit is more than 3 UTF-8 bytes. */
export const UTF8_BYTES_PER_UNIT = 3;

/**
 * Where a last-chance copy may go: only where every allow-list that applies allows it: the
 * explicit `fallback`'s endpoints, and those of the worker URL's query (the ready-made
 * worker's, and the default fallback's: read with endpointsFromQuery as both read them, so
 * the same URL gives the same list). Each entry is read as the outbox reads it (an
 * absolute URL; an origin allows its every path, a longer URL is a prefix); a list the
 * outbox would refuse (`endpoints=http:`, `endpoints=`, not an array) allows nothing here,
 * rather than any URL. (An entry of another scheme, `ftp://x`, which the outbox refuses
 * too, can only match event URLs of that scheme, which fetch does not send anywhere.)
 */
export function allowLists({ fallback, swUrl }: Pick<Settings, 'fallback' | 'swUrl'>): string[][] {
  const lists: string[][] = [];
  for (const list of [fallback ? fallback.endpoints : undefined, swUrl && endpointsFromQuery(swUrl.searchParams)]) {
    try {
      if (list) lists.push(list.map((e) => new URL(e).href));
    } catch {
      lists.push([]);
    }
  }
  return lists;
}

/**
 * The beacon of one page-hide: a function that sends a keepalive copy of an event if it
 * is allowed and fits the budget. A page back from the back/forward cache makes a new one.
 */
export function createBeacon(settings: Settings): (event: WireEvent) => void {
  let budget = KEEPALIVE_BUDGET_BYTES;
  // Worked out as the page goes, by the first copy.
  let allowed: string[][] | undefined;
  return ({ url: original, body }) => {
    allowed ??= allowLists(settings);
    const url = rewriteUrl(original, settings.rewrites);
    if (allowed.every((list) => list.some((e) => url.startsWith(e))) && (budget -= body.length * UTF8_BYTES_PER_UNIT) > 0) {
      fetch(url, {
        method: 'POST',
        // Cross-origin, a JSON content type needs a CORS preflight, and Chromium drops
        // a keepalive request that needs one once the page is gone: this last-chance
        // copy goes as text (the body is the same JSON).
        headers: { 'content-type': url.startsWith(location.origin) ? 'application/json' : 'text/plain;charset=UTF-8' },
        body,
        keepalive: true,
        credentials: settings.fallback ? settings.fallback.credentials : undefined,
      }).catch(() => {});
    }
  };
}
