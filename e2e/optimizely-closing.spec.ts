// The real Optimizely SDKs on a first visit and at the end of one: an SDK that does not
// wait for the answer, a network lost before any worker script loaded, close() in the
// dispatching task, and the v6 batch processor's closingEventDispatcher given
// closingDispatcher(dispatcher). The collector's own request log is the ground truth.
import type { Page } from '@playwright/test';
import {
  act,
  answers,
  expectDistinct,
  expectRequestsToCollector,
  calls as callsOf,
  delivered,
  expect,
  parse,
  SDK_URL,
  sorted,
  test,
  users,
  uuidCounts,
  uuidsOf,
  waitForActiveWorker,
  waitForDispatched,
  waitForUuids,
} from './optimizely/fixtures';

/** Holds every request for the worker script until the returned function is called. */
async function holdWorkerScript(page: Page): Promise<() => void> {
  let release!: () => void;
  const released = new Promise<void>((ok) => (release = ok));
  await page.context().route(/\/sw\.js\?/, async (route) => {
    await released;
    await route.continue().catch(() => {});
  });
  return release;
}

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
      const release = await holdWorkerScript(page);
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
    const release = await holdWorkerScript(page);
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
