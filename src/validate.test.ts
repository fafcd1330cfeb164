import { describe, expect, it } from 'vitest';
import { OutboxError, type OutboxErrorCode } from './errors.js';
import { DEFAULT_MAX_BODY_BYTES, isAllowedEndpoint, parseHttpUrl, serializeParams, utf8Length, validateEvent } from './validate.js';

/** Runs `fn`, expecting an OutboxError with `code` whose message mentions every `needle`. */
function expectOutboxError(fn: () => unknown, code: OutboxErrorCode, ...needles: string[]): OutboxError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(OutboxError);
  const error = caught as OutboxError;
  expect(error.code).toBe(code);
  expect(error.name).toBe('OutboxError');
  for (const needle of needles) expect(error.message).toContain(needle);
  return error;
}

describe('parseHttpUrl', () => {
  it('accepts absolute http and https URLs and returns a URL', () => {
    const a = parseHttpUrl('https://logx.optimizely.com/v1/events');
    expect(a).toBeInstanceOf(URL);
    expect(a.href).toBe('https://logx.optimizely.com/v1/events');
    expect(parseHttpUrl('http://localhost:8080/collect?x=1').href).toBe('http://localhost:8080/collect?x=1');
    expect(parseHttpUrl(new URL('https://a.example/p')).href).toBe('https://a.example/p');
  });

  it.each([
    ['relative path', '/v1/events'],
    ['protocol-relative', '//a.example/x'],
    ['empty string', ''],
    ['bare word', 'collector'],
  ])('refuses a %s with invalid-url naming the field', (_label, url) => {
    expectOutboxError(() => parseHttpUrl(url, 'event.url'), 'invalid-url', 'event.url', 'absolute');
  });

  it.each([
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/plain,hi'],
    ['ftp:', 'ftp://files.example/x'],
    ['file:', 'file:///etc/passwd'],
  ])('refuses the %s scheme', (scheme, url) => {
    expectOutboxError(() => parseHttpUrl(url, 'endpoints[0]'), 'invalid-url', 'endpoints[0]', scheme);
  });

  it('refuses non-string values and names the default field "url"', () => {
    expectOutboxError(() => parseHttpUrl(42), 'invalid-url', 'url', '42');
    expectOutboxError(() => parseHttpUrl(undefined), 'invalid-url', 'url', 'undefined');
    expectOutboxError(() => parseHttpUrl({ href: 'https://a.example' }), 'invalid-url', 'an object');
  });
});

describe('isAllowedEndpoint', () => {
  const u = (s: string) => new URL(s);

  it('allows any URL when endpoints is undefined', () => {
    expect(isAllowedEndpoint(u('https://anything.example/x'), undefined)).toBe(true);
    expect(isAllowedEndpoint(u('http://127.0.0.1:9/'), undefined)).toBe(true);
  });

  it('an origin entry (with or without trailing slash) allows any path on that origin', () => {
    for (const entry of ['https://logx.optimizely.com', 'https://logx.optimizely.com/']) {
      const endpoints = [u(entry)];
      expect(isAllowedEndpoint(u('https://logx.optimizely.com/v1/events'), endpoints)).toBe(true);
      expect(isAllowedEndpoint(u('https://logx.optimizely.com/'), endpoints)).toBe(true);
      expect(isAllowedEndpoint(u('https://logx.optimizely.com/other?q=1'), endpoints)).toBe(true);
    }
  });

  it('an origin entry refuses a different scheme, port, host or subdomain', () => {
    const endpoints = [u('https://logx.optimizely.com')];
    expect(isAllowedEndpoint(u('http://logx.optimizely.com/v1/events'), endpoints)).toBe(false);
    expect(isAllowedEndpoint(u('https://logx.optimizely.com:8443/v1/events'), endpoints)).toBe(false);
    expect(isAllowedEndpoint(u('https://evil.logx.optimizely.com/v1/events'), endpoints)).toBe(false);
    expect(isAllowedEndpoint(u('https://logx.optimizely.com.evil.example/v1/events'), endpoints)).toBe(false);
    expect(isAllowedEndpoint(u('https://logx.optimizely.com@evil.example/v1/events'), endpoints)).toBe(false);
  });

  it('an explicit default port is the same origin', () => {
    expect(isAllowedEndpoint(u('https://a.example:443/x'), [u('https://a.example')])).toBe(true);
    expect(isAllowedEndpoint(u('https://a.example/x'), [u('https://a.example:443/')])).toBe(true);
  });

  it('an origin entry with a non-default port matches only that port', () => {
    const endpoints = [u('http://localhost:8080')];
    expect(isAllowedEndpoint(u('http://localhost:8080/collect'), endpoints)).toBe(true);
    expect(isAllowedEndpoint(u('http://localhost:8081/collect'), endpoints)).toBe(false);
    expect(isAllowedEndpoint(u('http://localhost/collect'), endpoints)).toBe(false);
  });

  it('an entry with a path is a prefix of the full URL', () => {
    const endpoints = [u('https://collector.example/v1/')];
    expect(isAllowedEndpoint(u('https://collector.example/v1/events'), endpoints)).toBe(true);
    expect(isAllowedEndpoint(u('https://collector.example/v1/'), endpoints)).toBe(true);
    expect(isAllowedEndpoint(u('https://collector.example/v2/events'), endpoints)).toBe(false);
    expect(isAllowedEndpoint(u('https://collector.example/'), endpoints)).toBe(false);
    expect(isAllowedEndpoint(u('https://collector.example:444/v1/events'), endpoints)).toBe(false);
  });

  it('any one matching entry is enough', () => {
    const endpoints = [u('https://a.example/only/'), u('https://b.example')];
    expect(isAllowedEndpoint(u('https://b.example/anything'), endpoints)).toBe(true);
    expect(isAllowedEndpoint(u('https://a.example/only/x'), endpoints)).toBe(true);
    expect(isAllowedEndpoint(u('https://a.example/else'), endpoints)).toBe(false);
    expect(isAllowedEndpoint(u('https://c.example/'), endpoints)).toBe(false);
  });

  it('an empty list allows nothing', () => {
    expect(isAllowedEndpoint(u('https://a.example/'), [])).toBe(false);
  });
});

describe('serializeParams', () => {
  it('is byte-identical to JSON.stringify for a nested object with unicode', () => {
    const params = {
      account_id: '12345',
      anonymize_ip: true,
      revision: '99',
      visitors: [
        {
          visitor_id: 'ü-\u00e9-\u4e2d\u6587-😀',
          attributes: [{ entity_id: '1', key: 'naïve', type: 'custom', value: 'Ω≈ç√' }],
          snapshots: [
            {
              decisions: [],
              events: [{ uuid: 'a', timestamp: 1700000000000, tags: { revenue: 4200, nested: { deep: [1, 2.5, null, 'x'] } } }],
            },
          ],
        },
      ],
      escaped: 'quote " backslash \\ newline \n tab \t control \u0001 lone \ud800',
      skipped: undefined,
      empty: {},
    };
    const body = serializeParams(params, DEFAULT_MAX_BODY_BYTES);
    expect(body).toBe(JSON.stringify(params));
    // And it round-trips (undefined members dropped, like JSON.stringify).
    expect(JSON.parse(body)).not.toHaveProperty('skipped');
    expect(JSON.parse(body).visitors[0].visitor_id).toBe('ü-é-中文-😀');
  });

  it('accepts arrays, also byte-identical', () => {
    const params = [1, 'two', { three: [3] }];
    expect(serializeParams(params, 1000)).toBe('[1,"two",{"three":[3]}]');
  });

  it('refuses a circular structure with invalid-params naming the field', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    const error = expectOutboxError(() => serializeParams(a, DEFAULT_MAX_BODY_BYTES, 'event.params'), 'invalid-params', 'event.params');
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it('refuses a BigInt with invalid-params', () => {
    expectOutboxError(() => serializeParams({ n: 10n }, DEFAULT_MAX_BODY_BYTES), 'invalid-params', 'params');
  });

  it('refuses a function value naming the key', () => {
    expectOutboxError(
      () => serializeParams({ ok: 1, callback: () => 1 }, DEFAULT_MAX_BODY_BYTES),
      'invalid-params',
      'callback',
      'a function',
    );
  });

  it('refuses a symbol value naming the key', () => {
    expectOutboxError(() => serializeParams({ tag: Symbol('x') }, DEFAULT_MAX_BODY_BYTES), 'invalid-params', 'tag', 'a symbol');
  });

  it('refuses a function inside an array (JSON would turn it into null)', () => {
    expectOutboxError(() => serializeParams({ list: [1, () => 2] }, DEFAULT_MAX_BODY_BYTES), 'invalid-params', 'a function');
  });

  it.each([
    ['a string', 'hello', '"hello"'],
    ['a number', 42, '42'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a boolean', true, 'true'],
    ['a function', () => 1, 'a function'],
  ])('refuses %s (not an object) with invalid-params', (_label, value, shown) => {
    expectOutboxError(() => serializeParams(value, DEFAULT_MAX_BODY_BYTES, 'event.params'), 'invalid-params', 'event.params', shown);
  });

  it('accepts a body exactly at the limit and refuses one byte over (ASCII)', () => {
    const params = { s: 'a'.repeat(10) }; // {"s":"aaaaaaaaaa"} = 18 bytes
    expect(JSON.stringify(params)).toHaveLength(18);
    expect(serializeParams(params, 18)).toBe('{"s":"aaaaaaaaaa"}');
    expectOutboxError(() => serializeParams(params, 17), 'body-too-large', 'params', '18 bytes', '17');
  });

  it('counts multibyte characters as UTF-8 bytes, not UTF-16 units', () => {
    const params = { s: 'é'.repeat(10) }; // 18 UTF-16 units, 28 UTF-8 bytes
    expect(JSON.stringify(params)).toHaveLength(18);
    expectOutboxError(() => serializeParams(params, 20, 'event.params'), 'body-too-large', 'event.params', '28 bytes', '20');
    expectOutboxError(() => serializeParams(params, 27), 'body-too-large', '28 bytes');
    expect(serializeParams(params, 28)).toBe(JSON.stringify(params));
  });

  it('counts astral characters (surrogate pairs) as 4 bytes', () => {
    const params = { e: '😀😀' }; // {"e":""} = 8 bytes + 2 × 4
    expect(serializeParams(params, 16)).toBe(JSON.stringify(params));
    expectOutboxError(() => serializeParams(params, 15), 'body-too-large', '16 bytes');
  });

  it('counts multibyte bytes for large bodies too (TextEncoder path)', () => {
    const params = { s: '中'.repeat(2000) }; // 3 bytes each
    const bytes = 8 + 6000;
    expect(new TextEncoder().encode(JSON.stringify(params)).length).toBe(bytes);
    expect(serializeParams(params, bytes)).toBe(JSON.stringify(params));
    expectOutboxError(() => serializeParams(params, bytes - 1), 'body-too-large', `${bytes} bytes`);
    // The UTF-16 length (2008) is far under the limit: the limit really is in bytes.
    expectOutboxError(() => serializeParams(params, 3000), 'body-too-large');
  });
});

describe('utf8Length', () => {
  it.each([
    ['empty', ''],
    ['ASCII', 'abc'],
    ['2-byte', 'é'],
    ['3-byte', '中文'],
    ['4-byte', '😀'],
    ['mixed', 'a😀é中'],
    ['long ASCII', 'x'.repeat(5000)],
    ['long astral', '😀'.repeat(400)],
  ])('matches TextEncoder for %s', (_label, text) => {
    expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length);
  });
});

describe('validateEvent', () => {
  const url = 'https://logx.optimizely.com/v1/events';
  const params = { account_id: '1', visitors: [{ visitor_id: 'v' }] };

  it('returns the normalised URL and the JSON body', () => {
    expect(validateEvent({ url, httpVerb: 'POST', params }, 1000)).toEqual({ url, body: JSON.stringify(params) });
    expect(validateEvent({ url: 'HTTPS://LOGX.optimizely.com/v1/events', httpVerb: 'POST', params }, 1000).url).toBe(url);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'https://a.example'],
    ['an array', [url, 'POST', params]],
  ])('refuses %s as the event with invalid-event', (_label, event) => {
    expectOutboxError(() => validateEvent(event, 1000), 'invalid-event', 'event');
  });

  it('refuses GET with invalid-verb naming httpVerb', () => {
    expectOutboxError(() => validateEvent({ url, httpVerb: 'GET', params }, 1000), 'invalid-verb', 'event.httpVerb', '"GET"');
  });

  it('refuses a non-string verb', () => {
    expectOutboxError(() => validateEvent({ url, httpVerb: 1, params }, 1000), 'invalid-verb', 'event.httpVerb');
    expectOutboxError(() => validateEvent({ url, httpVerb: null, params }, 1000), 'invalid-verb', 'event.httpVerb');
  });

  it('allows an undefined verb and a lowercase "post"', () => {
    expect(validateEvent({ url, params }, 1000).body).toBe(JSON.stringify(params));
    expect(validateEvent({ url, httpVerb: 'post', params }, 1000).body).toBe(JSON.stringify(params));
  });

  it('refuses a bad URL with invalid-url naming event.url', () => {
    expectOutboxError(() => validateEvent({ url: '/v1/events', httpVerb: 'POST', params }, 1000), 'invalid-url', 'event.url');
    expectOutboxError(() => validateEvent({ httpVerb: 'POST', params }, 1000), 'invalid-url', 'event.url');
  });

  it('refuses bad params naming event.params', () => {
    expectOutboxError(() => validateEvent({ url, httpVerb: 'POST' }, 1000), 'invalid-params', 'event.params');
    expectOutboxError(() => validateEvent({ url, httpVerb: 'POST', params: 'x' }, 1000), 'invalid-params', 'event.params');
  });

  it('refuses a body over the limit naming event.params', () => {
    expectOutboxError(() => validateEvent({ url, httpVerb: 'POST', params: { s: 'x'.repeat(100) } }, 50), 'body-too-large', 'event.params');
  });
});
