// Input checks shared by the page (before anything is posted) and the worker (which
// trusts nothing that arrives by postMessage). Pure: no DOM, no worker globals.
import { OutboxError, describe } from './errors.js';

/** Bodies above this are refused (`body-too-large`) unless configured otherwise. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Parses an absolute http(s) URL or throws `invalid-url`. */
export function parseHttpUrl(url: unknown, what = 'url'): URL {
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw new OutboxError('invalid-url', `${what} must be an absolute http(s) URL string, got ${describe(url)}`);
  }
  const text = String(url);
  let parsed: URL;
  try {
    // No base: relative URLs are refused rather than resolved against whichever
    // document or worker happens to run this.
    parsed = new URL(text);
  } catch (cause) {
    throw new OutboxError('invalid-url', `${what} must be an absolute http(s) URL, got ${describe(text)}`, { cause });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new OutboxError('invalid-url', `${what} must use http: or https:, got ${describe(parsed.protocol)} in ${describe(text)}`);
  }
  return parsed;
}

/**
 * Does `url` match one of `endpoints`? An entry that is a bare origin
 * (`https://logx.optimizely.com` or with a trailing `/`) matches any path on that origin;
 * an entry with a path is a prefix of the full URL. `undefined` allows any http(s) URL.
 */
export function isAllowedEndpoint(url: URL, endpoints: readonly URL[] | undefined): boolean {
  if (!endpoints) return true;
  return endpoints.some((entry) =>
    entry.pathname === '/' && !entry.search ? entry.origin === url.origin : url.href.startsWith(entry.href),
  );
}

/** UTF-8 length of a string without allocating when it is clearly small. */
export function utf8Length(text: string): number {
  // A loop, not TextEncoder: no copy of the text (batching measures every queued body).
  // JSON.stringify escapes lone surrogates, so a high one is always half of a pair here.
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c < 0xdc00) {
      // A surrogate pair: 4 bytes for its 2 units.
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * `JSON.stringify(params)`, refusing what JSON would silently lose or cannot encode:
 * functions and symbols (dropped by JSON), BigInt and cycles (thrown by JSON).
 * `undefined` members are dropped exactly as JSON.stringify drops them, as the
 * Optimizely SDK's own dispatcher does. On the page's hot path: stringify runs without a
 * replacer (V8's fast path; a replacer calls back into JS for every value), then a plain
 * walk looks for what it dropped.
 */
export function toJson(params: unknown, what = 'params'): string {
  if (typeof params !== 'object' || params === null) {
    throw new OutboxError('invalid-params', `${what} must be a JSON object or array, got ${describe(params)}`);
  }
  let body: string;
  try {
    body = JSON.stringify(params);
  } catch (cause) {
    throw new OutboxError('invalid-params', `${what} cannot be serialised as JSON: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
  }
  // After stringify, which has refused cycles.
  const bad = unrepresentable(params);
  if (bad) {
    throw new OutboxError(
      'invalid-params',
      `member ${JSON.stringify(bad[0])} of ${what} is ${describe(bad[1])}, which JSON cannot represent`,
    );
  }
  return body;
}

/**
 * The first member [key, value] of `value` that is a function or a symbol, at any depth.
 * Arrays by index (for-in is several times slower); the key made only when found.
 */
function unrepresentable(value: object): [string, unknown] | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const x: unknown = value[i];
      const found = typeof x === 'object' ? x && unrepresentable(x) : bad(x) && ([String(i), x] as [string, unknown]);
      if (found) return found;
    }
    return undefined;
  }
  for (const k in value) {
    const x = (value as Record<string, unknown>)[k];
    const found = typeof x === 'object' ? x && unrepresentable(x) : bad(x) && ([k, x] as [string, unknown]);
    if (found) return found;
  }
  return undefined;
}

const bad = (x: unknown): boolean => typeof x === 'function' || typeof x === 'symbol';

export function checkBodySize(body: string, maxBytes: number, what = 'body'): void {
  if (body.length > maxBytes || (body.length * 3 > maxBytes && utf8Length(body) > maxBytes)) {
    throw new OutboxError('body-too-large', `${what} is ${utf8Length(body)} bytes as JSON, over the limit of ${maxBytes}`);
  }
}

/**
 * An Optimizely event's `httpVerb`: absent or "POST" (any case). A GET beacon would carry
 * its data in the URL, which this library neither stores nor replays.
 */
export function checkVerb(verb: unknown): void {
  if (verb !== undefined && (typeof verb !== 'string' || verb.toUpperCase() !== 'POST')) {
    throw new OutboxError('invalid-verb', `event.httpVerb must be "POST", got ${describe(verb)}`);
  }
}

/** Throws `invalid-option`, naming the option, what it must be and what it was. */
export function invalidOption(field: string, expected: string, value: unknown): never {
  throw new OutboxError('invalid-option', `${field} must be ${expected}, got ${describe(value)}`);
}

/**
 * The dispatcher's `rewrite` option as [prefix, replacement] pairs, longest prefix first;
 * replacements resolved against `base` (the page's URL), each an http(s) URL. Throws
 * `invalid-option`. One resolution for both sides: the page (createDispatcher's check,
 * and the pagehide copies) and the worker (which resolves the enqueue message's again).
 */
export function resolveRewrites(rewrite: unknown, base: unknown): [string, string][] {
  const pairs: [string, string][] = [];
  if (rewrite !== undefined) {
    if (typeof rewrite !== 'object' || !rewrite || Array.isArray(rewrite))
      invalidOption('rewrite', 'an object {urlPrefix: replacement}', rewrite);
    for (const from in rewrite as Record<string, unknown>) {
      const to = (rewrite as Record<string, unknown>)[from];
      let href = '';
      try {
        href = new URL(to as string, typeof base === 'string' ? base : undefined).href;
      } catch {}
      if (!(to && typeof to === 'string' && /^https?:/.test(href)))
        invalidOption(`rewrite[${describe(from)}]`, 'an http(s) URL or a path', to);
      // `new URL('https://a.example')` adds a "/" the value did not have.
      pairs.push([from, href.endsWith('/') && !(to as string).endsWith('/') ? href.slice(0, -1) : href]);
    }
    pairs.sort((a, b) => b[0].length - a[0].length);
  }
  return pairs;
}

/** `url` with the first (longest) matching prefix replaced. */
export function rewriteUrl(url: string, rewrites: readonly [string, string][]): string {
  for (const [from, to] of rewrites) if (url.startsWith(from)) return to + url.slice(from.length);
  return url;
}
