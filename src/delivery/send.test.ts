// The sender: what one attempt hands to fetch, and how its outcome is read.
import { describe, expect, it } from 'vitest';
import { BLOB_BODY_CHARS, createSender } from './send.js';

const options = { credentials: 'omit' as const, timeoutMs: 1000, idHeader: false as const };

function recording(status = 200) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(null, { status });
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
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

  it('sends a body longer than BLOB_BODY_CHARS as a Blob of exactly its UTF-8 bytes, content type unchanged', async () => {
    const { calls, fetchImpl } = recording();
    const send = createSender(options, fetchImpl, () => false);
    const body = `{"visitors":[${Array.from({ length: BLOB_BODY_CHARS / 4 }, (_, i) => `"ü✓-${i}"`).join(',')}]}`;
    expect(body.length).toBeGreaterThan(BLOB_BODY_CHARS);
    await send({ id: 'e1', url: 'https://c.example/v1/events', body });
    const sent = calls[0]!.init.body;
    expect(sent).toBeInstanceOf(Blob);
    expect(new Uint8Array(await (sent as Blob).arrayBuffer())).toEqual(new TextEncoder().encode(body));
    expect((sent as Blob).type).toBe('');
    expect(calls[0]!.init.headers).toEqual({ 'content-type': 'application/json' });
  });

  it('a body in pieces (a merged batch): a Blob of the pieces in order when long, else the pieces joined', async () => {
    const { calls, fetchImpl } = recording();
    const send = createSender(options, fetchImpl, () => false);
    // One, two, three and four UTF-8 bytes per character (the last a surrogate pair).
    const long = ['{"visitors":[', ...Array.from({ length: BLOB_BODY_CHARS / 2 }, (_, i) => (i % 2 ? ',' : `"aü✓😀${i}"`)), ']}'];
    await send({ id: 'e1', url: 'https://c.example/v1/events', parts: long });
    expect(calls[0]!.init.body).toBeInstanceOf(Blob);
    expect(new Uint8Array(await (calls[0]!.init.body as Blob).arrayBuffer())).toEqual(new TextEncoder().encode(long.join('')));
    await send({ id: 'e2', url: 'https://c.example/v1/events', parts: ['{"visitors":[', '1', ',', '2', ']}'] });
    expect(calls[1]!.init.body).toBe('{"visitors":[1,2]}');
  });

  it('a body of exactly BLOB_BODY_CHARS stays a string', async () => {
    const { calls, fetchImpl } = recording();
    const send = createSender(options, fetchImpl, () => false);
    await send({ id: 'e1', url: 'https://c.example/v1/events', body: 'x'.repeat(BLOB_BODY_CHARS) });
    expect(typeof calls[0]!.init.body).toBe('string');
  });
});
