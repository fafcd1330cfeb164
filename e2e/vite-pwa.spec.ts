// examples/vite-pwa/: a Vite app whose service worker comes from vite-plugin-pwa
// (strategies 'injectManifest': precacheAndRoute(self.__WB_MANIFEST) plus installOutbox),
// registered by the plugin's virtual:pwa-register, whose registration goes to
// createDispatcher. Built with the example's own `vite build` (its vite.config.ts, as
// `npm run build` would), twice: versions 1 and 2, so that a deploy is a new worker.
//
// `sw-outbox` resolves as an installed dependency does, through the package's exports
// map: here the repo's own dist/ (Vite and TypeScript resolve a package's own name from
// inside it); in `npm run test:pack`, SW_OUTBOX_VITE_PWA_DIR points this spec at a copy of
// the example inside an app that installed the packed tarball (and its own vite,
// vite-plugin-pwa and workbox-precaching), built with that app's vite.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Page } from '@playwright/test';
import type { Collector } from './collector.mjs';
import { expect, test as base, waitForActiveWorker } from './fixtures';
import { startStaticServer } from './static-server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const exampleDir = process.env.SW_OUTBOX_VITE_PWA_DIR ?? join(root, 'examples/vite-pwa');

interface Site {
  origin: string;
  /** Replaces the served files with that version's build (as a deploy does). */
  deploy(version: 1 | 2): void;
}

/** `vite build` in the example's folder, with the vite it would use; returns the seconds it took. */
async function buildExample(outDir: string, env: Record<string, string>): Promise<number> {
  const vite = join(dirname(createRequire(join(exampleDir, 'index.html')).resolve('vite/package.json')), 'bin/vite.js');
  const started = performance.now();
  await promisify(execFile)(process.execPath, [vite, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: exampleDir,
    env: { ...process.env, ...env },
  });
  return (performance.now() - started) / 1000;
}

const test = base.extend<{ site: Site }, { example: Site }>({
  example: [
    async ({ servers }, use) => {
      const out = mkdtempSync(join(tmpdir(), 'sw-outbox-vite-pwa-'));
      const env = { VITE_ANALYTICS_URL: servers.collector.url };
      const seconds = [];
      for (const version of [1, 2] as const) {
        seconds.push(await buildExample(join(out, `v${version}`), { ...env, VITE_APP_VERSION: String(version) }));
      }
      console.log(`vite-pwa example (${exampleDir}): vite build ${seconds.map((s) => `${s.toFixed(1)} s`).join(' + ')}`);
      const live = join(out, 'live');
      const deploy = (version: 1 | 2) => {
        rmSync(live, { recursive: true, force: true });
        cpSync(join(out, `v${version}`), live, { recursive: true });
      };
      deploy(1);
      const server = await startStaticServer({ roots: { '/': live } });
      await use({ origin: server.origin, deploy });
      await server.close();
      rmSync(out, { recursive: true, force: true });
    },
    { scope: 'worker' },
  ],
  site: async ({ example }, use) => {
    example.deploy(1);
    await use(example);
    example.deploy(1);
  },
});

// One file, one build: its tests run in order in one Playwright worker.
test.describe.configure({ mode: 'default' });

/** First visit, then a reload: the page is controlled by the plugin's worker. */
async function openControlled(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/`);
  await waitForActiveWorker(page);
  await page.reload();
  await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toBe(`${origin}/sw.js`);
}

/** Clicks "Track a click" `count` times; returns the uuids, once the page shows each accepted (202). */
async function track(page: Page, count: number): Promise<string[]> {
  const items = page.locator('#log li');
  const before = await items.count();
  for (let i = 0; i < count; i++) await page.click('#track');
  await expect
    .poll(async () => (await items.allTextContents()).slice(before).map((t) => t.split(': ')[1]))
    .toEqual(Array(count).fill('202'));
  return (await items.evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.uuid!))).slice(before);
}

const syncTags = (page: Page) =>
  page.evaluate(async () => {
    const registration = (await navigator.serviceWorker.ready) as ServiceWorkerRegistration & { sync?: { getTags(): Promise<string[]> } };
    return registration.sync ? registration.sync.getTags() : [];
  });

/** How many times the collector got each uuid, in 2xx-answered requests. */
function counts(collector: Collector): Map<string, number> {
  const seen = new Map<string, number>();
  for (const body of collector.delivered()) {
    const { uuid } = JSON.parse(body) as { uuid: string };
    seen.set(uuid, (seen.get(uuid) ?? 0) + 1);
  }
  return seen;
}

/** Every uuid delivered, each once (and nothing else). */
async function expectDeliveredOnce(collector: Collector, uuids: string[]): Promise<void> {
  await expect.poll(() => counts(collector).size, { timeout: 30_000 }).toBe(uuids.length);
  await new Promise((r) => setTimeout(r, 300)); // a duplicate would come now
  expect(Object.fromEntries(counts(collector))).toEqual(Object.fromEntries(uuids.map((u) => [u, 1])));
}

test('offline: the page loads from the precache and events are accepted; online: each delivered once', async ({
  page,
  context,
  site,
  collector,
}) => {
  await openControlled(page, site.origin);
  await expect(page.locator('#version')).toHaveText('1');
  const precache = await page.evaluate(async () => {
    const names = (await caches.keys()).filter((name) => name.startsWith('workbox-precache-v2-'));
    return (
      await Promise.all(names.map(async (name) => (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname)))
    ).flat();
  });
  expect(precache).toContain('/index.html');
  expect(precache.filter((path) => path.endsWith('.js')).length).toBeGreaterThanOrEqual(2); // the page, workbox-window, the fallback

  await context.setOffline(true);
  await page.reload();
  await expect(page.locator('h1')).toHaveText('sw-outbox with vite-plugin-pwa');
  await expect(page.locator('#version')).toHaveText('1');
  const uuids = await track(page, 10);
  // The plugin's worker holds them (its outbox asked for Background Sync), not the page's fallback.
  await expect.poll(() => syncTags(page)).toContain('sw-outbox:deliver');
  expect(page.workers()).toHaveLength(0);
  await page.waitForTimeout(500);
  expect(collector.log).toHaveLength(0);

  await context.setOffline(false);
  await expectDeliveredOnce(collector, uuids);
});

test("a new version deployed with events queued, the plugin's prompt taken (onNeedRefresh → updateSW(true)): none lost", async ({
  page,
  site,
  collector,
}) => {
  await openControlled(page, site.origin);
  await collector.setMode({ kind: 'down' });
  const queued = await track(page, 10);

  // Deploy version 2 and look for it (what the page's hourly registration.update() does).
  site.deploy(2);
  await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.update());
  // The new worker installed and waits: onNeedRefresh showed the prompt. Installing it
  // (its precache included) is slow on a loaded machine: a longer wait than expect's.
  await expect(page.locator('#update')).toBeVisible({ timeout: 60_000 });
  await expect(page.locator('#version')).toHaveText('1');
  const whileWaiting = await track(page, 5); // the old worker still takes events
  expect(collector.delivered()).toHaveLength(0);

  // "Reload": updateSW(true) → SKIP_WAITING → the new worker takes control → the page reloads.
  await page.click('#reload');
  await expect(page.locator('#version')).toHaveText('2');
  await expect(page.locator('#update')).toBeHidden();
  expect(await page.evaluate(async () => navigator.serviceWorker.getRegistration().then((r) => !r?.waiting && !r?.installing))).toBe(true);
  expect(collector.delivered()).toHaveLength(0);

  // The collector is back; "Send now" (flush) skips the backoff its refusals earned.
  await collector.setMode({ kind: 'up' });
  await page.click('#flush');
  const after = await track(page, 3);
  await expectDeliveredOnce(collector, [...queued, ...whileWaiting, ...after]);
  expect(page.workers()).toHaveLength(0); // no fallback: the service worker did it all
});

test("without the service worker API, the example's fallback branch: events accepted offline, delivered online", async ({
  browser,
  site,
  collector,
}) => {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    // @ts-expect-error removing the API, as some in-app browsers and private modes lack it
    delete Navigator.prototype.serviceWorker;
  });
  const page = await context.newPage();
  await page.goto(`${site.origin}/`);
  await context.setOffline(true);
  const uuids = await track(page, 5);
  expect(page.workers().map((w) => new URL(w.url()).pathname)).toEqual([expect.stringMatching(/^\/assets\/fallback-.*\.js$/)]);
  await context.setOffline(false);
  await expectDeliveredOnce(collector, uuids);
  await context.close();
});
