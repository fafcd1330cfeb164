// The real Optimizely SDKs (v4, v5, v6) with the outbox as their event dispatcher, in
// headless Chromium, against the test collector. The harness page (e2e/optimizely/)
// records every call the SDK makes to dispatchEvent (`JSON.stringify(event.params)`) and
// every answer it gets; the collector's own request log is the ground truth.
//
// The SDKs always address https://logx.optimizely.com/v1/events (unreachable here): every
// test but the snippet ones uses the dispatcher's `rewrite` to send it to the collector.
//
// Opt-in batching: optimizely-batching.spec.ts; first visits, close() and the v6
// closingEventDispatcher: optimizely-closing.spec.ts.
import type { Page } from '@playwright/test';
import {
  act,
  allUuids,
  answers,
  expectDistinct,
  expectRequestsToCollector,
  type Harness,
  calls as callsOf,
  delivered,
  expect,
  FIRST_PARTY_PATH,
  legacy,
  parse,
  SDK_URL,
  SDKS,
  sorted,
  TAGS,
  test,
  users,
  uuidCounts,
  waitForActiveWorker,
  waitForDispatched,
  waitForUuids,
} from './optimizely/fixtures';

test.describe('each SDK through createDispatcher', () => {
  for (const sdk of SDKS) {
    test(`${sdk}: decide${legacy(sdk) ? ', activate' : ''} and track for 6 users → the collector gets exactly the bodies the SDK dispatched, byte for byte`, async ({
      page,
      harness,
      collector,
    }) => {
      await harness.goto(page);
      // SDK batching (v4/v5 eventBatchSize, v6 batch processor) of 4: bodies with several visitors.
      await harness.start(page, { sdk, batchSize: sdk === 'v6-forwarding' ? 1 : 4, flushInterval: 100 });
      const who = users(sdk, 6);
      const { variations, activated } = await act(page, sdk, who);
      expect(variations.every((v) => v !== null)).toBe(true);
      if (legacy(sdk)) expect(activated.every((v) => v !== null)).toBe(true);
      // close(): the SDK flushes what it holds, then the dispatcher waits for its acknowledgements.
      await page.evaluate(() => window.harness.close());

      const calls = await callsOf(page);
      const perUser = legacy(sdk) ? 3 : 2; // an impression per decide (and activate), a conversion per track
      const uuids = expectDistinct(calls, who.length * perUser);
      expect(calls.every((c) => c.url === SDK_URL && c.httpVerb === 'POST')).toBe(true);
      if (sdk !== 'v6-forwarding') expect(Math.max(...calls.map((c) => parse(c.body).visitors.length))).toBeGreaterThan(1);
      // v4/v5: the callback got {statusCode: 202}; v6: the promise resolved {statusCode: 202}.
      expect(await answers(page)).toEqual(calls.map(() => ({ statusCode: 202 })));
      // v6: an accepted event is never dispatched again (one call per distinct body).
      expect(new Set(calls.map((c) => c.body)).size).toBe(calls.length);
      if (sdk === 'v6-batch') expect(await page.evaluate(() => window.harness.storedEventKeys())).toEqual([]);

      await waitForUuids(collector, uuids);
      expect(sorted(delivered(collector))).toEqual(sorted(calls.map((c) => c.body)));
      expect(collector.log).toHaveLength(calls.length);
      expectRequestsToCollector(collector);
    });
  }
});

test.describe('offline with the SDK', () => {
  for (const sdk of SDKS) {
    test(`${sdk}: conversions tracked offline are accepted (202) at once and arrive back online, uuids intact, each once`, async ({
      page,
      context,
      harness,
      collector,
    }) => {
      await harness.goto(page);
      await harness.start(page, { sdk, batchSize: sdk === 'v6-forwarding' ? 1 : 2, flushInterval: 100 });
      await context.setOffline(true);
      const who = users(`offline-${sdk}`, 5);
      await page.evaluate(({ who, tags }) => window.harness.track(who, tags), { who, tags: TAGS });
      const calls = await waitForDispatched(page, who.length);
      expect(await answers(page)).toEqual(calls.map(() => ({ statusCode: 202 })));
      const uuids = expectDistinct(calls, who.length);
      await page.waitForTimeout(1000);
      expect(collector.log).toHaveLength(0);

      await context.setOffline(false);
      await waitForUuids(collector, uuids);
      expect([...uuidCounts(collector).values()]).toEqual(uuids.map(() => 1));
      // Batching off (the default): one request per dispatched body, each untouched.
      expect(sorted(delivered(collector))).toEqual(sorted(calls.map((c) => c.body)));
      expect(collector.log).toHaveLength(calls.length);
    });
  }
});

test.describe('idempotent enqueue with the v6 batch event processor', () => {
  for (const { name, sw, copies } of [
    { name: 'default dedupeWindowMs', sw: {}, copies: 1 },
    { name: 'dedupeWindowMs=0', sw: { dedupeWindowMs: 0 }, copies: 2 },
  ]) {
    test(`a lost acknowledgement makes the SDK retry the same batch → ${name}: each uuid delivered ${copies === 1 ? 'once' : 'twice'}`, async ({
      page,
      harness,
      collector,
    }) => {
      await harness.goto(page);
      // Each batch's first call is enqueued, then the SDK is told 500: it retries (200 ms later).
      await harness.start(page, { sdk: 'v6-batch', batchSize: 3, flushInterval: 100, ack: 'lost-once' }, sw);
      const who = users('lost-ack', 6);
      await page.evaluate(({ who, tags }) => window.harness.track(who, tags), { who, tags: TAGS });
      await expect.poll(async () => (await callsOf(page)).length).toBe(4);
      const calls = await waitForDispatched(page, who.length);
      // Two batches, each dispatched twice with the same body.
      expect(new Set(calls.map((c) => c.body)).size).toBe(2);
      expect(await answers(page)).toEqual(calls.map(() => ({ statusCode: 202 })));
      await expect.poll(() => page.evaluate(() => window.harness.storedEventKeys())).toEqual([]);

      const uuids = [...new Set(allUuids(calls))];
      await waitForUuids(collector, uuids);
      expect([...uuidCounts(collector).entries()].sort()).toEqual(uuids.map((u) => [u, copies] as [string, number]).sort());
    });
  }

  for (const { name, sw, firstCopy, copies } of [
    { name: 'delivered', sw: {}, firstCopy: 'delivered', copies: 1 },
    { name: 'still queued (collector down)', sw: {}, firstCopy: 'queued', copies: 1 },
    { name: 'delivered, dedupeWindowMs=0', sw: { dedupeWindowMs: 0 }, firstCopy: 'delivered', copies: 2 },
  ] as const) {
    test(`the SDK's event store re-sends after a reload, first copy ${name} → each uuid delivered ${copies === 1 ? 'once' : 'twice'}`, async ({
      page,
      harness,
      collector,
    }) => {
      if (firstCopy === 'queued') await collector.setMode({ kind: 'down' });
      await harness.goto(page);
      // Page 1: the SDK's default store (localStorage) keeps each event until the dispatch
      // promise resolves; here it never does, as if the page unloaded first.
      await harness.start(page, { sdk: 'v6-batch', batchSize: 4, flushInterval: 60_000, ack: 'hold' }, sw);
      const who = users('reload', 4);
      await page.evaluate(({ who, tags }) => window.harness.track(who, tags), { who, tags: TAGS });
      const first = await waitForDispatched(page, who.length);
      expect(first).toHaveLength(1);
      const uuids = expectDistinct(first, who.length);
      expect(await page.evaluate(() => window.harness.storedEventKeys())).toHaveLength(4);
      if (firstCopy === 'delivered') await waitForUuids(collector, uuids, 0);

      // Page 2: the SDK starts, finds the events in its store and dispatches them again.
      await page.reload();
      await page.waitForFunction(() => window.harness !== undefined);
      await harness.start(page, { sdk: 'v6-batch', batchSize: 4, flushInterval: 60_000 }, sw);
      const again = await waitForDispatched(page, who.length);
      expect(sorted(allUuids(again))).toEqual(sorted(uuids));
      expect(await answers(page)).toEqual(again.map(() => ({ statusCode: 202 })));
      await expect.poll(() => page.evaluate(() => window.harness.storedEventKeys())).toEqual([]);

      if (firstCopy === 'queued') await collector.setMode({ kind: 'up' });
      await waitForUuids(collector, uuids, 2000);
      expect([...uuidCounts(collector).entries()].sort()).toEqual(uuids.map((u) => [u, copies] as [string, number]).sort());
    });
  }

  test('the SDK re-batches stored events differently after a reload (4 single-event batches re-sent as one) → each uuid still delivered once', async ({
    page,
    harness,
    collector,
  }) => {
    await harness.goto(page);
    await harness.start(page, { sdk: 'v6-batch', batchSize: 1, flushInterval: 60_000, ack: 'hold' });
    const who = users('regroup', 4);
    await page.evaluate(({ who, tags }) => window.harness.track(who, tags), { who, tags: TAGS });
    const first = await waitForDispatched(page, who.length);
    expect(first).toHaveLength(4);
    const uuids = expectDistinct(first, who.length);
    await waitForUuids(collector, uuids, 0);

    await page.reload();
    await page.waitForFunction(() => window.harness !== undefined);
    await harness.start(page, { sdk: 'v6-batch', batchSize: 4, flushInterval: 60_000 });
    const again = await waitForDispatched(page, who.length);
    expect(again).toHaveLength(1);
    await waitForUuids(collector, uuids, 2000);
    expect([...uuidCounts(collector).entries()].sort()).toEqual(uuids.map((u) => [u, 1] as [string, number]).sort());
  });
});

test.describe('endpoint rewriting', () => {
  test('only URLs starting with a rewrite key are rewritten; the rest of the URL is kept; others go where they said (and are refused if not allowlisted)', async ({
    page,
    harness,
    collector,
  }) => {
    await harness.goto(page);
    await harness.start(page, { sdk: 'v6-forwarding' });
    const who = users('rewrite', 1);
    await page.evaluate((who) => window.harness.decide(who), who);
    const [call] = await waitForDispatched(page, 1);
    const params = JSON.parse(call!.body) as unknown;
    const results = await page.evaluate(
      async ({ params, sdkUrl }) => {
        const d = window.harness.dispatcher!;
        const outcome = (p: Promise<unknown>) =>
          p.then(
            (r) => r,
            (e: { code?: string }) => ({ error: e.code }),
          );
        return {
          suffix: await outcome(d.dispatchEvent({ url: `${sdkUrl}?tag=ü`, httpVerb: 'POST', params })),
          other: await outcome(d.dispatchEvent({ url: 'https://logx.optimizely.com/v2/events', httpVerb: 'POST', params })),
        };
      },
      { params, sdkUrl: SDK_URL },
    );
    expect(results).toEqual({ suffix: { statusCode: 202 }, other: { error: 'endpoint-not-allowed' } });
    await expect.poll(() => collector.log.length).toBe(2);
    await page.waitForTimeout(1000);
    expect(collector.log.map((r) => r.path).sort()).toEqual(['/v1/events', `/v1/events?tag=%C3%BC`]);
    expect(collector.log.every((r) => r.body === call!.body)).toBe(true);
  });

  test('a path as the replacement is resolved against the page: events go to a first-party proxy on the page origin, bodies untouched', async ({
    page,
    harness,
    collector,
    firstParty,
  }) => {
    await harness.goto(page);
    await harness.start(page, { sdk: 'v6-forwarding', rewrite: { [SDK_URL]: FIRST_PARTY_PATH } }, { endpoints: harness.origin });
    const who = users('first-party', 3);
    await page.evaluate(
      ({ who, tags }) => {
        window.harness.decide(who);
        window.harness.track(who, tags);
      },
      { who, tags: TAGS },
    );
    const calls = await waitForDispatched(page, 6);
    expect(await answers(page)).toEqual(calls.map(() => ({ statusCode: 202 })));
    await waitForUuids(collector, allUuids(calls));
    expect(sorted(firstParty)).toEqual(sorted(calls.map((c) => c.body)));
    expect(sorted(delivered(collector))).toEqual(sorted(calls.map((c) => c.body)));
  });
});

/**
 * Playwright forwards the worker's requests to https://logx.optimizely.com (the snippets
 * use the real endpoint, unreachable here) to the collector, and records any other
 * request that would leave the machine.
 */
async function forwardLogx(page: Page, harness: Harness): Promise<string[]> {
  const stray: string[] = [];
  const context = page.context();
  await context.route(
    (url) => !['127.0.0.1', 'localhost'].includes(url.hostname),
    async (route) => {
      stray.push(route.request().url());
      await route.abort();
    },
  );
  await context.route('https://logx.optimizely.com/**', async (route) => {
    const request = route.request();
    const origin = (await request.headerValue('origin')) ?? '*';
    const cors = {
      'access-control-allow-origin': origin,
      'access-control-allow-headers': 'content-type',
      'access-control-allow-methods': 'POST',
    };
    if (request.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: cors });
    const response = await route.fetch({ url: harness.collectorUrl });
    await route.fulfill({ response, headers: { ...response.headers(), ...cors } });
  });
  return stray;
}

test.describe('README snippets ("Use with Optimizely"), run as written', () => {
  for (const name of ['v4', 'v5', 'v6', 'v6-batch']) {
    test(`snippets/${name}.ts: decide and track for 3 users, leave the page → each event delivered once to logx.optimizely.com, nothing else contacted`, async ({
      page,
      harness,
      collector,
    }) => {
      const stray = await forwardLogx(page, harness);
      await harness.goto(page, `?snippet=${name}`);
      await page.waitForFunction(() => window.snippet !== undefined || window.snippetError !== undefined);
      expect(await page.evaluate(() => window.snippetError)).toBeUndefined();
      // The worker is active and the dispatcher has found it (stats() goes through it), as
      // for a page open a moment. Leaving earlier is the first-visit case, tested below.
      await waitForActiveWorker(page);
      await page.evaluate(() => window.snippet!.dispatcher.stats());
      const who = users(`snippet-${name}`, 3);
      await page.evaluate(
        async ({ who, name, tags }) => {
          type Legacy = {
            onReady(): Promise<unknown>;
            activate(e: string, u: string): unknown;
            track(e: string, u: string, a?: object, t?: object): void;
          };
          type Modern = {
            onReady(): Promise<unknown>;
            createUserContext(u: string): { decide(f: string): unknown; trackEvent(e: string, t?: object): void };
          };
          const optimizely = window.snippet!.optimizely;
          if (name === 'v4' || name === 'v5') {
            const o = optimizely as Legacy;
            await o.onReady();
            for (const u of who) {
              o.activate('headline_test', u);
              o.track('purchase', u, {}, tags);
            }
          } else {
            const o = optimizely as Modern;
            await o.onReady();
            for (const u of who) {
              const user = o.createUserContext(u);
              user.decide('checkout_flow');
              user.trackEvent('purchase', tags);
            }
          }
        },
        { who, name, tags: TAGS },
      );
      // Leave at once: the v6 batch processor still holds the events (1 s flush interval);
      // pagehide hands them to the dispatcher.
      await page.goto('about:blank');
      await expect.poll(() => [...uuidCounts(collector).keys()].length, { timeout: 30_000 }).toBe(6);
      await page.waitForTimeout(1500);
      const counts = uuidCounts(collector);
      expect([...counts.values()]).toEqual([1, 1, 1, 1, 1, 1]);
      const visitors = delivered(collector).flatMap((b) => parse(b).visitors);
      expect(sorted(visitors.map((v) => v.visitor_id))).toEqual(sorted([...who, ...who]));
      expect(sorted(visitors.flatMap((v) => v.snapshots.flatMap((s) => s.events.map((e) => e.key))))).toEqual(
        sorted([...who.map(() => 'campaign_activated'), ...who.map(() => 'purchase')]),
      );
      expect(stray).toEqual([]);
    });
  }
});
