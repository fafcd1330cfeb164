// installOutbox inside an app's own Workbox service worker (injectManifest, precaching,
// a runtime-caching route, Workbox's SKIP_WAITING, the app's own messages), built with
// Vite + workbox-build from e2e/composition/. Neither side disturbs the other.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { startStaticServer } from './static-server.mjs';
import { buildCompositionApp } from './composition/build';
import { deliveredCounts, expect, test as base, waitForActiveWorker } from './fixtures';

interface Composition {
  origin: string;
  precached: number;
  /** Serves /sw.js with a trailing `// build N` comment: a byte-different script, so an update. */
  setWorkerBuild(n: number): void;
}

// One build per Playwright worker, for that worker's collector.
const test = base.extend<{ site: Composition }, { composition: Composition }>({
  composition: [
    async ({ servers }, use) => {
      const out = mkdtempSync(join(tmpdir(), 'sw-outbox-composition-'));
      const { dir, precached } = await buildCompositionApp(out, servers.collector.origin);
      let workerBuild = 1;
      const worker = readFileSync(join(dir, 'sw.js'), 'utf8');
      const server = await startStaticServer({
        roots: { '/': dir },
        routes(req, res) {
          if (new URL(req.url ?? '/', 'http://x').pathname !== '/sw.js') return false;
          res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
          res.end(`${worker}\n// build ${workerBuild}\n`);
          return true;
        },
      });
      await use({ origin: server.origin, precached, setWorkerBuild: (n) => void (workerBuild = n) });
      await server.close();
      rmSync(out, { recursive: true, force: true });
    },
    { scope: 'worker' },
  ],
  site: async ({ composition }, use) => {
    composition.setWorkerBuild(1);
    await use(composition);
    composition.setWorkerBuild(1);
  },
});

/** First visit, then a reload so that the page is controlled by the app's worker. */
async function openControlled(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/`);
  await waitForActiveWorker(page);
  await page.reload();
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
}

const syncTags = (page: Page) =>
  page.evaluate(async () => {
    const registration = (await navigator.serviceWorker.ready) as ServiceWorkerRegistration & { sync?: { getTags(): Promise<string[]> } };
    return registration.sync ? registration.sync.getTags() : ['(no SyncManager)'];
  });

const stats = (page: Page) => page.evaluate(() => window.compositionApp.dispatcher.stats());

test('precaching, runtime caching and the outbox coexist: the page loads offline, events queued offline arrive once online', async ({
  page,
  context,
  site,
  collector,
}) => {
  expect(site.precached).toBeGreaterThanOrEqual(2); // index.html and the page's script at least
  await openControlled(page, site.origin);
  // Runtime route (StaleWhileRevalidate): fetched once online, it is cached.
  const online = await page.evaluate(() => fetch('/runtime/greeting.json').then((r) => r.json()));
  expect(online).toEqual({ greeting: "served by the app's runtime-caching route" });

  await context.setOffline(true);
  await page.reload();
  await expect(page.locator('#title')).toHaveText('An app with its own Workbox worker');
  expect(await page.evaluate(() => fetch('/runtime/greeting.json').then((r) => r.json()))).toEqual(online);
  await waitForActiveWorker(page);

  const sent = await page.evaluate(
    (url) => Promise.all(Array.from({ length: 20 }, (_, i) => window.compositionApp.dispatcher.send(url, { n: i, offline: true }))),
    collector.url,
  );
  expect(sent).toEqual(Array(20).fill({ statusCode: 202 }));
  // The library's Background Sync registration is namespaced.
  await expect.poll(() => syncTags(page)).toContain('sw-outbox:deliver');
  expect((await syncTags(page)).every((tag) => tag.startsWith('sw-outbox:'))).toBe(true);
  await page.waitForTimeout(500);
  expect(collector.log).toHaveLength(0);
  expect(await stats(page)).toMatchObject({ queued: 20, delivered: 0 });

  await context.setOffline(false);
  await expect.poll(() => collector.delivered().length).toBe(20);
  const bodies = collector.delivered().map((b) => JSON.parse(b) as { n: number });
  expect(bodies.map((b) => b.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  await expect.poll(async () => (await stats(page)).queued).toBe(0);
  // The app's caches are untouched by the outbox.
  const caches = await page.evaluate(() => globalThis.caches.keys());
  expect(caches).toContain('app-runtime');
  expect(caches.some((name) => name.startsWith('workbox-precache-v2-'))).toBe(true);
});

test("foreign messages (Workbox's SKIP_WAITING, the app's PING) are the app's: the outbox neither answers nor is disturbed", async ({
  page,
  context,
  site,
  collector,
}) => {
  await openControlled(page, site.origin);
  await context.setOffline(true);
  await page.evaluate(
    (url) => Promise.all(Array.from({ length: 5 }, (_, i) => window.compositionApp.dispatcher.send(url, { n: i }))),
    collector.url,
  );
  expect(await stats(page)).toMatchObject({ queued: 5 });

  // Each message goes with its own MessageChannel; every reply on it is collected for 750 ms.
  const replies = await page.evaluate(async () => {
    const worker = (await navigator.serviceWorker.ready).active!;
    const ask = (message: unknown) =>
      new Promise<unknown[]>((resolve) => {
        const channel = new MessageChannel();
        const got: unknown[] = [];
        channel.port1.onmessage = (event) => got.push(event.data);
        worker.postMessage(message, [channel.port2]);
        setTimeout(() => resolve(got), 750);
      });
    const [ping, skipWaiting, string, noType, nullMessage] = await Promise.all([
      ask({ type: 'PING', n: 7 }),
      ask({ type: 'SKIP_WAITING' }),
      // Other shapes an app may send: none is the outbox's business.
      ask('hello'),
      ask({ payload: 1 }),
      ask(null),
    ]);
    return { ping, skipWaiting, string, noType, nullMessage };
  });
  expect(replies).toEqual({ ping: [{ type: 'PONG', n: 7 }], skipWaiting: [], string: [], noType: [], nullMessage: [] });

  // The outbox still holds its 5 events and delivers them, once each, when back online.
  expect(await stats(page)).toMatchObject({ queued: 5, deadLettered: 0, dropped: 0 });
  await context.setOffline(false);
  await expect.poll(() => collector.delivered().length).toBe(5);
  await page.waitForTimeout(300);
  expect(collector.log).toHaveLength(5);
});

test('a Workbox update (waiting worker, messageSkipWaiting) with events queued: the new worker delivers them, once each', async ({
  page,
  site,
  collector,
}) => {
  await openControlled(page, site.origin);
  await collector.setMode({ kind: 'down' });
  const before = await dispatchEvents(page, collector.url, 'before-update', 10);
  expect(before).toEqual(Array(10).fill({ statusCode: 202 }));
  await updateWorker(page, site);

  await collector.setMode({ kind: 'up' });
  await expect.poll(() => deliveredCounts(collector).size).toBe(10);
  await page.waitForTimeout(300);
  expect([...deliveredCounts(collector).values()]).toEqual(Array(10).fill(1));
});

test('after a Workbox update, the dispatcher made with that Workbox talks to the new worker', async ({ page, site, collector }) => {
  await openControlled(page, site.origin);
  await updateWorker(page, site);
  const after = await dispatchEvents(page, collector.url, 'after-update', 3);
  expect(after).toEqual(Array(3).fill({ statusCode: 202 }));
  await expect.poll(() => deliveredCounts(collector).size).toBe(3);
  await expect.poll(async () => (await stats(page)).queued).toBe(0);
});

/** A new build of the app's worker: it installs, waits, the page's `waiting` handler sends SKIP_WAITING, it takes control. */
async function updateWorker(page: Page, site: Composition): Promise<void> {
  site.setWorkerBuild(2);
  await page.evaluate(() => window.compositionApp.wb.update());
  // The page's `waiting` handler normally sends SKIP_WAITING; workbox-window dispatches
  // `waiting` from a 200 ms timer after `installed`, which a loaded machine can miss. Then
  // send it again, as an app's "update now" button would. Installing the new build (its
  // precache included) took over 15 s once on a machine loaded on purpose (3 test workers,
  // 2 CPU-burning loops): the wait is longer than expect's default, and if no new worker is
  // installing or waiting, the update check is made again.
  await expect
    .poll(
      async () => {
        return page.evaluate(async () => {
          const app = window.compositionApp;
          const registration = await navigator.serviceWorker.getRegistration();
          if (app.takeovers === 0 && registration?.waiting) app.wb.messageSkipWaiting();
          else if (app.takeovers === 0 && registration && !registration.installing) await app.wb.update();
          return app.takeovers;
        });
      },
      { timeout: 60_000 },
    )
    .toBe(1);
}

async function dispatchEvents(page: Page, url: string, prefix: string, count: number) {
  return page.evaluate(
    ({ url, prefix, count }) =>
      Promise.all(
        Array.from({ length: count }, (_, i) =>
          window.compositionApp.dispatcher.dispatchEvent({
            url,
            httpVerb: 'POST',
            params: { visitors: [{ snapshots: [{ events: [{ uuid: `${prefix}-${i}` }] }] }] },
          }),
        ),
      ),
    { url, prefix, count },
  );
}
