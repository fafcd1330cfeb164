// Bad input, one test per case: every refusal is an OutboxError with a stable `code`
// and a message naming what was wrong; nothing is queued; the queue and the other
// events are untouched (one "keeper" event sits in the queue through every case).
import type { Page } from '@playwright/test';
import { expect, makeParams, test } from './fixtures';

interface Refusal {
  code: string;
  message: string;
  status?: number;
}

/** Runs `body` in the page with `d` (the dispatcher) and `url` (the collector) in scope; returns the refusal. */
async function refusal(page: Page, url: string, body: string): Promise<Refusal> {
  return page.evaluate(
    async ({ url, body }) => {
      const d = window.dispatcher!;
      let status: number | undefined;
      const cb = (r: { statusCode: number }) => (status = r.statusCode);
      try {
        await (new Function('d', 'url', 'cb', `return (async () => { ${body} })()`) as (...a: unknown[]) => Promise<unknown>)(d, url, cb);
      } catch (error) {
        await new Promise((r) => setTimeout(r, 0));
        const e = error as { name: string; code: string; message: string };
        if (e.name !== 'OutboxError') return { code: `not an OutboxError: ${e.name}`, message: e.message };
        return { code: e.code, message: e.message, ...(status === undefined ? {} : { status }) };
      }
      return { code: 'resolved', message: '' };
    },
    { url, body },
  );
}

async function stats(page: Page) {
  return page.evaluate(() => window.dispatcher!.stats());
}

test.describe('bad input', () => {
  test.beforeEach(async ({ page, app, collector }) => {
    // The keeper: accepted, then held by a 503 with a long backoff.
    await collector.setMode({ kind: 'status', status: 503 });
    await app.open(page, { baseMs: 60_000, maxMs: 60_000 });
    await page.evaluate(({ url, params }) => window.dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params }), {
      url: collector.url,
      params: makeParams('keeper'),
    });
    await expect.poll(async () => (await stats(page)).retried).toBe(1);
  });

  test.afterEach(async ({ page, collector }) => {
    // Untouched: still exactly the keeper, never re-sent, nothing else ever sent.
    expect(await stats(page)).toMatchObject({ queued: 1, dropped: 0, delivered: 0 });
    expect(collector.log).toHaveLength(1);
  });

  const cases: [name: string, body: string, code: string, mention: string, status?: number][] = [
    ['missing event', 'await d.dispatchEvent(undefined, cb)', 'invalid-event', 'undefined', 400],
    ['null event', 'await d.dispatchEvent(null, cb)', 'invalid-event', 'null', 400],
    ['event is an array', 'await d.dispatchEvent([], cb)', 'invalid-event', 'array', 400],
    ['missing params', "await d.dispatchEvent({ url, httpVerb: 'POST' }, cb)", 'invalid-params', 'event.params', 400],
    ['null params', "await d.dispatchEvent({ url, httpVerb: 'POST', params: null }, cb)", 'invalid-params', 'null', 400],
    ['string params', "await d.dispatchEvent({ url, httpVerb: 'POST', params: 'a=1' }, cb)", 'invalid-params', 'event.params', 400],
    ['number params', "await d.dispatchEvent({ url, httpVerb: 'POST', params: 7 }, cb)", 'invalid-params', '7', 400],
    [
      'circular params',
      "const p = { a: {} }; p.a.back = p; await d.dispatchEvent({ url, httpVerb: 'POST', params: p }, cb)",
      'invalid-params',
      'circular',
      400,
    ],
    ['BigInt in params', "await d.dispatchEvent({ url, httpVerb: 'POST', params: { n: 10n } }, cb)", 'invalid-params', 'BigInt', 400],
    [
      'function in params',
      "await d.dispatchEvent({ url, httpVerb: 'POST', params: { deep: { f() {} } } }, cb)",
      'invalid-params',
      '"f"',
      400,
    ],
    [
      'symbol in params',
      "await d.dispatchEvent({ url, httpVerb: 'POST', params: { s: Symbol('x') } }, cb)",
      'invalid-params',
      'symbol',
      400,
    ],
    ['GET verb', "await d.dispatchEvent({ url, httpVerb: 'GET', params: {} }, cb)", 'invalid-verb', '"GET"', 400],
    ['verb of the wrong type', 'await d.dispatchEvent({ url, httpVerb: 42, params: {} }, cb)', 'invalid-verb', '42', 400],
    ['empty URL', "await d.dispatchEvent({ url: '', httpVerb: 'POST', params: {} }, cb)", 'invalid-url', 'event.url', 400],
    ['relative URL', "await d.dispatchEvent({ url: '/v1/events', httpVerb: 'POST', params: {} }, cb)", 'invalid-url', '/v1/events', 400],
    [
      'javascript: URL',
      "await d.dispatchEvent({ url: 'javascript:alert(1)', httpVerb: 'POST', params: {} }, cb)",
      'invalid-url',
      'javascript:',
      400,
    ],
    ['data: URL', "await d.dispatchEvent({ url: 'data:text/plain,hi', httpVerb: 'POST', params: {} }, cb)", 'invalid-url', 'data:', 400],
    ['ftp: URL', "await d.dispatchEvent({ url: 'ftp://127.0.0.1/x', httpVerb: 'POST', params: {} }, cb)", 'invalid-url', 'ftp:', 400],
    [
      'URL outside endpoints',
      "await d.dispatchEvent({ url: 'https://tracker.example/collect', httpVerb: 'POST', params: {} }, cb)",
      'endpoint-not-allowed',
      'tracker.example',
      403,
    ],
    [
      'body over the 1 MiB limit',
      "await d.dispatchEvent({ url, httpVerb: 'POST', params: { blob: 'é'.repeat(600000) } }, cb)",
      'body-too-large',
      '1048576',
      413,
    ],
    ['send() with a non-http URL', "await d.send('mailto:a@b.c', {})", 'invalid-url', 'mailto:'],
    ['send() with a function body', 'await d.send(url, () => 1)', 'invalid-params', 'function'],
    ['callback that is not a function', "await d.dispatchEvent({ url, httpVerb: 'POST', params: {} }, 'cb')", 'invalid-event', 'callback'],
    ['createDispatcher without options', 'window.swOutbox.createDispatcher()', 'invalid-option', 'options'],
    [
      'createDispatcher with a numeric serviceWorker',
      'window.swOutbox.createDispatcher({ serviceWorker: 42 })',
      'invalid-option',
      'serviceWorker',
    ],
    [
      'createDispatcher with a negative ackTimeoutMs',
      "window.swOutbox.createDispatcher({ serviceWorker: '/sw.js', ackTimeoutMs: -1 })",
      'invalid-option',
      'ackTimeoutMs',
    ],
    ['on() with an unknown event name', "d.on('sent', () => {})", 'invalid-option', '"sent"'],
  ];

  for (const [name, body, code, mention, status] of cases) {
    test(name, async ({ page, collector }) => {
      const result = await refusal(page, collector.url, body);
      expect(result.code).toBe(code);
      expect(result.message).toContain(mention);
      if (status !== undefined) expect(result.status).toBe(status);
    });
  }
});

test('a callback that throws: the event is still accepted and delivered, the error surfaces as an uncaught error', async ({
  page,
  app,
  collector,
}) => {
  await app.open(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const statusCode = await page.evaluate(async (url) => {
    let got = 0;
    await window.dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params: { thrower: true } }, (r) => {
      got = r.statusCode;
      throw new Error('callback bug');
    });
    await new Promise((r) => setTimeout(r, 50));
    return got;
  }, collector.url);
  expect(statusCode).toBe(202);
  await expect.poll(() => errors).toContain('callback bug');
  await expect.poll(() => collector.delivered()).toEqual(['{"thrower":true}']);
  expect(await stats(page)).toMatchObject({ queued: 0, delivered: 1 });
});

test('an invalid endpoints in the worker URL: the worker refuses to install, and the fallback refuses the events by name (an allow-list is never ignored)', async ({
  page,
  app,
  collector,
}) => {
  // The registration fails; the fallback reads the same options from the script URL. An
  // option of another range (maxQueueSize=-5) it leaves out with a warning instead of
  // refusing every event: fallback-query.spec.ts.
  await page.goto(app.url({ endpoints: 'ftp://files.example' }));
  const result = await refusal(page, collector.url, "await d.dispatchEvent({ url, httpVerb: 'POST', params: {} }, cb)");
  expect(result).toMatchObject({ code: 'invalid-option', status: 400 });
  expect(result.message).toContain('endpoints');
  expect(result.message).toContain('ftp:');
  expect(collector.log).toHaveLength(0);
});
