// Browsers without Background Sync, without service workers, without IndexedDB: the
// same guarantees. Each case is made in Chromium by taking the feature away:
// - no Background Sync: the worker /sw-nosync.js (e2e/app/public) deletes SyncManager
//   and registration.sync, then imports the ready-made /sw.js;
// - no service worker: an init script deletes Navigator.prototype.serviceWorker, and
//   the dispatcher falls back to the page-side outbox (same store, same delivery code);
// - registration refused: a script that 404s, throws, or fails its install;
// - no IndexedDB: an init script makes indexedDB.open throw a SecurityError; the outbox
//   keeps events in memory (degraded) and still delivers while the page lives;
// - takeover: what the page-side outbox queued, a service worker delivers later.
// The collector's request log is the ground truth; reconnect → delivery times are printed.
import type { Page } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliveredCounts, dispatchMany, expect, makeParams, test, uuidOf, waitForActiveWorker } from './fixtures';
import {
  blockIndexedDBEverywhere,
  duplicates,
  harnessUrl,
  INSECURE_HOST,
  lastDeliveryAt,
  launchWithInsecureHost,
  launchWithSiteDataBlocked,
  probeWorker,
  queuedInIndexedDB,
  removeServiceWorkerApi,
  stats,
  workerControl,
} from './fallback/helpers';

const all202 = (sent: { statusCode: number }[]) => sent.every((s) => s.statusCode === 202);

/** Dispatches one event and returns how long the promise took to settle, and how. */
function timedDispatch(page: Page, url: string, uuid: string) {
  return page.evaluate(
    async ({ url, params }) => {
      const start = performance.now();
      try {
        const response = await window.dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params });
        return {
          ms: Math.round(performance.now() - start),
          statusCode: response.statusCode,
          code: undefined as string | undefined,
          message: undefined as string | undefined,
        };
      } catch (error) {
        return {
          ms: Math.round(performance.now() - start),
          statusCode: 0,
          code: (error as { code?: string }).code,
          message: (error as Error).message,
        };
      }
    },
    { url, params: makeParams(uuid) },
  );
}

test.describe('no Background Sync (a worker without SyncManager)', () => {
  test('offline → online with the page open: every event delivered within seconds, no sync registered', async ({
    page,
    app,
    collector,
    context,
  }) => {
    await page.goto(harnessUrl(app, '/sw-nosync.js'));
    await waitForActiveWorker(page);
    const probe = await probeWorker(page);
    expect(probe).toMatchObject({ syncManager: false, registrationSync: false });
    // The options reached the imported /sw.js through the importing worker's location.
    expect(probe.search).toContain(`endpoints=${encodeURIComponent(collector.origin)}`);
    expect(await stats(page)).toMatchObject({ mode: 'service-worker', degraded: false });

    await context.setOffline(true);
    const sent = await dispatchMany(page, collector.url, 30, 'nosync-offline');
    expect(all202(sent)).toBe(true);
    await page.waitForTimeout(1500);
    expect(collector.log).toHaveLength(0);
    // A worker with Background Sync would have a pending registration now; this one has none.
    expect(
      await page.evaluate(async () => {
        const registration = (await navigator.serviceWorker.ready) as ServiceWorkerRegistration & {
          sync: { getTags(): Promise<string[]> };
        };
        return registration.sync.getTags();
      }),
    ).toEqual([]);

    const t0 = Date.now();
    await context.setOffline(false);
    await expect.poll(() => deliveredCounts(collector).size, { timeout: 15_000 }).toBe(30);
    const ms = lastDeliveryAt(collector) - t0;
    console.log(`no Background Sync, page open: 30 events, setOffline(false) → last delivery ${ms} ms`);
    expect(collector.delivered().sort()).toEqual(sent.map((s) => s.body).sort());
    expect(duplicates(deliveredCounts(collector))).toBe(0);
    expect(ms).toBeLessThan(5000);
  });

  test('no page open: queued while the collector is down, delivered at the next worker start (and not before)', async ({
    page,
    app,
    collector,
    context,
  }) => {
    // A page of no origin of ours, to drive the worker over CDP once the harness is closed.
    const control = await context.newPage();
    const workers = await workerControl(context, control);
    await collector.setMode({ kind: 'down' });
    await page.goto(harnessUrl(app, '/sw-nosync.js'));
    await waitForActiveWorker(page);
    expect(await probeWorker(page)).toMatchObject({ syncManager: false, registrationSync: false });
    const sent = await dispatchMany(page, collector.url, 20, 'nosync-closed');
    expect(all202(sent)).toBe(true);
    await expect.poll(async () => (await stats(page)).retried).toBeGreaterThan(0);
    await page.close();

    // No page, no worker: the browser stops idle workers on its own; here at once.
    await workers.stopAll();
    await expect.poll(() => workers.running()).toEqual(['stopped']);
    await collector.setMode({ kind: 'up' });
    // Without Background Sync nothing wakes a stopped worker: nothing is sent meanwhile.
    await control.waitForTimeout(3000);
    expect(collector.log).toHaveLength(0);

    const t0 = Date.now();
    await workers.start(`${app.origin}/`);
    await expect.poll(() => deliveredCounts(collector).size, { timeout: 20_000 }).toBe(20);
    const ms = lastDeliveryAt(collector) - t0;
    console.log(`no Background Sync, no page: 20 events, worker start → last delivery ${ms} ms`);
    expect(new Set(collector.delivered())).toEqual(new Set(sent.map((s) => s.body)));
    expect(duplicates(deliveredCounts(collector))).toBe(0);
    await workers.detach();
  });
});

test.describe('no service worker API: the page-side outbox', () => {
  test.beforeEach(async ({ context }) => {
    await context.addInitScript(removeServiceWorkerApi);
  });

  test('single tab: 202 after the page commits to IndexedDB, stats mode "page", delivered once', async ({ page, app, collector }) => {
    await page.goto(app.url());
    expect(await page.evaluate(() => 'serviceWorker' in navigator)).toBe(false);
    await collector.setMode({ kind: 'down' });
    const sent = await dispatchMany(page, collector.url, 20, 'page-single');
    expect(all202(sent)).toBe(true);
    // Nothing can have been delivered: all 20 are in the shared store, not in memory.
    expect(await queuedInIndexedDB(page)).toBe(20);
    expect(await stats(page)).toMatchObject({ mode: 'page', degraded: false, queued: 20 });

    const t0 = Date.now();
    await collector.setMode({ kind: 'up' });
    await expect.poll(() => deliveredCounts(collector).size, { timeout: 15_000 }).toBe(20);
    console.log(`no service worker, one tab: 20 events, collector up → last delivery ${lastDeliveryAt(collector) - t0} ms`);
    expect(collector.delivered().sort()).toEqual(sent.map((s) => s.body).sort());
    for (const request of collector.log.filter((r) => r.status === 200)) {
      expect(request.method).toBe('POST');
      expect(request.headers['content-type']).toBe('application/json');
    }
    await page.waitForTimeout(1000);
    expect(duplicates(deliveredCounts(collector))).toBe(0);
    await expect.poll(() => stats(page)).toMatchObject({ mode: 'page', queued: 0, delivered: 20 });
    expect(await queuedInIndexedDB(page)).toBe(0);
  });

  test('three tabs dispatching 3×50 concurrently while the collector is down → 150 delivered, zero duplicates', async ({
    page,
    app,
    collector,
    context,
  }) => {
    await collector.setMode({ kind: 'down' });
    const pages = [page, await context.newPage(), await context.newPage()];
    await Promise.all(pages.map((p) => p.goto(app.url())));
    const sent = (await Promise.all(pages.map((p, i) => dispatchMany(p, collector.url, 50, `tab${i}`)))).flat();
    expect(sent).toHaveLength(150);
    expect(all202(sent)).toBe(true);
    expect(await queuedInIndexedDB(page)).toBe(150);
    for (const p of pages) expect(await stats(p)).toMatchObject({ mode: 'page', degraded: false });

    const t0 = Date.now();
    await collector.setMode({ kind: 'up' });
    await expect.poll(() => deliveredCounts(collector).size, { timeout: 20_000 }).toBe(150);
    const ms = lastDeliveryAt(collector) - t0;
    // Every tab keeps its timers and wake-ups going a while longer: nothing more may arrive.
    await page.waitForTimeout(2000);
    const counts = deliveredCounts(collector);
    console.log(
      `no service worker, three tabs: 150 events, collector up → last delivery ${ms} ms, ${collector.delivered().length} deliveries, ${duplicates(counts)} duplicates`,
    );
    expect(new Set(counts.keys())).toEqual(new Set(sent.map((s) => s.uuid)));
    expect(duplicates(counts)).toBe(0);
  });

  test('offline → online: the page flushes on `online`', async ({ page, app, collector, context }) => {
    await page.goto(app.url());
    await expect.poll(async () => (await stats(page)).mode).toBe('page');
    await context.setOffline(true);
    const sent = await dispatchMany(page, collector.url, 30, 'page-offline');
    expect(all202(sent)).toBe(true);
    await page.waitForTimeout(1500);
    expect(collector.log).toHaveLength(0);

    const t0 = Date.now();
    await context.setOffline(false);
    await expect.poll(() => deliveredCounts(collector).size, { timeout: 15_000 }).toBe(30);
    const ms = lastDeliveryAt(collector) - t0;
    console.log(`no service worker, offline → online: 30 events, setOffline(false) → last delivery ${ms} ms`);
    expect(duplicates(deliveredCounts(collector))).toBe(0);
    expect(ms).toBeLessThan(5000);
  });

  test('becoming visible releases what a network failure held back (as `online` does), long before its retry time', async ({
    page,
    app,
    collector,
  }) => {
    // Backoff of 10 minutes: only a wake-up can deliver within the test.
    await page.goto(app.url({ baseMs: 600_000, maxMs: 600_000 }));
    await collector.setMode({ kind: 'down' });
    const sent = await dispatchMany(page, collector.url, 1, 'page-visible');
    expect(all202(sent)).toBe(true);
    await expect.poll(async () => (await stats(page)).retried).toBeGreaterThan(0);
    await collector.setMode({ kind: 'up' });
    await page.waitForTimeout(2000);
    expect(collector.log).toHaveLength(0);

    // Headless pages are always visible: the event is dispatched as the browser would.
    const t0 = Date.now();
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await expect.poll(() => collector.delivered(), { timeout: 10_000 }).toEqual([sent[0]!.body]);
    console.log(`no service worker, visibilitychange → delivery ${lastDeliveryAt(collector) - t0} ms`);
  });

  test('reload with events queued (collector down) → delivered after the reload', async ({ page, app, collector }) => {
    await collector.setMode({ kind: 'down' });
    await page.goto(app.url());
    const sent = await dispatchMany(page, collector.url, 20, 'page-reload');
    expect(all202(sent)).toBe(true);
    await page.reload();
    await expect.poll(async () => (await stats(page)).mode).toBe('page');
    expect(await queuedInIndexedDB(page)).toBe(20);
    // The unloaded page's keepalive requests (pagehide) meet a collector still down.
    await page.waitForTimeout(1000);

    const t0 = Date.now();
    await collector.setMode({ kind: 'up' });
    await expect.poll(() => deliveredCounts(collector).size, { timeout: 15_000 }).toBe(20);
    const ms = lastDeliveryAt(collector) - t0;
    console.log(`no service worker, after reload: 20 events, collector up → last delivery ${ms} ms`);
    expect(new Set(collector.delivered())).toEqual(new Set(sent.map((s) => s.body)));
    await page.waitForTimeout(1000);
    expect(duplicates(deliveredCounts(collector))).toBe(0);
  });
});

test.describe('an http:// page (not a secure context)', () => {
  test('no service worker API, no Web Locks, no crypto.randomUUID or crypto.subtle → 202, mode "page", delivered; two tabs, zero duplicates', async ({
    app,
    collector,
  }) => {
    const browser = await launchWithInsecureHost();
    try {
      const context = await browser.newContext();
      const url = harnessUrl(app).replace('127.0.0.1', INSECURE_HOST);
      const pages = [await context.newPage(), await context.newPage()];
      await collector.setMode({ kind: 'down' });
      await Promise.all(pages.map((p) => p.goto(url)));
      expect(
        await pages[0]!.evaluate(() => ({
          secure: isSecureContext,
          serviceWorker: 'serviceWorker' in navigator,
          locks: 'locks' in navigator,
          randomUUID: typeof crypto.randomUUID,
          subtle: typeof crypto.subtle,
        })),
      ).toEqual({ secure: false, serviceWorker: false, locks: false, randomUUID: 'undefined', subtle: 'undefined' });

      const first = await timedDispatch(pages[0]!, collector.url, 'http-first');
      console.log(`http:// page: first dispatchEvent ${JSON.stringify(first)}`);
      expect(first).toMatchObject({ statusCode: 202 });
      const sent = (await Promise.all(pages.map((p, i) => dispatchMany(p, collector.url, 20, `http-tab${i}`)))).flat();
      expect(all202(sent)).toBe(true);
      expect(await stats(pages[0]!)).toMatchObject({ mode: 'page', degraded: false });

      const t0 = Date.now();
      await collector.setMode({ kind: 'up' });
      await expect.poll(() => deliveredCounts(collector).size, { timeout: 15_000 }).toBe(41);
      const ms = lastDeliveryAt(collector) - t0;
      await pages[0]!.waitForTimeout(2000);
      const counts = deliveredCounts(collector);
      console.log(`http:// page, two tabs: 41 events, collector up → last delivery ${ms} ms, ${duplicates(counts)} duplicates`);
      expect(duplicates(counts)).toBe(0);
    } finally {
      await browser.close();
    }
  });
});

test.describe('registration refused → the page-side outbox', () => {
  for (const [what, script] of [
    ['a worker script that 404s', '/no-such-sw.js'],
    ['a worker script that throws', '/sw-throws.js'],
  ] as const) {
    test(`${what}: 202, stats mode "page", delivered`, async ({ page, app, collector }) => {
      await page.goto(harnessUrl(app, script));
      const first = await timedDispatch(page, collector.url, `${script}-first`);
      expect(first).toMatchObject({ statusCode: 202 });
      const sent = await dispatchMany(page, collector.url, 5, `refused${script}`);
      expect(all202(sent)).toBe(true);
      expect(await stats(page)).toMatchObject({ mode: 'page', degraded: false });
      await expect.poll(() => deliveredCounts(collector).size).toBe(6);
      console.log(`registration refused (${what}): first dispatchEvent settled in ${first.ms} ms`);
    });
  }

  test('a worker that fails its install step: 202, stats mode "page", delivered', async ({ page, app, collector }) => {
    test.setTimeout(120_000);
    await page.goto(harnessUrl(app, '/sw-install-fails.js'));
    const first = await timedDispatch(page, collector.url, 'install-fails-first');
    console.log(`registration refused (install fails): first dispatchEvent settled in ${first.ms} ms with ${JSON.stringify(first)}`);
    expect(first).toMatchObject({ statusCode: 202 });
    expect(await stats(page)).toMatchObject({ mode: 'page' });
    await expect.poll(() => deliveredCounts(collector).size).toBe(1);
  });

  // /sw.js?maxQueueSize=-5 with the default fallback options (the same query): in
  // e2e/fallback-query.spec.ts, with the other readings of the worker URL's query.
  test('/sw.js?maxQueueSize=-5 with explicit fallback options: stats mode "page", delivered', async ({ page, app, collector }) => {
    await page.goto(`${app.origin}/`);
    const first = await page.evaluate(
      async ({ collectorOrigin, url, params }) => {
        window.dispatcher = window.swOutbox.createDispatcher({
          serviceWorker: `/sw.js?endpoints=${encodeURIComponent(collectorOrigin)}&maxQueueSize=-5`,
          fallback: { endpoints: [collectorOrigin], backoff: { baseMs: 100, maxMs: 2000 } },
        });
        return window.dispatcher.dispatchEvent({ url, httpVerb: 'POST', params });
      },
      { collectorOrigin: collector.origin, url: collector.url, params: makeParams('explicit-fallback') },
    );
    expect(first).toEqual({ statusCode: 202 });
    expect(await stats(page)).toMatchObject({ mode: 'page' });
    await expect.poll(() => deliveredCounts(collector).size).toBe(1);
  });

  test('fallback: false → dispatchEvent rejects with worker-unavailable, the callback gets 503, nothing is sent', async ({
    page,
    app,
    collector,
  }) => {
    await page.goto(`${app.origin}/`);
    const outcomes = await page.evaluate(
      async ({ collectorOrigin, url, params }) => {
        const results: { script: string; code?: string; message?: string; callbackStatus?: number }[] = [];
        for (const script of ['/sw.js', '/sw-throws.js', '/no-such-sw.js']) {
          const dispatcher = window.swOutbox.createDispatcher({
            serviceWorker: `${script}?endpoints=${encodeURIComponent(collectorOrigin)}&maxQueueSize=-5`,
            fallback: false,
          });
          const result: (typeof results)[number] = { script };
          let callbackStatus: Promise<number> = Promise.resolve(-1);
          try {
            callbackStatus = new Promise<number>((ok) => {
              void dispatcher
                .dispatchEvent({ url, httpVerb: 'POST', params }, (r) => ok(r.statusCode))
                .catch((error) => {
                  result.code = (error as { code?: string }).code;
                  result.message = (error as Error).message;
                });
            });
            result.callbackStatus = await callbackStatus;
          } finally {
            await dispatcher.close();
          }
          results.push(result);
        }
        return results;
      },
      { collectorOrigin: collector.origin, url: collector.url, params: makeParams('no-fallback') },
    );
    console.log(`fallback: false → ${JSON.stringify(outcomes.map((o) => [o.script, o.code, o.callbackStatus]))}`);
    for (const o of outcomes) expect(o).toMatchObject({ code: 'worker-unavailable', callbackStatus: 503 });
    await page.waitForTimeout(500);
    expect(collector.log).toHaveLength(0);
  });

  test('the worker script 404s and so does the fallback script: worker-unavailable (503) at once, not after ackTimeoutMs × maxPostAttempts', async ({
    page,
    context,
    app,
    collector,
  }) => {
    // A fallback that never starts fires `error`; its posts would otherwise wait 3 × 60 s here.
    test.setTimeout(40_000);
    await context.route(/\/assets\/fallback[^/]*\.js/, (route) => route.fulfill({ status: 404, body: 'gone' }));
    await page.goto(`${app.origin}/`);
    const outcome = await page.evaluate(
      async ({ collectorOrigin, url, params }) => {
        const dispatcher = window.swOutbox.createDispatcher({
          serviceWorker: `/no-such-sw.js?endpoints=${encodeURIComponent(collectorOrigin)}`,
          ackTimeoutMs: 60_000,
        });
        const callbackStatus = new Promise<number>((ok) => {
          void dispatcher.dispatchEvent({ url, httpVerb: 'POST', params }, (r) => ok(r.statusCode)).catch(() => {});
        });
        const code = await dispatcher.send(url, params).then(
          () => 'accepted',
          (error: { code?: string }) => error.code,
        );
        return { code, callbackStatus: await callbackStatus };
      },
      { collectorOrigin: collector.origin, url: collector.url, params: makeParams('no-scripts') },
    );
    expect(outcome).toEqual({ code: 'worker-unavailable', callbackStatus: 503 });
    expect(collector.log).toHaveLength(0);
  });
});

test.describe('no IndexedDB (blocked storage)', () => {
  test('no service worker API and indexedDB.open throwing: 202 all the same, stats degraded with mode "memory", a degraded event, delivered while the page lives', async ({
    page,
    app,
    collector,
    context,
  }) => {
    await context.addInitScript(removeServiceWorkerApi);
    await context.addInitScript(blockIndexedDBEverywhere);
    await collector.setMode({ kind: 'down' });
    await page.goto(app.url());
    expect(
      await page.evaluate(() => {
        try {
          indexedDB.open('probe');
          return 'opened';
        } catch (error) {
          return (error as DOMException).name;
        }
      }),
    ).toBe('SecurityError');
    expect(await page.evaluate(() => 'serviceWorker' in navigator)).toBe(false);

    // Never an exception into the SDK: neither thrown nor rejected; v3–v5 callbacks get 202.
    const viaCallback = await page.evaluate(
      ({ url, params }) =>
        new Promise<unknown>((ok) => {
          try {
            void window
              .dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params }, (r) => ok(r))
              .catch((e: Error) => ok(`rejected: ${e.message}`));
          } catch (error) {
            ok(`threw: ${(error as Error).message}`);
          }
        }),
      { url: collector.url, params: makeParams('memory-callback') },
    );
    expect(viaCallback).toEqual({ statusCode: 202 });
    const sent = await dispatchMany(page, collector.url, 10, 'memory');
    expect(all202(sent)).toBe(true);

    expect(await stats(page)).toMatchObject({ mode: 'memory', degraded: true, queued: 11 });
    const degraded = await page.evaluate(() => window.outboxEvents.filter((e) => e.name === 'degraded').map((e) => e.detail));
    expect(degraded).toHaveLength(1);
    // The reason carries the browser's own error: the override really reached the outbox.
    expect(degraded[0]).toMatchObject({ reason: expect.stringContaining('insecure') });
    console.log(`no IndexedDB: degraded event ${JSON.stringify(degraded[0])}`);

    const t0 = Date.now();
    await collector.setMode({ kind: 'up' });
    await expect.poll(() => deliveredCounts(collector).size, { timeout: 15_000 }).toBe(11);
    console.log(`no IndexedDB (memory): 11 events, collector up → last delivery ${lastDeliveryAt(collector) - t0} ms`);
    expect(new Set(collector.delivered())).toEqual(new Set([...sent.map((s) => s.body), JSON.stringify(makeParams('memory-callback'))]));
    await page.waitForTimeout(1000);
    expect(duplicates(deliveredCounts(collector))).toBe(0);
    expect(await stats(page)).toMatchObject({ mode: 'memory', degraded: true, queued: 0, delivered: 11 });
  });

  test('site data blocked in the browser settings (real Chromium: IndexedDB denied, registration refused, Web Locks throw) → memory mode, delivered', async ({
    app,
    collector,
  }) => {
    const profile = mkdtempSync(join(tmpdir(), 'sw-outbox-blocked-'));
    const context = await launchWithSiteDataBlocked(profile);
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await collector.setMode({ kind: 'down' });
      await page.goto(app.url());
      const browserSays = await page.evaluate(async () => {
        const idb = await new Promise<string>((ok) => {
          const request = indexedDB.open('probe');
          request.onsuccess = () => ok('opened');
          request.onerror = () => ok(String(request.error?.message));
        });
        const locks = await navigator.locks.request('probe', () => 'granted').catch((e: DOMException) => e.name);
        return { idb, locks };
      });
      expect(browserSays).toEqual({ idb: expect.stringContaining('denied'), locks: 'SecurityError' });

      const sent = await dispatchMany(page, collector.url, 10, 'blocked');
      expect(all202(sent)).toBe(true);
      expect(await stats(page)).toMatchObject({ mode: 'memory', degraded: true, queued: 10 });
      const degraded = await page.evaluate(() => window.outboxEvents.filter((e) => e.name === 'degraded').map((e) => e.detail));
      expect(degraded).toHaveLength(1);
      console.log(`site data blocked: degraded event ${JSON.stringify(degraded[0])}`);

      const t0 = Date.now();
      await collector.setMode({ kind: 'up' });
      await expect.poll(() => deliveredCounts(collector).size, { timeout: 15_000 }).toBe(10);
      console.log(`site data blocked (memory): 10 events, collector up → last delivery ${lastDeliveryAt(collector) - t0} ms`);
      await page.waitForTimeout(1000);
      expect(duplicates(deliveredCounts(collector))).toBe(0);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});

test.describe('takeover: what the page-side outbox queued, a service worker delivers', () => {
  test('queued by a page without the service worker API, tab closed; a later page registers the worker → each delivered exactly once', async ({
    page,
    app,
    collector,
    context,
  }) => {
    // Per page, not per context: the next page of the same profile has the API.
    await page.addInitScript(removeServiceWorkerApi);
    await collector.setMode({ kind: 'down' });
    await page.goto(app.url());
    const sent = await dispatchMany(page, collector.url, 20, 'takeover');
    expect(all202(sent)).toBe(true);
    expect(await stats(page)).toMatchObject({ mode: 'page', queued: 20 });
    await page.close();

    await collector.setMode({ kind: 'up' });
    const next = await context.newPage();
    const t0 = Date.now();
    await next.goto(app.url());
    await waitForActiveWorker(next);
    expect(await stats(next)).toMatchObject({ mode: 'service-worker' });
    await expect.poll(() => deliveredCounts(collector).size, { timeout: 15_000 }).toBe(20);
    console.log(`takeover (tab closed): 20 events, worker page opened → last delivery ${lastDeliveryAt(collector) - t0} ms`);
    await next.waitForTimeout(1500);
    expect(new Set(collector.delivered())).toEqual(new Set(sent.map((s) => s.body)));
    // The worker sent each event once. Anything earlier came from the closed tab: on
    // `pagehide` it hands what it still waits for to keepalive requests, which Chromium
    // may send after the page is gone (here: after the collector came back). Those stay
    // queued (their outcome is unknown), so the worker sends them again: at-least-once.
    const byWorker = new Map<string, number>();
    for (const r of collector.log.filter((r) => r.status === 200 && r.at >= t0))
      byWorker.set(uuidOf(r.body), (byWorker.get(uuidOf(r.body)) ?? 0) + 1);
    const early = collector.log.filter((r) => r.status === 200 && r.at < t0).map((r) => uuidOf(r.body));
    console.log(`takeover (tab closed): delivered by the closed tab's keepalive requests: ${early.length ? early.join(' ') : 'none'}`);
    expect(byWorker.size).toBe(20);
    expect(duplicates(byWorker)).toBe(0);
    await expect.poll(() => stats(next)).toMatchObject({ queued: 0 });
  });

  test('the page-side outbox still running in one tab while a worker starts in another → each delivered exactly once', async ({
    page,
    app,
    collector,
    context,
  }) => {
    await page.addInitScript(removeServiceWorkerApi);
    await collector.setMode({ kind: 'down' });
    await page.goto(app.url());
    const sent = await dispatchMany(page, collector.url, 50, 'takeover-live');
    expect(all202(sent)).toBe(true);

    const next = await context.newPage();
    await next.goto(app.url());
    await waitForActiveWorker(next);
    expect(await stats(page)).toMatchObject({ mode: 'page' });
    expect(await stats(next)).toMatchObject({ mode: 'service-worker' });

    const t0 = Date.now();
    await collector.setMode({ kind: 'up' });
    await expect.poll(() => deliveredCounts(collector).size, { timeout: 15_000 }).toBe(50);
    const ms = lastDeliveryAt(collector) - t0;
    await next.waitForTimeout(2000);
    const counts = deliveredCounts(collector);
    console.log(`takeover (both live): 50 events, collector up → last delivery ${ms} ms, ${duplicates(counts)} duplicates`);
    expect(new Set(counts.keys())).toEqual(new Set(sent.map((s) => s.uuid)));
    expect(duplicates(counts)).toBe(0);
  });
});
