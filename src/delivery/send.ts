// One HTTP attempt for one stored event. Never throws: every outcome is a SendResult.
import type { SendResult } from './policy.js';

export interface SendOptions {
  credentials: RequestCredentials;
  timeoutMs: number;
  /** When set, each request carries the event's stable id in this header. */
  idHeader: string | false;
}

/** A request's body: whole, or in pieces sent in order (a merged batch, never joined). */
export type Body = { body: string; parts?: undefined } | { parts: string[]; body?: undefined };

/** One request's id, URL and body. */
export type Sendable = { id: string; url: string } & Body;

/** Bodies longer than this (UTF-16 units) are sent as a Blob. */
export const BLOB_BODY_CHARS = 32 * 1024;

/** A body as one string (its pieces joined). */
export const wholeBody = (b: Body): string => b.body ?? b.parts.join('');

/**
 * What fetch is given: the string, or, for a long body, a Blob of its UTF-8 bytes. The
 * pieces are encoded one after another into one buffer (never joined into a string), and
 * the Blob is made of that buffer: Chromium's Blob of many strings cost the worker ~5 ms per
 * 100 KB (it encodes each one as it goes), and a fetch() of the bytes themselves got slower
 * under a debugger (which copies byte bodies into its request events), not without one.
 */
function bodyOf(event: Sendable): string | Blob {
  const parts = event.parts ?? [event.body];
  let length = 0;
  for (const part of parts) length += part.length;
  if (length <= BLOB_BODY_CHARS) return parts.length === 1 ? parts[0]! : parts.join('');
  // At most 3 bytes per UTF-16 unit (a surrogate pair, 2 units, is 4 bytes).
  const out = new Uint8Array(new ArrayBuffer(length * 3));
  const encoder = new TextEncoder();
  let at = 0;
  for (const part of parts) at += encoder.encodeInto(part, out.subarray(at)).written;
  return new Blob([out.subarray(0, at)]);
}

export type Sender = (event: Sendable) => Promise<SendResult>;

export function createSender(
  options: SendOptions,
  fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  isOffline: () => boolean = () => typeof navigator !== 'undefined' && navigator.onLine === false,
): Sender {
  return async (event) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.idHeader) headers[options.idHeader] = event.id;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, options.timeoutMs);
    try {
      const response = await fetchImpl(event.url, {
        method: 'POST',
        headers,
        // A large body (a merged batch) as a Blob: Chromium's fetch() spends milliseconds of
        // the worker's thread on a string body of 100 KB, and far less on a Blob of it (the
        // same UTF-8 bytes). A small one stays a string: a Blob costs more than it saves there.
        body: bodyOf(event),
        credentials: options.credentials,
        mode: 'cors',
        // No `cache` option: POSTs are not cached anyway, and Chromium 156 crashes its
        // browser process (SIGTRAP) when a worker is stopped with a `cache: 'no-store'`
        // fetch in flight (seen in e2e/delivery.spec.ts "worker killed repeatedly").
        redirect: 'follow',
        signal: controller.signal,
      });
      const retryAfter = response.headers.get('retry-after');
      // The body is not needed; release the connection.
      response.body?.cancel().catch(() => {});
      return { kind: 'response', status: response.status, retryAfter };
    } catch (error) {
      if (timedOut) return { kind: 'timeout' };
      return { kind: 'network-error', offline: isOffline(), message: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
  };
}
