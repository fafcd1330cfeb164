// readOptions: the dispatcher's one check at the boundary. The page's `location` is stubbed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OutboxError } from '../errors.js';
import { type DispatcherOptions, readOptions } from './options.js';

beforeEach(() => {
  vi.stubGlobal('location', new URL('https://app.example/shop/cart'));
});
afterEach(() => {
  vi.unstubAllGlobals();
});

/** The OutboxError readOptions throws for `options`. */
function refused(options: unknown): OutboxError {
  try {
    readOptions(options as DispatcherOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(OutboxError);
    return error as OutboxError;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('readOptions', () => {
  it('applies every default and resolves the script URL against the page', () => {
    const s = readOptions({ serviceWorker: 'sw.js?v=3' });
    expect(s).toMatchObject({
      ackTimeoutMs: 10_000,
      maxPostAttempts: 3,
      maxBodyBytes: 1 << 20,
      wakeIntervalMs: 5000,
      registrationTimeoutMs: 10_000,
      persistStorage: 'never',
      rewrites: [],
    });
    expect(s.swUrl?.href).toBe('https://app.example/shop/sw.js?v=3');
  });

  it('resolves `rewrite` as the worker does (validate.ts): against the page, longest prefix first', () => {
    const s = readOptions({
      serviceWorker: '/sw.js',
      rewrite: { 'https://a.example/': '/collect/', 'https://a.example/v1/': 'https://proxy.example' },
    });
    expect(s.rewrites).toEqual([
      ['https://a.example/v1/', 'https://proxy.example'],
      ['https://a.example/', 'https://app.example/collect/'],
    ]);
    // An empty value is no rewriting, as the enqueue message reads it.
    expect(readOptions({ serviceWorker: '/sw.js', rewrite: null as never }).rewrites).toEqual([]);
  });

  it.each([
    ['no object', undefined, 'options'],
    ['no serviceWorker', {}, 'serviceWorker'],
    ['a script URL that is no URL', { serviceWorker: 'http://[' }, 'serviceWorker'],
    [
      'a rewrite to another scheme',
      { serviceWorker: '/sw.js', rewrite: { 'https://a.example/': 'ftp://x/' } },
      'rewrite["https://a.example/"]',
    ],
    ['a rewrite that is no object', { serviceWorker: '/sw.js', rewrite: 'https://x/' }, 'rewrite'],
    ['an integer below its minimum', { serviceWorker: '/sw.js', wakeIntervalMs: 10 }, 'wakeIntervalMs'],
    ['a fractional integer option', { serviceWorker: '/sw.js', maxPostAttempts: 1.5 }, 'maxPostAttempts'],
    ['an unknown persistStorage', { serviceWorker: '/sw.js', persistStorage: 'always' }, 'persistStorage'],
  ])('refuses %s with invalid-option naming it', (_label, options, field) => {
    const error = refused(options);
    expect(error.code).toBe('invalid-option');
    expect(error.message).toContain(field);
  });
});
