import { describe, expect, it } from 'vitest';
import { OutboxError } from '../errors.js';
import { DEFAULTS, endpointsFromQuery, fallbackOptionsFromUrl, optionsFromQuery, resolveOptions } from './options.js';

function expectInvalidOption(input: unknown, ...needles: string[]): OutboxError {
  let caught: unknown;
  try {
    resolveOptions(input);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(OutboxError);
  const error = caught as OutboxError;
  expect(error.code).toBe('invalid-option');
  for (const needle of needles) expect(error.message).toContain(needle);
  return error;
}

describe('resolveOptions defaults', () => {
  const expected = {
    endpoints: undefined,
    backoff: { baseMs: 1000, maxMs: 300_000 },
    maxRetryAfterMs: 3_600_000,
    maxAgeMs: 604_800_000,
    maxQueueSize: 10_000,
    overflow: 'drop-oldest',
    timeoutMs: 30_000,
    batching: 'off',
    batchMaxVisitors: 250,
    batchMaxBytes: 262_144,
    dedupeWindowMs: 86_400_000,
    credentials: 'omit',
    maxDeadLetters: 1000,
    maxBodyBytes: 1_048_576,
    concurrency: 6,
    idHeader: false,
  };

  it('fills every documented default', () => {
    expect(resolveOptions()).toEqual(expected);
    expect(resolveOptions({})).toEqual(expected);
    expect({ endpoints: undefined, ...DEFAULTS }).toEqual(expected);
  });

  it('treats explicitly undefined members as absent', () => {
    expect(resolveOptions({ endpoints: undefined, backoff: undefined, maxAgeMs: undefined, idHeader: undefined })).toEqual(expected);
  });

  it('does not share the defaults object with callers', () => {
    const a = resolveOptions();
    a.backoff.baseMs = 1;
    expect(resolveOptions().backoff.baseMs).toBe(1000);
    expect(DEFAULTS.backoff.baseMs).toBe(1000);
  });

  it('keeps given values', () => {
    // Every option but endpoints at a value other than its default.
    const given = {
      backoff: { baseMs: 500, maxMs: 60_000 },
      maxAgeMs: 3_600_000,
      maxQueueSize: 50,
      overflow: 'reject-new',
      timeoutMs: 5000,
      batching: 'optimizely',
      batchMaxVisitors: 7,
      batchMaxBytes: 4096,
      dedupeWindowMs: 0,
      credentials: 'include',
      maxDeadLetters: 0,
      maxBodyBytes: 2,
      concurrency: 1,
      idHeader: 'X-Event-Id',
    } as const;
    const r = resolveOptions({ endpoints: ['https://logx.optimizely.com', 'https://collector.example/v1/'], ...given });
    expect(r.endpoints?.map((u) => u.href)).toEqual(['https://logx.optimizely.com/', 'https://collector.example/v1/']);
    expect(r.endpoints?.[0]).toBeInstanceOf(URL);
    expect(r).toMatchObject(given);
  });

  it('fills a partial backoff, and raises the default maxMs to a large baseMs', () => {
    expect(resolveOptions({ backoff: { baseMs: 250 } }).backoff).toEqual({ baseMs: 250, maxMs: 300_000 });
    expect(resolveOptions({ backoff: { maxMs: 5000 } }).backoff).toEqual({ baseMs: 1000, maxMs: 5000 });
    expect(resolveOptions({ backoff: { baseMs: 600_000 } }).backoff).toEqual({ baseMs: 600_000, maxMs: 600_000 });
    expect(resolveOptions({ backoff: {} }).backoff).toEqual({ baseMs: 1000, maxMs: 300_000 });
  });
});

describe('resolveOptions refusals', () => {
  it.each([
    ['null', null],
    ['an array', []],
    ['a string', 'endpoints=x'],
    ['a number', 3],
  ])('refuses %s as the options', (_label, input) => {
    expectInvalidOption(input, 'options');
  });

  it('refuses an unknown key, naming it', () => {
    expectInvalidOption({ endpoint: ['https://a.example'] }, 'unknown option', '"endpoint"');
    expectInvalidOption({ maxAge: 1000 }, '"maxAge"');
  });

  it('accepts batching "off" and "optimizely" only, and positive batch bounds', () => {
    expectInvalidOption({ batching: 'segment' }, 'batching', '"optimizely"', '"off"');
    expectInvalidOption({ batching: true }, 'batching');
    expectInvalidOption({ batchMaxVisitors: 0 }, 'batchMaxVisitors', '≥ 1');
    expectInvalidOption({ batchMaxBytes: 1 }, 'batchMaxBytes', '≥ 2');
    expectInvalidOption({ dedupeWindowMs: -1 }, 'dedupeWindowMs', '≥ 0');
    expect(resolveOptions({ batching: 'off' }).batching).toBe('off');
    expect(resolveOptions({ batching: 'optimizely' }).batching).toBe('optimizely');
  });

  describe('endpoints', () => {
    it('refuses an empty array and a non-array', () => {
      expectInvalidOption({ endpoints: [] }, 'endpoints', 'non-empty array');
      expectInvalidOption({ endpoints: 'https://a.example' }, 'endpoints', 'non-empty array');
      expectInvalidOption({ endpoints: null }, 'endpoints');
    });

    it('refuses a bad entry, naming its index', () => {
      const error = expectInvalidOption({ endpoints: ['https://ok.example', '/relative'] }, 'endpoints[1]');
      expect((error.cause as OutboxError).code).toBe('invalid-url');
      expectInvalidOption({ endpoints: ['ftp://files.example'] }, 'endpoints[0]', 'ftp:');
      expectInvalidOption({ endpoints: [42] }, 'endpoints[0]');
    });
  });

  describe('backoff', () => {
    it('refuses a non-object', () => {
      expectInvalidOption({ backoff: 1000 }, 'backoff', '{baseMs, maxMs}');
      expectInvalidOption({ backoff: 'fast' }, 'backoff', '{baseMs, maxMs}');
    });

    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1000', null])('refuses backoff.baseMs = %s', (baseMs) => {
      expectInvalidOption({ backoff: { baseMs } }, 'backoff.baseMs');
    });

    it.each([0, -5, 2.5, '60000'])('refuses backoff.maxMs = %s', (maxMs) => {
      expectInvalidOption({ backoff: { maxMs } }, 'backoff.maxMs');
    });

    it('refuses maxMs below baseMs', () => {
      expectInvalidOption({ backoff: { baseMs: 2000, maxMs: 1000 } }, 'backoff.maxMs', '2000');
    });
  });

  it.each([
    ['maxAgeMs', 0],
    ['maxAgeMs', -1],
    ['maxAgeMs', '7d'],
    ['maxQueueSize', 0],
    ['maxQueueSize', 1.5],
    ['maxQueueSize', '100'],
    ['timeoutMs', 0],
    ['timeoutMs', Number.NaN],
    ['maxDeadLetters', -1],
    ['maxDeadLetters', 0.5],
    ['maxBodyBytes', 1],
    ['maxBodyBytes', 0],
    ['concurrency', 0],
    ['concurrency', 2.5],
    ['concurrency', true],
  ])('refuses %s = %s, naming the field', (field, value) => {
    expectInvalidOption({ [field]: value }, field);
  });

  it.each([
    ['overflow', 'drop-newest'],
    ['overflow', 1],
    ['credentials', 'all'],
    ['credentials', false],
  ])('refuses %s = %s, listing the allowed values', (field, value) => {
    expectInvalidOption({ [field]: value }, field, 'one of');
  });

  it.each([true, 'X Event Id', 'X-Event-Id:', '', 42])('refuses idHeader = %j', (idHeader) => {
    expectInvalidOption({ idHeader }, 'idHeader');
  });

  it('accepts idHeader false and a header name', () => {
    expect(resolveOptions({ idHeader: false }).idHeader).toBe(false);
    expect(resolveOptions({ idHeader: 'X-Event-Id' }).idHeader).toBe('X-Event-Id');
  });
});

describe('optionsFromQuery', () => {
  it('returns nothing for an empty query', () => {
    expect(optionsFromQuery('')).toEqual({});
    expect(optionsFromQuery('?')).toEqual({});
  });

  it('reads comma-separated and repeated endpoints, in order, skipping blanks', () => {
    const o = optionsFromQuery('?endpoints=https://a.example, https://b.example/v1/&endpoints=https://c.example&endpoints=,');
    expect(o.endpoints).toEqual(['https://a.example', 'https://b.example/v1/', 'https://c.example']);
  });

  it('decodes percent-encoded endpoints', () => {
    const q = `endpoints=${encodeURIComponent('https://a.example/v1/events?x=1')}`;
    expect(optionsFromQuery(q).endpoints).toEqual(['https://a.example/v1/events?x=1']);
  });

  it('puts baseMs/maxMs (and backoff.baseMs/backoff.maxMs) into backoff, as numbers', () => {
    expect(optionsFromQuery('baseMs=500&maxMs=60000')).toEqual({ backoff: { baseMs: 500, maxMs: 60_000 } });
    expect(optionsFromQuery('backoff.baseMs=250&backoff.maxMs=1000')).toEqual({ backoff: { baseMs: 250, maxMs: 1000 } });
    expect(optionsFromQuery('maxMs=9000')).toEqual({ backoff: { maxMs: 9000 } });
  });

  it('parses numbers and leaves other values as strings', () => {
    const o = optionsFromQuery('maxQueueSize=100&timeoutMs=5000&concurrency=2&overflow=reject-new&credentials=include&maxAgeMs=-1&x=1.5');
    expect(o).toEqual({
      maxQueueSize: 100,
      timeoutMs: 5000,
      concurrency: 2,
      overflow: 'reject-new',
      credentials: 'include',
      maxAgeMs: -1,
      x: 1.5,
    });
  });

  it('reads idHeader, with "false" or empty meaning off', () => {
    expect(optionsFromQuery('idHeader=X-Event-Id').idHeader).toBe('X-Event-Id');
    expect(optionsFromQuery('idHeader=false').idHeader).toBe(false);
    expect(optionsFromQuery('idHeader=').idHeader).toBe(false);
  });

  it('ignores the cache-busting v parameter', () => {
    expect(optionsFromQuery('v=42&maxQueueSize=7')).toEqual({ maxQueueSize: 7 });
  });

  it('feeds resolveOptions: a good query resolves, a bad one is refused with the field named', () => {
    const r = resolveOptions(
      optionsFromQuery(
        '?endpoints=https://a.example,https://b.example/v1/&baseMs=500&maxMs=60000&overflow=reject-new&maxQueueSize=100&idHeader=X-Event-Id&v=3',
      ),
    );
    expect(r.endpoints?.map((u) => u.href)).toEqual(['https://a.example/', 'https://b.example/v1/']);
    expect(r.backoff).toEqual({ baseMs: 500, maxMs: 60_000 });
    expect(r.overflow).toBe('reject-new');
    expect(r.maxQueueSize).toBe(100);
    expect(r.idHeader).toBe('X-Event-Id');

    expectInvalidOption(optionsFromQuery('timeoutMs=abc'), 'timeoutMs', '"abc"');
    expectInvalidOption(optionsFromQuery('baseMs=1.5'), 'backoff.baseMs');
    expectInvalidOption(optionsFromQuery('maxQueueSizee=10'), 'unknown option', '"maxQueueSizee"');
  });
});

describe('endpointsFromQuery', () => {
  const read = (search: string) => endpointsFromQuery(new URLSearchParams(search));

  it('is undefined without endpoints, a list (maybe empty) with them', () => {
    expect(read('')).toBeUndefined();
    expect(read('v=3&opts=x')).toBeUndefined();
    expect(read('endpoints=https://a.example,%20https://b.example/v1/&endpoints=https://c.example')).toEqual([
      'https://a.example',
      'https://b.example/v1/',
      'https://c.example',
    ]);
    expect(read('endpoints=')).toEqual([]);
    expect(read('endpoints=,%20,')).toEqual([]);
  });
});

describe("fallbackOptionsFromUrl (the default fallback: the service worker URL's query)", () => {
  const base = 'https://app.example/page';
  const read = (href: string) => fallbackOptionsFromUrl(href, base);

  function expectRefused(href: string, ...needles: string[]): void {
    let caught: unknown;
    try {
      read(href);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(OutboxError);
    expect((caught as OutboxError).code).toBe('invalid-option');
    for (const needle of needles) expect((caught as Error).message).toContain(needle);
  }

  it('a URL without a query, or with only v: no options, no warning', () => {
    expect(read('/sw.js')).toEqual({ options: {} });
    expect(read('/sw.js?v=3')).toEqual({ options: {} });
    expect(read('https://app.example/sw.js?v=3&v=4')).toEqual({ options: {} });
  });

  it("an app's own query (unknown keys only): not options, ignored, no warning", () => {
    const opts = encodeURIComponent(JSON.stringify({ maxQueueSize: 5, endpoints: 'nope' }));
    expect(read(`/app-sw.js?opts=${opts}`)).toEqual({ options: {} });
    expect(read('/sw.js?v=3&build=abc')).toEqual({ options: {} });
    expect(read('/sw.js?bogus=1&cache=no')).toEqual({ options: {} });
    // Every key unknown: nothing reaches resolveOptions, which would refuse them.
    expect(resolveOptions(read('/sw.js?v=3&build=abc').options)).toEqual(resolveOptions({}));
  });

  it("the ready-made worker's options (every key an option key): taken, as optionsFromQuery reads them", () => {
    const href =
      '/sw.js?endpoints=https://a.example,https://b.example/v1/&baseMs=500&backoff.maxMs=60000&overflow=reject-new&maxQueueSize=100&idHeader=X-Event-Id&v=3';
    const { options, warning } = read(href);
    expect(warning).toBeUndefined();
    expect(options).toEqual(optionsFromQuery(new URL(href, base).search));
    const r = resolveOptions(options);
    expect(r.endpoints?.map((u) => u.href)).toEqual(['https://a.example/', 'https://b.example/v1/']);
    expect(r).toMatchObject({ backoff: { baseMs: 500, maxMs: 60_000 }, overflow: 'reject-new', maxQueueSize: 100, idHeader: 'X-Event-Id' });
  });

  it('a mixed query (option keys and unknown keys): ambiguous, so only endpoints is kept, and one warning names what was ignored', () => {
    const { options, warning } = read('/sw.js?maxQueueSize=5&build=abc&baseMs=100&v=3');
    expect(options).toEqual({});
    expect(warning).toMatch(/^sw-outbox: /);
    for (const key of ['"build"', '"maxQueueSize"', '"baseMs"']) expect(warning).toContain(key);
    expect(warning).not.toContain('"v"');
    expect(warning!.split('\n')).toHaveLength(1);

    // endpoints is never ignored: ignoring an allow-list would widen where events go.
    const kept = read('/sw.js?endpoints=https://a.example&build=abc&maxMs=abc');
    expect(kept.options).toEqual({ endpoints: ['https://a.example'] });
    expect(kept.warning).toContain('keeps endpoints');
    expect(kept.warning).toContain('"build"');
    expect(resolveOptions(kept.options).endpoints?.map((u) => u.href)).toEqual(['https://a.example/']);
  });

  it('an option key with an invalid value: that option is left out (its default applies), with one warning naming it', () => {
    const { options, warning } = read('/sw.js?endpoints=https://a.example&maxMs=abc&maxQueueSize=-5&timeoutMs=2000');
    expect(options).toEqual({ endpoints: ['https://a.example'], timeoutMs: 2000 });
    expect(warning).toContain('backoff.maxMs');
    expect(warning).toContain('maxQueueSize');
    expect(warning!.split('\n')).toHaveLength(1);
    const r = resolveOptions(options);
    expect(r).toMatchObject({ backoff: DEFAULTS.backoff, maxQueueSize: DEFAULTS.maxQueueSize, timeoutMs: 2000 });

    // backoff is checked as a whole (maxMs ≥ baseMs): an inconsistent pair is left out together.
    expect(read('/sw.js?baseMs=5000&maxMs=10').options).toEqual({});
    expect(read('/sw.js?overflow=sometimes&batching=optimizely').options).toEqual({ batching: 'optimizely' });
    expect(read('/sw.js?idHeader=bad%20header').options).toEqual({});
  });

  it('an invalid endpoints fails loudly (invalid-option naming it), whether the query is options or mixed: never "any URL"', () => {
    expectRefused('/sw.js?endpoints=', 'endpoints', '/sw.js');
    expectRefused('/sw.js?endpoints=,', 'endpoints');
    expectRefused('/sw.js?endpoints=ftp://files.example', 'endpoints[0]', 'http');
    expectRefused('/sw.js?endpoints=https://a.example,http:', 'endpoints[1]');
    expectRefused('/sw.js?endpoints=not-a-url&build=abc', 'endpoints[0]');
    expectRefused('/sw.js?endpoints=/relative/path&maxQueueSize=5', 'endpoints[0]');
  });

  it('resolves a relative URL against the base; an absolute one needs none', () => {
    expect(fallbackOptionsFromUrl('https://cdn.example/sw.js?maxQueueSize=9').options).toEqual({ maxQueueSize: 9 });
    expect(fallbackOptionsFromUrl(new URL('https://cdn.example/sw.js?v=1&x=2'))).toEqual({ options: {} });
  });
});
