// The pagehide beacon: which copies go, where, as what, within which budget. The page's
// `location` and `fetch` are stubbed; readOptions builds the settings as createDispatcher does.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WireEvent } from '../protocol.js';
import { KEEPALIVE_BUDGET_BYTES, UTF8_BYTES_PER_UNIT, allowLists, createBeacon } from './beacon.js';
import { type DispatcherOptions, readOptions } from './options.js';

const fetched = vi.fn((_url: string, _init: RequestInit) => Promise.resolve(new Response()));
beforeEach(() => {
  vi.stubGlobal('location', new URL('https://app.example/shop/cart'));
  vi.stubGlobal('fetch', fetched);
  fetched.mockClear();
});
afterEach(() => {
  vi.unstubAllGlobals();
});

const settings = (options: Partial<DispatcherOptions> = {}) => readOptions({ serviceWorker: '/sw.js', ...options });
const event = (url: string, body = '{"a":1}'): WireEvent => ({ id: 'x-1', url, body });

describe('allowLists', () => {
  it('none without endpoints anywhere: every URL may go', () => {
    expect(allowLists(settings())).toEqual([]);
  });

  it('the explicit fallback endpoints and the worker URL query, each read as an absolute URL', () => {
    const lists = allowLists(
      settings({
        serviceWorker: '/sw.js?endpoints=https://a.example,https://b.example/v1',
        fallback: { endpoints: ['https://a.example/'] },
      }),
    );
    expect(lists).toEqual([['https://a.example/'], ['https://a.example/', 'https://b.example/v1']]);
  });

  it.each([
    ['an empty list', '/sw.js?endpoints='],
    ['an entry that is no absolute URL', '/sw.js?endpoints=http:'],
  ])('%s allows nothing, rather than any URL', (_label, serviceWorker) => {
    expect(allowLists(settings({ serviceWorker }))).toEqual([[]]);
  });
});

describe('createBeacon', () => {
  it('sends a keepalive copy to the rewritten URL: JSON to its own origin, text across origins', () => {
    const beacon = createBeacon(settings({ rewrite: { 'https://logx.optimizely.com/v1/': '/collect/' } }));
    beacon(event('https://logx.optimizely.com/v1/events'));
    beacon(event('https://collector.example/e'));
    expect(
      fetched.mock.calls.map(([url, init]) => [url, (init.headers as Record<string, string>)['content-type'], init.keepalive]),
    ).toEqual([
      ['https://app.example/collect/events', 'application/json', true],
      ['https://collector.example/e', 'text/plain;charset=UTF-8', true],
    ]);
    expect(fetched.mock.calls[0]![1].body).toBe('{"a":1}');
  });

  it('sends only where every allow-list allows, with the fallback credentials', () => {
    const beacon = createBeacon(
      settings({
        serviceWorker: '/sw.js?endpoints=https://a.example',
        fallback: { endpoints: ['https://a.example/v1'], credentials: 'include' },
      }),
    );
    beacon(event('https://a.example/v2/x'));
    beacon(event('https://b.example/v1/x'));
    beacon(event('https://a.example/v1/x'));
    expect(fetched.mock.calls.map(([url, init]) => [url, init.credentials])).toEqual([['https://a.example/v1/x', 'include']]);
  });

  it('stops at the keepalive budget; a new beacon (the next page-hide) has it again', () => {
    const half = 'x'.repeat(Math.floor(KEEPALIVE_BUDGET_BYTES / UTF8_BYTES_PER_UNIT / 2) - 1);
    const beacon = createBeacon(settings());
    beacon(event('https://a.example/1', half));
    beacon(event('https://a.example/2', half));
    beacon(event('https://a.example/3', half));
    expect(fetched.mock.calls.map(([url]) => url)).toEqual(['https://a.example/1', 'https://a.example/2']);
    createBeacon(settings())(event('https://a.example/4', half));
    expect(fetched.mock.calls.map(([url]) => url)).toEqual(['https://a.example/1', 'https://a.example/2', 'https://a.example/4']);
  });
});
