// The fallback's options come only from where they belong (issue 15, item 3). In a
// browser without service workers the page-side outbox takes the events; with no
// explicit `fallback` option it reads the service worker URL's query, but only where
// that query is the ready-made worker's options. An app's own worker URL (`/sw.js?v=3`,
// `?opts=...`) is not: its events are accepted and delivered, never refused with
// `invalid-option`. An explicit `fallback: {...}` is still checked strictly, and a
// setting of ours that cannot work (a bad `rewrite`) is one error at createDispatcher.
// The collector's request log is the ground truth.
import type { Page } from '@playwright/test';
import { deliveredCounts, expect, makeParams, test, uuidOf } from './fixtures';
import { removeServiceWorkerApi, stats } from './fallback/helpers';

/** Warnings of sw-outbox's, from the page and from its workers (the fallback's dedicated worker). */
function collectWarnings(page: Page): string[] {
  const warnings: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'warning' && message.text().includes('sw-outbox')) warnings.push(message.text());
  });
  return warnings;
}

type Outcome = { uuid: string; statusCode: number; code?: string; message?: string; callbackStatus?: number };

/**
 * Creates `window.dispatcher` for `options` (serviceWorker, fallback...; `endpoints` of
 * the collector's origin is not added: the URL says all), then dispatches one event per
 * url, each with a fresh uuid, and reports how each settled (promise and callback).
 */
function dispatchWith(page: Page, options: Record<string, unknown>, urls: string[], prefix: string): Promise<Outcome[]> {
  return page.evaluate(
    async ({ options, events }) => {
      window.dispatcher = window.swOutbox.createDispatcher(options as unknown as Parameters<typeof window.swOutbox.createDispatcher>[0]);
      return Promise.all(
        events.map(async ({ url, uuid, params }) => {
          let callbackStatus = -1;
          try {
            const response = await window.dispatcher!.dispatchEvent(
              { url, httpVerb: 'POST', params },
              (r) => (callbackStatus = r.statusCode),
            );
            return { uuid, statusCode: response.statusCode, callbackStatus };
          } catch (error) {
            return { uuid, statusCode: 0, code: (error as { code?: string }).code, message: (error as Error).message, callbackStatus };
          }
        }),
      );
    },
    { options, events: urls.map((url, i) => ({ url, uuid: `${prefix}-${i}`, params: makeParams(`${prefix}-${i}`) })) },
  );
}

test.describe('no service worker API, no `fallback` option: the worker URL is not always options', () => {
  test.beforeEach(async ({ context }) => {
    await context.addInitScript(removeServiceWorkerApi);
  });

  const opts = encodeURIComponent(JSON.stringify({ theme: 'dark', maxQueueSize: 5, endpoints: ['nope'] }));
  for (const script of ['/sw.js?v=3', `/app-sw.js?opts=${opts}`, '/sw.js?v=3&build=abc']) {
    test(`an app's own worker URL ${decodeURIComponent(script)}: every event accepted (202, no invalid-option), mode "page", delivered once; no warning`, async ({
      page,
      app,
      collector,
    }) => {
      const warnings = collectWarnings(page);
      await page.goto(`${app.origin}/`);
      const outcomes = await dispatchWith(page, { serviceWorker: script }, Array(10).fill(collector.url), 'own-query');
      console.log(`serviceWorker ${script}, no service worker API: ${JSON.stringify(outcomes.map((o) => o.code ?? o.statusCode))}`);
      expect(outcomes.filter((o) => o.statusCode !== 202)).toEqual([]);
      expect(outcomes.every((o) => o.callbackStatus === 202)).toBe(true);
      expect(await stats(page)).toMatchObject({ mode: 'page', degraded: false });
      await expect.poll(() => deliveredCounts(collector).size).toBe(10);
      await page.waitForTimeout(500);
      expect([...deliveredCounts(collector).keys()].sort()).toEqual(outcomes.map((o) => o.uuid).sort());
      expect([...deliveredCounts(collector).values()].every((n) => n === 1)).toBe(true);
      expect(warnings).toEqual([]);
    });
  }

  test('a query mixing option keys and unknown keys: ignored, one warning naming them; its endpoints still hold (an event elsewhere refused)', async ({
    page,
    app,
    collector,
  }) => {
    const warnings = collectWarnings(page);
    await page.goto(`${app.origin}/`);
    const script = `/sw.js?endpoints=${encodeURIComponent(`${collector.origin}/v1/`)}&build=abc&maxQueueSize=5`;
    const outcomes = await dispatchWith(
      page,
      { serviceWorker: script },
      [collector.url, collector.url, `${collector.origin}/elsewhere`],
      'mixed',
    );
    console.log(
      `serviceWorker ${script}: ${JSON.stringify(outcomes.map((o) => o.code ?? o.statusCode))}; warnings ${JSON.stringify(warnings)}`,
    );
    expect(outcomes.map((o) => o.code ?? o.statusCode)).toEqual([202, 202, 'endpoint-not-allowed']);
    await expect.poll(() => deliveredCounts(collector).size).toBe(2);
    await page.waitForTimeout(500);
    expect(collector.log.map((r) => r.path)).toEqual(['/v1/events', '/v1/events']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"build"');
    expect(warnings[0]).toContain('"maxQueueSize"');
  });

  test('an option of the ready-made worker with an invalid value (maxMs=abc): left out with one warning, events accepted and delivered', async ({
    page,
    app,
    collector,
  }) => {
    const warnings = collectWarnings(page);
    await page.goto(`${app.origin}/`);
    const script = `/sw.js?endpoints=${encodeURIComponent(collector.origin)}&maxMs=abc&timeoutMs=5000`;
    const outcomes = await dispatchWith(page, { serviceWorker: script }, Array(5).fill(collector.url), 'bad-value');
    expect(outcomes.map((o) => o.code ?? o.statusCode)).toEqual([202, 202, 202, 202, 202]);
    await expect.poll(() => deliveredCounts(collector).size).toBe(5);
    console.log(`serviceWorker ${script}: warnings ${JSON.stringify(warnings)}`);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('backoff.maxMs');
  });

  test('an invalid endpoints in the query (endpoints=http:) fails loudly: invalid-option naming it, and not even the pagehide copy goes anywhere', async ({
    page,
    app,
    collector,
  }) => {
    await page.goto(`${app.origin}/`);
    const script = '/sw.js?endpoints=http:&v=3';
    const [outcome] = await dispatchWith(page, { serviceWorker: script }, [collector.url], 'bad-endpoints');
    expect(outcome).toMatchObject({
      statusCode: 0,
      code: 'invalid-option',
      callbackStatus: 400,
      message: expect.stringContaining('endpoints'),
    });
    // An event dispatched as the page hides gets a keepalive copy at once (the fallback's
    // worker dies with the page): only where the same allow-list allows it, here nowhere.
    await page.evaluate(
      ({ url, params }) =>
        addEventListener('pagehide', () => void window.dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params }).catch(() => {})),
      { url: collector.url, params: makeParams('bad-endpoints-hiding') },
    );
    await page.goto('about:blank');
    await page.waitForTimeout(1500);
    expect(collector.log).toEqual([]);
  });

  test('the pagehide copy goes where the same endpoints allow (control of the above): to the allowed URL, never elsewhere', async ({
    page,
    app,
    collector,
  }) => {
    await page.goto(`${app.origin}/`);
    const script = `/sw.js?endpoints=${encodeURIComponent(`${collector.origin}/v1/`)}&build=abc`;
    await page.evaluate(
      ({ script, events }) => {
        window.dispatcher = window.swOutbox.createDispatcher({ serviceWorker: script });
        addEventListener('pagehide', () => {
          for (const { url, params } of events) void window.dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params }).catch(() => {});
        });
      },
      {
        script,
        events: [
          { url: `${collector.origin}/v1/events`, params: makeParams('hiding-allowed') },
          { url: `${collector.origin}/elsewhere`, params: makeParams('hiding-elsewhere') },
        ],
      },
    );
    await page.goto('about:blank');
    await expect.poll(() => collector.log.length).toBeGreaterThan(0);
    await page.waitForTimeout(1000);
    expect(new Set(collector.log.map((r) => `${r.path} ${uuidOf(r.body)}`))).toEqual(new Set(['/v1/events hiding-allowed']));
  });
});

test.describe('the ready-made worker with a bad option in its URL (registration refused)', () => {
  // Every key is an option: the query is the ready-made worker's options. That worker
  // refuses to start on the bad one (its console names it), so registration fails and the
  // fallback takes over with the same query; it does not refuse every event for it: it
  // leaves that option out (its default applies) and says so once. (Only a bad
  // `endpoints` is refused: above.)
  test('/sw.js?maxQueueSize=-5 with the default fallback options (the same query) → the fallback leaves maxQueueSize out, with one warning naming it: 202, mode "page", delivered', async ({
    page,
    app,
    collector,
  }) => {
    const warnings = collectWarnings(page);
    await page.goto(app.url({ maxQueueSize: -5 }));
    const [first] = await page.evaluate(
      async ({ url, params }) => [await window.dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params }).catch((e: Error) => e.message)],
      { url: collector.url, params: makeParams('bad-option-sw') },
    );
    console.log(`/sw.js?maxQueueSize=-5, default fallback options: ${JSON.stringify(first)}; warnings ${JSON.stringify(warnings)}`);
    expect(first).toEqual({ statusCode: 202 });
    expect(await stats(page)).toMatchObject({ mode: 'page' });
    await expect.poll(() => deliveredCounts(collector).size).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('maxQueueSize');
  });
});

test.describe('settings of ours are checked strictly', () => {
  test('an explicit fallback: {bogus: 1} still rejects with invalid-option naming it (callback 400), nothing sent; a string `fallback` is not read as a URL', async ({
    page,
    context,
    app,
    collector,
  }) => {
    await context.addInitScript(removeServiceWorkerApi);
    await page.goto(`${app.origin}/`);
    const [bogus] = await dispatchWith(page, { serviceWorker: '/sw.js?v=3', fallback: { bogus: 1 } }, [collector.url], 'explicit-bogus');
    expect(bogus).toMatchObject({
      statusCode: 0,
      code: 'invalid-option',
      callbackStatus: 400,
      message: expect.stringContaining('"bogus"'),
    });
    const [text] = await dispatchWith(page, { serviceWorker: '/sw.js', fallback: '?maxQueueSize=5' }, [collector.url], 'explicit-string');
    expect(text).toMatchObject({ statusCode: 0, code: 'invalid-option', message: expect.stringContaining('options must be an object') });
    await page.waitForTimeout(500);
    expect(collector.log).toEqual([]);
  });

  test('a bad `rewrite` entry, a serviceWorker that is no URL: one invalid-option error from createDispatcher, not every event refused later', async ({
    page,
    app,
  }) => {
    await page.goto(`${app.origin}/`);
    const thrown = await page.evaluate(() =>
      [
        { serviceWorker: '/sw.js', rewrite: { 'https://logx.optimizely.com/': 42 } },
        { serviceWorker: '/sw.js', rewrite: { 'https://logx.optimizely.com/': 'ftp://files.example/' } },
        { serviceWorker: '/sw.js', rewrite: { 'https://logx.optimizely.com/': '' } },
        { serviceWorker: '/sw.js', rewrite: 'https://proxy.example/' },
        { serviceWorker: 'http://[' },
      ].map((options) => {
        try {
          window.swOutbox.createDispatcher(options as never);
          return { created: true };
        } catch (error) {
          return { code: (error as { code?: string }).code, message: (error as Error).message };
        }
      }),
    );
    console.log(`createDispatcher with bad settings: ${JSON.stringify(thrown)}`);
    for (const [i, field] of [
      'rewrite["https://logx.optimizely.com/"]',
      'rewrite["https://logx',
      'rewrite["https://logx',
      'rewrite',
      'serviceWorker',
    ].entries()) {
      expect(thrown[i]).toMatchObject({ code: 'invalid-option', message: expect.stringContaining(field) });
    }
    // A good rewrite still creates (a path on this page's origin, an absolute URL).
    expect(
      await page.evaluate(() => {
        window.swOutbox.createDispatcher({
          serviceWorker: '/sw.js',
          rewrite: { 'https://a.example/': '/collect/', 'https://b.example': 'https://c.example/x' },
        });
        return true;
      }),
    ).toBe(true);
  });
});
