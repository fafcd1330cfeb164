// The sender: what one attempt hands to fetch, and how its outcome is read.
import { describe, expect, it } from 'vitest';
import { LONG_BODY_CHARS, createFormChooser, createSender } from './send.js';

const options = { credentials: 'omit' as const, timeoutMs: 1000, idHeader: false as const };

function recording(status = 200) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(null, { status });
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

/** The bytes a fetch body carries (a Blob or bytes). */
async function bytesOf(body: BodyInit | null | undefined): Promise<Uint8Array> {
  if (body instanceof Blob) return new Uint8Array(await body.arrayBuffer());
  if (body instanceof Uint8Array) return new Uint8Array(body);
  throw new Error(`not bytes: ${typeof body}`);
}

/**
 * The first index at which two byte arrays differ (-1: equal). A plain loop: deep equality
 * of arrays of 100,000+ bytes takes seconds on a loaded machine.
 */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

describe('createSender', () => {
  it('POSTs a small body as the string it is, JSON content type, credentials as configured', async () => {
    const { calls, fetchImpl } = recording(204);
    const send = createSender(options, fetchImpl, () => false);
    const body = '{"a":"ünïcødé ✓"}';
    expect(await send({ id: 'e1', url: 'https://c.example/v1/events', body })).toEqual({ kind: 'response', status: 204, retryAfter: null });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.init.method).toBe('POST');
    expect(calls[0]!.init.body).toBe(body);
    expect(calls[0]!.init.headers).toEqual({ 'content-type': 'application/json' });
    expect(calls[0]!.init.credentials).toBe('omit');
  });

  it('sends a body longer than LONG_BODY_CHARS as exactly its UTF-8 bytes, in either form, content type unchanged', async () => {
    const { calls, fetchImpl } = recording();
    const send = createSender(options, fetchImpl, () => false);
    const body = `{"visitors":[${Array.from({ length: LONG_BODY_CHARS / 4 }, (_, i) => `"ü✓-${i}"`).join(',')}]}`;
    expect(body.length).toBeGreaterThan(LONG_BODY_CHARS);
    // The chooser tries each form twice at first: bytes, Blob, bytes, Blob.
    for (let i = 0; i < 4; i++) await send({ id: `e${i}`, url: 'https://c.example/v1/events', body });
    expect(
      calls.map((c) => (c.init.body instanceof Blob ? 'blob' : c.init.body instanceof Uint8Array ? 'bytes' : typeof c.init.body)),
    ).toEqual(['bytes', 'blob', 'bytes', 'blob']);
    for (const call of calls) {
      expect(firstDifference(await bytesOf(call.init.body), new TextEncoder().encode(body))).toBe(-1);
      expect(call.init.headers).toEqual({ 'content-type': 'application/json' });
    }
    expect((calls[1]!.init.body as Blob).type).toBe('');
  });

  it('a body in pieces (a merged batch): its pieces encoded in order when long, else the pieces joined', async () => {
    const { calls, fetchImpl } = recording();
    const send = createSender(options, fetchImpl, () => false);
    // One, two, three and four UTF-8 bytes per character (the last a surrogate pair).
    const long = ['{"visitors":[', ...Array.from({ length: LONG_BODY_CHARS / 2 }, (_, i) => (i % 2 ? ',' : `"aü✓😀${i}"`)), ']}'];
    await send({ id: 'e1', url: 'https://c.example/v1/events', parts: long });
    await send({ id: 'e2', url: 'https://c.example/v1/events', parts: long });
    expect(calls[0]!.init.body).toBeInstanceOf(Uint8Array);
    expect(calls[1]!.init.body).toBeInstanceOf(Blob);
    const want = new TextEncoder().encode(long.join(''));
    for (const call of calls) expect(firstDifference(await bytesOf(call.init.body), want)).toBe(-1);
    await send({ id: 'e3', url: 'https://c.example/v1/events', parts: ['{"visitors":[', '1', ',', '2', ']}'] });
    expect(calls[2]!.init.body).toBe('{"visitors":[1,2]}');
  });

  it('hands long bodies over in the form whose hand-over costs less, measured on the injected clock', async () => {
    let now = 0;
    let perKb = { bytes: 1, blob: 3 };
    const forms: string[] = [];
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      const form = init.body instanceof Blob ? 'blob' : 'bytes';
      forms.push(form);
      now += perKb[form] * 64; // a 64 KB body
      return new Response(null, { status: 200 });
    }) as unknown as typeof fetch;
    const send = createSender(
      options,
      fetchImpl,
      () => false,
      () => now,
      createFormChooser(8),
    );
    const body = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 40; i++) await send({ id: `e${i}`, url: 'https://c.example/v1/events', body });
    // Two of each first, then the cheaper one, the other every 8th long body.
    expect(forms.slice(0, 4)).toEqual(['bytes', 'blob', 'bytes', 'blob']);
    expect(forms.slice(4)).toEqual(Array.from({ length: 36 }, (_, i) => ((i + 5) % 8 === 0 ? 'blob' : 'bytes')));
    // The Blob gets cheaper (a debugger attached, say): the explorations see it, and it takes over.
    perKb = { bytes: 4, blob: 1 };
    forms.length = 0;
    for (let i = 0; i < 40; i++) await send({ id: `f${i}`, url: 'https://c.example/v1/events', body });
    // (Picks 65 to 80: the bytes only at the explorations, 72 and 80.)
    expect(forms.slice(-16)).toEqual(Array.from({ length: 16 }, (_, i) => ((i + 65) % 8 === 0 ? 'bytes' : 'blob')));
  });

  it('a body of exactly LONG_BODY_CHARS stays a string', async () => {
    const { calls, fetchImpl } = recording();
    const send = createSender(options, fetchImpl, () => false);
    await send({ id: 'e1', url: 'https://c.example/v1/events', body: 'x'.repeat(LONG_BODY_CHARS) });
    expect(typeof calls[0]!.init.body).toBe('string');
  });
});

describe('createFormChooser', () => {
  it('compares forms per KB, whatever the sizes of the bodies measured', () => {
    const forms = createFormChooser(1000);
    // Bytes: 1 ms for 64 KB, then 16 ms for 1 MB (both 1/64 ms per KB). Blob: 2 ms for 64 KB.
    forms.record(forms.pick(), 1, 64 * 1024);
    forms.record(forms.pick(), 2, 64 * 1024);
    forms.record(forms.pick(), 16, 1024 * 1024);
    forms.record(forms.pick(), 2, 64 * 1024);
    expect(forms.costs()).toEqual({ bytes: 1 / 64, blob: 2 / 64 });
    expect(forms.pick()).toBe('bytes');
  });

  it('a clock that went backwards counts as free, never as a negative cost', () => {
    const forms = createFormChooser(1000, 1);
    forms.record('blob', -5, 64 * 1024);
    expect(forms.costs()).toEqual({ bytes: undefined, blob: 0 });
  });
});
