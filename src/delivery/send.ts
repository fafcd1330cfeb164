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

/** Bodies longer than this (UTF-16 units) are sent as their UTF-8 bytes (see createFormChooser), shorter ones as strings. */
export const LONG_BODY_CHARS = 32 * 1024;

/** A body as one string (its pieces joined). */
export const wholeBody = (b: Body): string => b.body ?? b.parts.join('');

/** How a long body is handed to fetch(): both are exactly its UTF-8 bytes. */
export type LongBodyForm = 'bytes' | 'blob';

/**
 * Picks the form of each long body: the one whose hand-over (making the body, then the
 * synchronous part of fetch()) has lately cost the worker's thread less per KB. Measured,
 * not assumed, because the cheaper one depends on the browser: Chromium 156 with no debugger
 * takes the bytes themselves ~30 % cheaper (a Blob is first registered with the browser
 * process), and with a debugger attached (DevTools, Playwright) it copies byte bodies into
 * its network events, and the Blob is cheaper. Each form is tried twice at first, then the
 * other one every `exploreEvery`-th long body, so that a change (a debugger attached or
 * gone) is seen. Costs are moving averages (weight `alpha` for the newest sample).
 */
export function createFormChooser(exploreEvery = 16, alpha = 0.25) {
  const cost: Record<LongBodyForm, { perKb: number; samples: number }> = {
    bytes: { perKb: 0, samples: 0 },
    blob: { perKb: 0, samples: 0 },
  };
  let picks = 0;
  const other = (form: LongBodyForm): LongBodyForm => (form === 'bytes' ? 'blob' : 'bytes');
  return {
    pick(): LongBodyForm {
      picks++;
      if (cost.bytes.samples < 2 || cost.blob.samples < 2) return cost.bytes.samples <= cost.blob.samples ? 'bytes' : 'blob';
      const best: LongBodyForm = cost.bytes.perKb <= cost.blob.perKb ? 'bytes' : 'blob';
      return picks % exploreEvery === 0 ? other(best) : best;
    },
    /** A hand-over of `bytes` bytes in `form` took `ms`. */
    record(form: LongBodyForm, ms: number, bytes: number): void {
      const c = cost[form];
      const perKb = Math.max(0, ms) / Math.max(1, bytes / 1024);
      c.perKb = c.samples === 0 ? perKb : c.perKb + (perKb - c.perKb) * alpha;
      c.samples++;
    },
    /** The averages so far, per KB (for tests and diagnostics). */
    costs: (): Record<LongBodyForm, number | undefined> => ({
      bytes: cost.bytes.samples ? cost.bytes.perKb : undefined,
      blob: cost.blob.samples ? cost.blob.perKb : undefined,
    }),
  };
}

export type FormChooser = ReturnType<typeof createFormChooser>;

/** A body's UTF-8 bytes: its pieces encoded one after another into one buffer (never joined into a string). */
function utf8Of(parts: readonly string[], length: number): Uint8Array<ArrayBuffer> {
  // At most 3 bytes per UTF-16 unit (a surrogate pair, 2 units, is 4 bytes).
  const out = new Uint8Array(new ArrayBuffer(length * 3));
  const encoder = new TextEncoder();
  let at = 0;
  for (const part of parts) at += encoder.encodeInto(part, out.subarray(at)).written;
  return out.subarray(0, at);
}

export type Sender = (event: Sendable) => Promise<SendResult>;

export function createSender(
  options: SendOptions,
  fetchImpl: typeof fetch = (input, init) => fetch(input, init),
  isOffline: () => boolean = () => typeof navigator !== 'undefined' && navigator.onLine === false,
  clock: () => number = () => performance.now(),
  forms: FormChooser = createFormChooser(),
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
      const parts = event.parts ?? [event.body];
      let length = 0;
      for (const part of parts) length += part.length;
      // A small body goes as the string it is. A long one (a merged batch) as its UTF-8 bytes,
      // encoded here (Chromium's fetch() spends milliseconds of the worker's thread on a
      // string of 100 KB), handed over in the form that has cost less lately.
      const long = length > LONG_BODY_CHARS ? utf8Of(parts, length) : undefined;
      const form = long && forms.pick();
      const started = clock();
      const pending = fetchImpl(event.url, {
        method: 'POST',
        headers,
        body: long ? (form === 'blob' ? new Blob([long]) : long) : parts.length === 1 ? parts[0]! : parts.join(''),
        credentials: options.credentials,
        mode: 'cors',
        // No `cache` option: POSTs are not cached anyway, and Chromium 156 crashes its
        // browser process (SIGTRAP) when a worker is stopped with a `cache: 'no-store'`
        // fetch in flight (seen in e2e/delivery.spec.ts "worker killed repeatedly").
        redirect: 'follow',
        signal: controller.signal,
      });
      if (long && form) forms.record(form, clock() - started, long.byteLength);
      const response = await pending;
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
