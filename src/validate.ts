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
  // Every UTF-16 code unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= 1024) {
    let bytes = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) bytes += 1;
      else if (c < 0x800) bytes += 2;
      else if (c >= 0xd800 && c < 0xdc00) {
        // A surrogate pair: 4 bytes for both code units.
        bytes += 4;
        i++;
      } else bytes += 3;
    }
    return bytes;
  }
  return new TextEncoder().encode(text).length;
}

/**
 * `JSON.stringify(params)`, refusing what JSON would silently lose or cannot encode:
 * functions and symbols (dropped by JSON), BigInt and cycles (thrown by JSON).
 * `undefined` members are dropped exactly as JSON.stringify drops them, as the
 * Optimizely SDK's own dispatcher does.
 */
export function serializeParams(params: unknown, maxBytes: number, what = 'params'): string {
  if (typeof params !== 'object' || params === null) {
    throw new OutboxError('invalid-params', `${what} must be a JSON object or array, got ${describe(params)}`);
  }
  let body: string;
  try {
    body = JSON.stringify(params, refuseLossy(what));
  } catch (cause) {
    if (cause instanceof OutboxError) throw cause;
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new OutboxError('invalid-params', `${what} cannot be serialised as JSON: ${detail}`, { cause });
  }
  checkBodySize(body, maxBytes, what);
  return body;
}

export function checkBodySize(body: string, maxBytes: number, what = 'body'): void {
  if (body.length > maxBytes || (body.length * 3 > maxBytes && utf8Length(body) > maxBytes)) {
    throw new OutboxError('body-too-large', `${what} is ${utf8Length(body)} bytes as JSON, over the limit of ${maxBytes}`);
  }
}

function refuseLossy(what: string) {
  return function (this: unknown, key: string, value: unknown): unknown {
    const type = typeof value;
    if (type === 'function' || type === 'symbol') {
      const where = key ? `member ${JSON.stringify(key)} of ${what}` : what;
      throw new OutboxError('invalid-params', `${where} is ${describe(value)}, which JSON cannot represent`);
    }
    return value;
  };
}

export interface EventLike {
  url: string;
  httpVerb?: string;
  params: unknown;
}

/** Checks an Optimizely-shaped `{url, httpVerb, params}` and returns its URL and body. */
export function validateEvent(event: unknown, maxBytes: number): { url: string; body: string } {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new OutboxError('invalid-event', `event must be an object {url, httpVerb, params}, got ${describe(event)}`);
  }
  const { url, httpVerb, params } = event as Record<string, unknown>;
  // Only POST: the outbox delivers a JSON body, and a GET beacon would carry its data in
  // the URL, which this library neither stores nor replays.
  if (httpVerb !== undefined && (typeof httpVerb !== 'string' || httpVerb.toUpperCase() !== 'POST')) {
    throw new OutboxError('invalid-verb', `event.httpVerb must be "POST", got ${describe(httpVerb)}`);
  }
  const parsed = parseHttpUrl(url, 'event.url');
  return { url: parsed.href, body: serializeParams(params, maxBytes, 'event.params') };
}
