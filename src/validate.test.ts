import { describe, expect, it } from 'vitest';
import { OutboxError, type OutboxErrorCode } from './errors.js';
import { checkBodySize, checkVerb, isAllowedEndpoint, parseHttpUrl, toJson, utf8Length } from './validate.js';

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

describe('toJson (the page serialises each event once)', () => {
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
    const body = toJson(params);
    expect(body).toBe(JSON.stringify(params));
    // And it round-trips (undefined members dropped, like JSON.stringify).
    expect(JSON.parse(body)).not.toHaveProperty('skipped');
    expect(JSON.parse(body).visitors[0].visitor_id).toBe('ü-é-中文-😀');
  });

  it('accepts arrays, also byte-identical', () => {
    const params = [1, 'two', { three: [3] }];
    expect(toJson(params)).toBe('[1,"two",{"three":[3]}]');
  });

  it('refuses a circular structure with invalid-params naming the field', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    const error = expectOutboxError(() => toJson(a, 'event.params'), 'invalid-params', 'event.params');
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it('refuses a BigInt with invalid-params', () => {
    expectOutboxError(() => toJson({ n: 10n }), 'invalid-params', 'params');
  });

  it('refuses a function value naming the key', () => {
    expectOutboxError(() => toJson({ ok: 1, callback: () => 1 }), 'invalid-params', 'callback', 'a function');
  });

  it('refuses a symbol value naming the key', () => {
    expectOutboxError(() => toJson({ tag: Symbol('x') }), 'invalid-params', 'tag', 'a symbol');
  });

  it('refuses a function inside an array (JSON would turn it into null)', () => {
    expectOutboxError(() => toJson({ list: [1, () => 2] }), 'invalid-params', 'a function');
  });

  it.each([
    ['a string', 'hello', '"hello"'],
    ['a number', 42, '42'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a boolean', true, 'true'],
    ['a function', () => 1, 'a function'],
  ])('refuses %s (not an object) with invalid-params', (_label, value, shown) => {
    expectOutboxError(() => toJson(value, 'event.params'), 'invalid-params', 'event.params', shown);
  });
});

describe('checkBodySize (the worker checks each body in UTF-8 bytes)', () => {
  const sized = (params: unknown, max: number, what = 'params') => {
    const body = JSON.stringify(params);
    checkBodySize(body, max, what);
    return body;
  };

  it('accepts a body exactly at the limit and refuses one byte over (ASCII)', () => {
    const params = { s: 'a'.repeat(10) }; // {"s":"aaaaaaaaaa"} = 18 bytes
    expect(JSON.stringify(params)).toHaveLength(18);
    expect(sized(params, 18)).toBe('{"s":"aaaaaaaaaa"}');
    expectOutboxError(() => sized(params, 17), 'body-too-large', 'params', '18 bytes', '17');
  });

  it('counts multibyte characters as UTF-8 bytes, not UTF-16 units', () => {
    const params = { s: 'é'.repeat(10) }; // 18 UTF-16 units, 28 UTF-8 bytes
    expect(JSON.stringify(params)).toHaveLength(18);
    expectOutboxError(() => sized(params, 20, 'event.params'), 'body-too-large', 'event.params', '28 bytes', '20');
    expectOutboxError(() => sized(params, 27), 'body-too-large', '28 bytes');
    expect(sized(params, 28)).toBe(JSON.stringify(params));
  });

  it('counts astral characters (surrogate pairs) as 4 bytes', () => {
    const params = { e: '😀😀' }; // {"e":""} = 8 bytes + 2 × 4
    expect(sized(params, 16)).toBe(JSON.stringify(params));
    expectOutboxError(() => sized(params, 15), 'body-too-large', '16 bytes');
  });

  it('counts multibyte bytes for large bodies too (TextEncoder path)', () => {
    const params = { s: '中'.repeat(2000) }; // 3 bytes each
    const bytes = 8 + 6000;
    expect(new TextEncoder().encode(JSON.stringify(params)).length).toBe(bytes);
    expect(sized(params, bytes)).toBe(JSON.stringify(params));
    expectOutboxError(() => sized(params, bytes - 1), 'body-too-large', `${bytes} bytes`);
    // The UTF-16 length (2008) is far under the limit: the limit really is in bytes.
    expectOutboxError(() => sized(params, 3000), 'body-too-large');
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

describe('checkVerb (an Optimizely event may only POST)', () => {
  it('refuses GET with invalid-verb naming httpVerb', () => {
    expectOutboxError(() => checkVerb('GET'), 'invalid-verb', 'event.httpVerb', '"GET"');
  });

  it('refuses a non-string verb', () => {
    expectOutboxError(() => checkVerb(1), 'invalid-verb', 'event.httpVerb');
    expectOutboxError(() => checkVerb(null), 'invalid-verb', 'event.httpVerb');
  });

  it('allows an undefined verb and a lowercase "post"', () => {
    expect(() => checkVerb(undefined)).not.toThrow();
    expect(() => checkVerb('post')).not.toThrow();
    expect(() => checkVerb('POST')).not.toThrow();
  });
});
