// The real Optimizely SDKs (v4, v5, v6) with the outbox as their event dispatcher, in
// headless Chromium, against the test collector. The harness page (e2e/optimizely/)
// records every call the SDK makes to dispatchEvent (`JSON.stringify(event.params)`) and
// every answer it gets; the collector's own request log is the ground truth.
//
// The SDKs always address https://logx.optimizely.com/v1/events (unreachable here): every
// test but the snippet ones uses the dispatcher's `rewrite` to send it to the collector.
import type { Page } from '@playwright/test';
import {
  answers,
  type Harness,
  calls as callsOf,
  contextOf,
  delivered,
  expect,
  FIRST_PARTY_PATH,
  parse,
  SDK_URL,
  sorted,
  test,
  uuidCounts,
  uuidsOf,
  waitForActiveWorker,
  waitForDispatched,
  waitForUuids,
} from './optimizely/fixtures';
import type { Call, SdkName } from './optimizely/main';

const SDKS: SdkName[] = ['v4', 'v5', 'v6-forwarding', 'v6-batch'];
const legacy = (sdk: SdkName) => sdk === 'v4' || sdk === 'v5';
const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}-ü`);
const TAGS = { revenue: 4200, value: 12.5, note: 'ünïcødé ✓ "quoted" \\ </script>' };

const allUuids = (calls: Call[]) => calls.flatMap((c) => uuidsOf(c.body));

/** Each uuid appears in exactly one call: the SDK sent nothing twice. */
function expectDistinct(calls: Call[], count: number): string[] {
  const uuids = allUuids(calls);
  expect(uuids).toHaveLength(count);
  expect(new Set(uuids).size).toBe(count);
  return uuids;
}

/** Every request at the collector is the dispatcher's POST of JSON to the rewritten URL. */
function expectRequestsToCollector(collector: { log: { method: string; path: string; headers: Record<string, unknown> }[] }) {
  for (const r of collector.log) {
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/events');
    expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
  }
}

async function act(page: Page, sdk: SdkName, who: string[]) {
  return page.evaluate(
    ({ who, legacy, tags }) => {
      const variations = window.harness.decide(who);
      const activated = legacy ? window.harness.activate(who) : [];
      window.harness.track(who, tags);
      return { variations, activated };
    },
    { who, legacy: legacy(sdk), tags: TAGS },
  );
}

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

/**
 * Checks merged requests against what was dispatched: every uuid exactly once, every
 * request's visitors byte-identical to the dispatched ones and all from events of the
 * request's own context. Returns the delivered requests.
 */
function expectFaithfulMerge(collector: Parameters<typeof delivered>[0], calls: Call[]) {
  const visitorOf = new Map<string, string>();
  const contextOfUuid = new Map<string, string>();
  for (const c of calls) {
    for (const v of parse(c.body).visitors) {
      for (const uuid of v.snapshots.flatMap((s) => s.events.map((e) => e.uuid))) {
        visitorOf.set(uuid, JSON.stringify(v));
        contextOfUuid.set(uuid, contextOf(c.body));
      }
    }
  }
  const requests = delivered(collector);
  const seen: string[] = [];
  for (const body of requests) {
    const request = parse(body);
    const context = contextOf(body);
    for (const v of request.visitors) {
      const uuid = v.snapshots[0]!.events[0]!.uuid;
      seen.push(uuid);
      expect(JSON.stringify(v), `visitor of ${uuid} untouched`).toBe(visitorOf.get(uuid));
      expect(context, `event ${uuid} only merged with events of its own context`).toBe(contextOfUuid.get(uuid));
    }
  }
  expect(sorted(seen)).toEqual(sorted([...visitorOf.keys()]));
  return requests;
}

test.describe('opt-in batching (batching=optimizely)', () => {
  test('40 single-visitor events queued offline → merged into requests of at most batchMaxVisitors=8, each uuid once, visitors untouched', async ({
    page,
    context,
    harness,
    collector,
  }) => {
    await harness.goto(page);
    await harness.start(page, { sdk: 'v6-forwarding' }, { batching: 'optimizely', batchMaxVisitors: 8 });
    await context.setOffline(true);
    const who = users('batch', 40);
    await page.evaluate((who) => window.harness.decide(who), who);
    const calls = await waitForDispatched(page, who.length);
    expect(calls).toHaveLength(40);
    expect(await answers(page)).toEqual(calls.map(() => ({ statusCode: 202 })));
    await context.setOffline(false);
    await waitForUuids(collector, allUuids(calls));

    const requests = expectFaithfulMerge(collector, calls);
    expect(Math.max(...requests.map((b) => parse(b).visitors.length))).toBeLessThanOrEqual(8);
    expect(requests.length).toBeLessThanOrEqual(Math.ceil(40 / 8) + 1);
    expect(collector.log).toHaveLength(requests.length);
    expectRequestsToCollector(collector);
    console.log(`batchMaxVisitors=8: 40 events in ${requests.length} requests (${(requests.length / 40).toFixed(2)} requests/event)`);
  });

  test('merged bodies over 32 KB (sent as a Blob) arrive byte for byte, non-ASCII included', async ({
    page,
    context,
    harness,
    collector,
  }) => {
    await harness.goto(page);
    await harness.start(page, { sdk: 'v6-forwarding' }, { batching: 'optimizely', batchMaxVisitors: 100 });
    await context.setOffline(true);
    const who = users('large', 80);
    await page.evaluate(({ who, tags }) => window.harness.track(who, tags), { who, tags: TAGS });
    const calls = await waitForDispatched(page, who.length);
    await context.setOffline(false);
    await waitForUuids(collector, allUuids(calls));

    const requests = expectFaithfulMerge(collector, calls);
    const longest = Math.max(...requests.map((b) => b.length));
    // BLOB_BODY_CHARS (src/delivery/send.ts): longer bodies go as a Blob.
    expect(longest).toBeGreaterThan(32 * 1024);
    expect(requests.some((b) => b.includes('ünïcødé ✓'))).toBe(true);
    console.log(`80 events in ${requests.length} requests, the longest body ${longest} characters`);
  });

  test('batchMaxBytes bounds every merged body (UTF-8 bytes), fewer requests than events', async ({
    page,
    context,
    harness,
    collector,
  }) => {
    const maxBytes = 3000;
    await harness.goto(page);
    await harness.start(page, { sdk: 'v6-forwarding' }, { batching: 'optimizely', batchMaxVisitors: 100, batchMaxBytes: maxBytes });
    await context.setOffline(true);
    const who = users('bytes', 30);
    await page.evaluate(({ who, tags }) => window.harness.track(who, tags), { who, tags: TAGS });
    const calls = await waitForDispatched(page, who.length);
    const single = Buffer.byteLength(calls[0]!.body);
    expect(single * 2).toBeLessThan(maxBytes); // at least two fit: merging is possible
    await context.setOffline(false);
    await waitForUuids(collector, allUuids(calls));

    const requests = expectFaithfulMerge(collector, calls);
    for (const body of requests) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(maxBytes);
    expect(Math.max(...requests.map((b) => parse(b).visitors.length))).toBeGreaterThan(1);
    expect(requests.length).toBeLessThan(calls.length);
    console.log(`batchMaxBytes=${maxBytes} (one event ≈ ${single} B): 30 events in ${requests.length} requests`);
  });

  test('events with a different context (revision, client_version, anonymize_ip) are never merged together', async ({
    page,
    context,
    harness,
    collector,
  }) => {
    await harness.goto(page);
    await harness.start(page, { sdk: 'v6-forwarding' }, { batching: 'optimizely', batchMaxVisitors: 50 });
    await context.setOffline(true);
    const who = users('ctx', 8);
    await page.evaluate(({ who, tags }) => window.harness.track(who, tags), { who, tags: TAGS });
    const sdkCalls = await waitForDispatched(page, who.length);
    // Hand-made events like the SDK's, in other contexts, interleaved in the queue.
    const template = JSON.parse(sdkCalls[0]!.body) as Record<string, unknown> & { visitors: unknown[] };
    const variants: Record<string, unknown>[] = [{ revision: '8' }, { client_version: '6.6.0' }, { anonymize_ip: false }];
    const made = Array.from({ length: 12 }, (_, i) => {
      const params = structuredClone(template);
      Object.assign(params, variants[i % variants.length]);
      const visitor = params.visitors[0] as { visitor_id: string; snapshots: { events: { uuid: string }[] }[] };
      visitor.visitor_id = `made-${i}`;
      visitor.snapshots[0]!.events[0]!.uuid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      return params;
    });
    expect(await page.evaluate((made) => window.harness.dispatchRaw(made), made)).toEqual(made.map(() => ({ statusCode: 202 })));
    await page.evaluate(({ who, tags }) => window.harness.track(who, tags), { who: users('ctx2', 8), tags: TAGS });
    const calls = await waitForDispatched(page, 8 + 12 + 8);
    await context.setOffline(false);
    await waitForUuids(collector, allUuids(calls));

    const requests = expectFaithfulMerge(collector, calls);
    const contexts = new Set(requests.map(contextOf));
    expect(contexts.size).toBe(4);
    // Same-context events did merge: fewer requests than events.
    expect(requests.length).toBeLessThan(calls.length);
  });

  test('batching off (the default): 20 events queued offline → 20 requests, every body untouched', async ({
    page,
    context,
    harness,
    collector,
  }) => {
    await harness.goto(page);
    await harness.start(page, { sdk: 'v6-forwarding' });
    await context.setOffline(true);
    const who = users('nobatch', 20);
    await page.evaluate((who) => window.harness.decide(who), who);
    const calls = await waitForDispatched(page, who.length);
    await context.setOffline(false);
    await waitForUuids(collector, allUuids(calls));
    expect(sorted(delivered(collector))).toEqual(sorted(calls.map((c) => c.body)));
    expect(collector.log).toHaveLength(20);
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

test.describe('first visit with an SDK that does not wait for the answer', () => {
  // The SDK's URL is rewritten to the local collector here: Playwright does not see the
  // keepalive requests a page sends as it unloads, so a routed logx URL would hide them.
  for (const sdk of ['v5', 'v6-forwarding'] as const) {
    test(`${sdk}: events tracked while the worker is still being registered, then the tab leaves at once → delivered at least once (DESIGN "First visit")`, async ({
      page,
      harness,
      collector,
    }) => {
      // Hold the worker script: its registration cannot complete while the first page lives.
      let release!: () => void;
      const released = new Promise<void>((ok) => (release = ok));
      await page.context().route(/\/sw\.js\?/, async (route) => {
        await released;
        await route.continue().catch(() => {});
      });
      await harness.goto(page);
      const first = users(`first-visit-${sdk}`, 3);
      await page.evaluate(
        async ({ o, who }) => {
          // Not harness.start's wait for an active worker: there is none yet.
          void window.harness.start(o).then(() => window.harness.track(who));
          await new Promise((r) => setTimeout(r, 300));
        },
        { o: { sdk, sw: harness.swQuery(), rewrite: { [SDK_URL]: harness.collectorUrl }, batchSize: 1 }, who: first },
      );
      expect(collector.log, 'nothing can be delivered before the tab leaves').toHaveLength(0);
      await page.goto('about:blank');
      release();
      const visitors = () => new Set(delivered(collector).flatMap((b) => parse(b).visitors.map((v) => v.visitor_id)));
      await expect.poll(() => first.filter((u) => !visitors().has(u)), { timeout: 15_000 }).toEqual([]);
      // The bodies are the SDK's, byte for byte (sent as text: no CORS preflight at unload).
      for (const body of delivered(collector)) expect(() => parse(body)).not.toThrow();
    });
  }
});

test.describe('first visit that loses the network before any worker script has loaded', () => {
  // Neither /sw.js nor the fallback's script can be fetched: nothing can store the events
  // yet. They wait in the page (not refused, not answered) and are stored once the
  // network is back, by the service worker registered then.
  for (const sdk of ['v4', 'v6-forwarding'] as const) {
    test(`${sdk}: events tracked offline wait, are accepted (202) back online, and each is delivered once`, async ({
      page,
      context,
      harness,
      collector,
    }) => {
      await harness.goto(page);
      await context.setOffline(true);
      const who = users(`first-offline-${sdk}`, 4);
      await page.evaluate(
        async ({ o, who }) => {
          await window.harness.start(o);
          window.harness.track(who);
        },
        { o: { sdk, sw: harness.swQuery(), rewrite: { [SDK_URL]: harness.collectorUrl }, batchSize: 1 }, who },
      );
      await expect.poll(async () => (await callsOf(page)).length).toBe(who.length);
      await page.waitForTimeout(2000);
      expect(await answers(page), 'no answer while nothing can store the events').toEqual([]);

      await context.setOffline(false);
      const calls = await waitForDispatched(page, who.length);
      expect(await answers(page)).toEqual(calls.map(() => ({ statusCode: 202 })));
      await waitForActiveWorker(page, 'the service worker registered back online');
      const uuids = expectDistinct(calls, who.length);
      await waitForUuids(collector, uuids);
      expect([...uuidCounts(collector).values()]).toEqual(uuids.map(() => 1));
      expectRequestsToCollector(collector);
    });
  }
});

test('close() in the task that dispatched: resolves once the worker has answered every event (no timeout, no fallback), each delivered once', async ({
  page,
  harness,
  collector,
}) => {
  await harness.goto(page);
  await harness.start(page, { sdk: 'v6-forwarding' });
  // The fallback's script loads only when the service worker counts as silent.
  const fallbackLoads: string[] = [];
  page.on('request', (r) => /fallback/.test(r.url()) && fallbackLoads.push(r.url()));
  const who = users('close', 3);
  await page.evaluate(async (who) => {
    window.harness.decide(who);
    window.harness.track(who);
    // The events are still waiting for their message: close() sends it, then waits for the answer.
    await window.harness.close();
  }, who);
  const calls = await callsOf(page);
  expect(await answers(page)).toEqual(calls.map(() => ({ statusCode: 202 })));
  expect(fallbackLoads, 'the service worker answered: no fallback').toEqual([]);
  const uuids = expectDistinct(calls, who.length * 2);
  await waitForUuids(collector, uuids);
  expect([...uuidCounts(collector).values()]).toEqual(uuids.map(() => 1));
});

test.describe('v6 closingEventDispatcher: closingDispatcher(dispatcher)', () => {
  // With its own eventDispatcher, the v6 batch processor has no closing dispatcher (its
  // default is sendBeacon): the batch it flushes as the page goes would wait for a timer
  // or a worker. closingDispatcher hands it over in the same task, as sendBeacon does.
  test('first visit: the batch the SDK flushes on close() leaves in that task (a keepalive copy), and arrives though the tab dies at once, with no pagehide and no worker', async ({
    page,
    harness,
    collector,
  }) => {
    // Hold the worker script: no service worker can take the events while this page lives.
    let release!: () => void;
    const released = new Promise<void>((ok) => (release = ok));
    await page.context().route(/\/sw\.js\?/, async (route) => {
      await released;
      await route.continue().catch(() => {});
    });
    await harness.goto(page);
    const who = users('closing', 3);
    const seen = await page.evaluate(
      async ({ o, who }) => {
        await window.harness.start(o);
        window.harness.decide(who);
        window.harness.track(who);
        // (The processor takes each event after a write to its store: a moment.)
        await new Promise((r) => setTimeout(r, 200));
        // The SDK batches in memory (10 events, 60 s): nothing dispatched yet.
        const before = window.harness.calls.length + window.harness.closingCalls.length;
        void window.harness.client!.close();
        // Its closing flush, in this task (microtasks only, no timer).
        for (let i = 0; i < 10; i++) await Promise.resolve();
        return { before, calls: window.harness.calls.length, closing: window.harness.closingCalls };
      },
      {
        o: {
          sdk: 'v6-batch' as const,
          sw: harness.swQuery(),
          rewrite: { [SDK_URL]: harness.collectorUrl },
          batchSize: 10,
          flushInterval: 60_000,
          closing: true,
        },
        who,
      },
    );
    expect(seen.before).toBe(0);
    expect(seen.calls, 'the closing batch goes to the closing dispatcher only').toBe(0);
    expect(seen.closing).toHaveLength(1);
    const uuids = uuidsOf(seen.closing[0]!.body);
    expect(uuids).toHaveLength(who.length * 2);
    // The renderer dies: no pagehide, no timer, no answer from any worker.
    const cdp = await page.context().newCDPSession(page);
    const crashed = page.waitForEvent('crash');
    void cdp.send('Page.crash').catch(() => {});
    await crashed;
    release();
    await expect.poll(() => sorted([...uuidCounts(collector).keys()]), { timeout: 15_000 }).toEqual(sorted(uuids));
    // The SDK's body, byte for byte (as text: no CORS preflight for a last-chance copy).
    expect(delivered(collector)).toEqual([seen.closing[0]!.body]);
  });

  test('an ordinary visit: the closing batch is stored by the worker and delivered once, like any other', async ({
    page,
    harness,
    collector,
  }) => {
    await harness.goto(page);
    await harness.start(page, { sdk: 'v6-batch', batchSize: 10, flushInterval: 60_000, closing: true });
    const who = users('closing-sw', 2);
    await act(page, 'v6-batch', who);
    const closing = await page.evaluate(async () => {
      await window.harness.client!.close();
      return window.harness.closingCalls;
    });
    expect(closing).toHaveLength(1);
    const uuids = uuidsOf(closing[0]!.body);
    await waitForUuids(collector, uuids);
    expect([...uuidCounts(collector).values()]).toEqual(uuids.map(() => 1));
    expectRequestsToCollector(collector);
    await expect.poll(() => page.evaluate(() => window.harness.dispatcher!.stats().then((s) => s.queued))).toBe(0);
  });
});
