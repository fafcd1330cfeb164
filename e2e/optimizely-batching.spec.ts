// The real Optimizely SDKs with opt-in batching (the ready-made worker's batching=optimizely):
// events queued offline are merged into fewer requests, every visitor byte for byte, each
// uuid once, never across contexts; batching off leaves every body untouched. The
// collector's own request log is the ground truth (see optimizely.spec.ts for the harness).
import type { BrowserContext, Page } from '@playwright/test';
import {
  allUuids,
  answers,
  expectRequestsToCollector,
  contextOf,
  delivered,
  expect,
  type Harness,
  parse,
  type SwOptions,
  sorted,
  TAGS,
  test,
  users,
  waitForDispatched,
  waitForUuids,
} from './optimizely/fixtures';
import type { Call } from './optimizely/main';

/**
 * The v6 SDK (forwarding) with the worker's `options`, offline: `n` users tracked (or
 * decided, `how: 'decide'`) → the calls the SDK made to dispatchEvent, each accepted.
 */
async function dispatchOffline(
  { page, context, harness }: { page: Page; context: BrowserContext; harness: Harness },
  options: SwOptions,
  prefix: string,
  n: number,
  how: 'track' | 'decide' = 'track',
): Promise<Call[]> {
  await harness.goto(page);
  await harness.start(page, { sdk: 'v6-forwarding' }, options);
  await context.setOffline(true);
  const who = users(prefix, n);
  if (how === 'decide') await page.evaluate((who) => window.harness.decide(who), who);
  else await page.evaluate(({ who, tags }) => window.harness.track(who, tags), { who, tags: TAGS });
  return waitForDispatched(page, who.length);
}

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
    const calls = await dispatchOffline({ page, context, harness }, { batching: 'optimizely', batchMaxVisitors: 8 }, 'batch', 40, 'decide');
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
    const calls = await dispatchOffline({ page, context, harness }, { batching: 'optimizely', batchMaxVisitors: 100 }, 'large', 80);
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
    const calls = await dispatchOffline(
      { page, context, harness },
      { batching: 'optimizely', batchMaxVisitors: 100, batchMaxBytes: maxBytes },
      'bytes',
      30,
    );
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
    const sdkCalls = await dispatchOffline({ page, context, harness }, { batching: 'optimizely', batchMaxVisitors: 50 }, 'ctx', 8);
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
    const calls = await dispatchOffline({ page, context, harness }, {}, 'nobatch', 20, 'decide');
    await context.setOffline(false);
    await waitForUuids(collector, allUuids(calls));
    expect(sorted(delivered(collector))).toEqual(sorted(calls.map((c) => c.body)));
    expect(collector.log).toHaveLength(20);
  });
});
