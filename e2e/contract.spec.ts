// The public contract of DESIGN.md, from a page: callback and promise forms, send(),
// typed errors for bad input, the endpoint allowlist, several tabs, a first visit.
import { deliveredCounts, dispatchMany, expect, test, uuidOf } from './fixtures';

test('callback form (SDK v3–v5) gets {statusCode: 202}; the promise resolves the same', async ({ page, app, collector }) => {
  await app.open(page);
  const result = await page.evaluate(async (url) => {
    let fromCallback: unknown;
    const fromPromise = await window.dispatcher!.dispatchEvent(
      { url, httpVerb: 'POST', params: { hello: 'callback' } },
      (response) => (fromCallback = response),
    );
    return { fromCallback, fromPromise };
  }, collector.url);
  expect(result).toEqual({ fromCallback: { statusCode: 202 }, fromPromise: { statusCode: 202 } });
  await expect.poll(() => collector.delivered()).toEqual(['{"hello":"callback"}']);
});

test('send(url, body) delivers any JSON beacon byte for byte', async ({ page, app, collector }) => {
  await app.open(page);
  const body = [{ a: 1, b: 'two', c: [true, null, 3.5] }, { d: '€ and 😀' }];
  const response = await page.evaluate(({ url, body }) => window.dispatcher!.send(url, body), { url: collector.url, body });
  expect(response).toEqual({ statusCode: 202 });
  await expect.poll(() => collector.delivered()).toEqual([JSON.stringify(body)]);
});

test('bad input is refused with a typed error and a 4xx callback status; nothing is queued or sent', async ({ page, app, collector }) => {
  await app.open(page);
  const outcomes = await page.evaluate(async (url) => {
    const d = window.dispatcher!;
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const cases: [string, unknown][] = [
      ['null event', null],
      ['GET verb', { url, httpVerb: 'GET', params: {} }],
      ['relative url', { url: '/v1/events', httpVerb: 'POST', params: {} }],
      ['javascript: url', { url: 'javascript:alert(1)', httpVerb: 'POST', params: {} }],
      ['string params', { url, httpVerb: 'POST', params: 'x' }],
      ['circular params', { url, httpVerb: 'POST', params: circular }],
      ['bigint params', { url, httpVerb: 'POST', params: { n: BigInt(1) } }],
      ['function in params', { url, httpVerb: 'POST', params: { f: () => 1 } }],
      ['endpoint not allowed', { url: 'https://elsewhere.example/collect', httpVerb: 'POST', params: {} }],
    ];
    const results = [];
    for (const [name, event] of cases) {
      let status: number | undefined;
      try {
        await d.dispatchEvent(event as never, (r) => (status = r.statusCode));
        results.push({ name, code: 'resolved', status });
      } catch (error) {
        await new Promise((r) => setTimeout(r));
        const e = error as { name: string; code: string; message: string };
        results.push({ name, errorName: e.name, code: e.code, message: e.message, status });
      }
    }
    return { results, stats: await d.stats() };
  }, collector.url);

  const byName = Object.fromEntries(outcomes.results.map((r) => [r.name, r]));
  expect(byName['null event']).toMatchObject({ errorName: 'OutboxError', code: 'invalid-event', status: 400 });
  expect(byName['GET verb']).toMatchObject({ code: 'invalid-verb', status: 400, message: expect.stringContaining('GET') });
  expect(byName['relative url']).toMatchObject({ code: 'invalid-url', status: 400, message: expect.stringContaining('/v1/events') });
  expect(byName['javascript: url']).toMatchObject({ code: 'invalid-url', status: 400 });
  expect(byName['string params']).toMatchObject({ code: 'invalid-params', status: 400 });
  expect(byName['circular params']).toMatchObject({ code: 'invalid-params', status: 400 });
  expect(byName['bigint params']).toMatchObject({ code: 'invalid-params', status: 400 });
  expect(byName['function in params']).toMatchObject({
    code: 'invalid-params',
    status: 400,
    message: expect.stringContaining('member "f" of event.params'),
  });
  expect(byName['endpoint not allowed']).toMatchObject({
    code: 'endpoint-not-allowed',
    status: 403,
    message: expect.stringContaining('elsewhere.example'),
  });
  expect(outcomes.stats).toMatchObject({ queued: 0, deadLettered: 0, dropped: 0 });
  await page.waitForTimeout(300);
  expect(collector.log).toHaveLength(0);
});

test('a bad event in a burst leaves the good ones untouched', async ({ page, app, collector }) => {
  await app.open(page);
  const statuses = await page.evaluate(async (url) => {
    const d = window.dispatcher!;
    const all = [
      d.dispatchEvent({ url, httpVerb: 'POST', params: { n: 1 } }),
      d.dispatchEvent({ url: 'https://not-allowed.example/', httpVerb: 'POST', params: { n: 2 } }),
      d.dispatchEvent({ url, httpVerb: 'POST', params: { n: 3 } }),
    ];
    return Promise.all(
      all.map((p) =>
        p.then(
          (r) => r.statusCode,
          (e: { code: string }) => e.code,
        ),
      ),
    );
  }, collector.url);
  expect(statuses).toEqual([202, 'endpoint-not-allowed', 202]);
  await expect.poll(() => collector.delivered().sort()).toEqual(['{"n":1}', '{"n":3}']);
});

test('three tabs dispatching at once: every event delivered once', async ({ context, app, collector }) => {
  const pages = await Promise.all([0, 1, 2].map(() => context.newPage()));
  await app.open(pages[0]!);
  await Promise.all(pages.slice(1).map((p) => app.open(p)));
  const sent = (await Promise.all(pages.map((p, i) => dispatchMany(p, collector.url, 40, `tab${i}`)))).flat();
  expect(sent.every((s) => s.statusCode === 202)).toBe(true);
  await expect.poll(() => deliveredCounts(collector).size).toBe(120);
  await pages[0]!.waitForTimeout(500);
  expect(collector.delivered()).toHaveLength(120);
});

test('first visit: an event dispatched as the page starts, before any worker exists, is accepted and delivered', async ({
  page,
  app,
  collector,
}) => {
  // The harness dispatches at module start when given ?early=<url>.
  await page.goto(`${app.url()}&early=${encodeURIComponent(collector.url)}`);
  const early = await page.evaluate(() => window.early);
  expect(early).toMatchObject({ activeWorkerAtDispatch: false, controlledAtDispatch: false });
  await expect.poll(() => page.evaluate(() => window.early!.response)).toEqual({ statusCode: 202 });
  await expect.poll(() => collector.delivered()).toEqual(['{"early":true}']);
});

test('on(): delivered and stats events reach the page; unsubscribe stops them', async ({ page, app, collector }) => {
  await app.open(page);
  await page.evaluate(() => {
    const w = window as unknown as { seen: number; off: () => void };
    w.seen = 0;
    w.off = window.dispatcher!.on('delivered', () => w.seen++);
  });
  const [sent] = await dispatchMany(page, collector.url, 1, 'observed');
  await expect.poll(() => page.evaluate(() => (window as unknown as { seen: number }).seen)).toBe(1);
  const delivered = await page.evaluate(() => window.outboxEvents.find((e) => e.name === 'delivered')?.detail);
  expect(delivered).toMatchObject({ ids: [expect.any(String)], status: 200 });
  expect(uuidOf(collector.delivered()[0]!)).toBe(sent!.uuid);
  await expect
    .poll(() => page.evaluate(() => window.outboxEvents.filter((e) => e.name === 'stats').at(-1)?.detail))
    .toMatchObject({ queued: 0, delivered: 1 });

  await page.evaluate(() => (window as unknown as { off: () => void }).off());
  await dispatchMany(page, collector.url, 1, 'unobserved');
  await expect.poll(() => page.evaluate(() => window.outboxEvents.filter((e) => e.name === 'delivered').length)).toBe(2);
  expect(await page.evaluate(() => (window as unknown as { seen: number }).seen)).toBe(1);
});

test('cookies are not sent by default (credentials: omit)', async ({ page, app, collector, context }) => {
  await context.addCookies([{ name: 'session', value: 'secret', url: collector.origin }]);
  await app.open(page);
  await page.evaluate((url) => window.dispatcher!.send(url, { c: 1 }), collector.url);
  await expect.poll(() => collector.log.length).toBe(1);
  expect(collector.log[0]!.cookie).toBeUndefined();
});

test('flush() after an outage delivers at once, not after the backoff', async ({ page, app, collector }) => {
  // A long backoff: without flush() the retry would wait up to a minute.
  await app.open(page, { baseMs: 60_000, maxMs: 60_000 });
  await collector.setMode({ kind: 'down' });
  await page.evaluate((url) => window.dispatcher!.send(url, { f: 1 }), collector.url);
  await expect.poll(async () => (await page.evaluate(() => window.dispatcher!.stats())).retried).toBe(1);
  await collector.setMode({ kind: 'up' });
  const started = Date.now();
  await page.evaluate(() => window.dispatcher!.flush());
  expect(collector.delivered()).toEqual(['{"f":1}']);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(await page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 0, delivered: 1, retried: 1 });
});
