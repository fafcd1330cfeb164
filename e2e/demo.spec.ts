// The `npm start` demo, driven as a person would: decide a flag, track, break the
// collector, track, watch the retries, bring it back; go offline, reload (the precached
// app still loads), track, come back online; a 400 collector and the dead letters; a new
// worker version deployed while events wait, and "Reload to update". The numbers on
// screen must match the collector's own log, the ground truth.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Page, expect, test } from '@playwright/test';
import { buildDemo } from '../demo/build.mjs';
import { type Demo, startDemo } from '../demo/server.mjs';

test.use({ viewport: { width: 1280, height: 1000 } });

let demo: Demo;
let dir: string;

test.beforeAll(async () => {
  // dist/ was built by the global setup; the demo is built on top of it, a copy per test
  // worker: a build empties its folder first, which must not pull files from under
  // another worker's page (a precache that meets a 404 fails its install).
  dir = mkdtempSync(join(tmpdir(), 'sw-outbox-demo-'));
  await buildDemo({ outDir: dir });
  demo = await startDemo({ port: 0, collectorPort: 0, dir });
});

test.afterAll(async () => {
  await demo?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Distinct event uuids the collector answered 2xx: what was delivered, duplicates dropped. */
function deliveredUuids(): Set<string> {
  const uuids = new Set<string>();
  for (const r of demo.collector.log) {
    if (typeof r.status !== 'number' || r.status < 200 || r.status >= 300) continue;
    for (const v of JSON.parse(r.body).visitors) for (const s of v.snapshots) for (const e of s.events) uuids.add(e.uuid);
  }
  return uuids;
}

const stat = (page: Page, name: string) => page.locator(`[data-stat="${name}"]`);
const collectorStat = (page: Page, name: string) => page.locator(`[data-collector="${name}"]`);

async function expectScreenMatchesCollector(page: Page, delivered: number): Promise<void> {
  await expect.poll(() => deliveredUuids().size).toBe(delivered);
  await expect(stat(page, 'queued')).toHaveText('0');
  await expect(stat(page, 'delivered')).toHaveText(delivered.toLocaleString('en'));
  await expect(collectorStat(page, 'distinctUuids')).toHaveText(delivered.toLocaleString('en'));
  await expect(collectorStat(page, 'duplicates')).toHaveText('0');
  // Per destination: the collector's origin, nothing queued, its last answer a 2xx.
  if (delivered > 0) {
    const row = page.locator('#destinations tr', { hasText: demo.collector.origin });
    await expect(row).toContainText('nothing waiting');
    await expect(row).toContainText(/HTTP 2\d\d/);
  }
}

test('the demo, driven by hand: outage, retries, recovery, offline reload', async ({ page, context }, testInfo) => {
  // Nothing may leave 127.0.0.1: no logx.optimizely.com, no datafile CDN, no ODP.
  const elsewhere: string[] = [];
  context.on('request', (request) => {
    const url = new URL(request.url());
    if (url.hostname !== '127.0.0.1' && url.protocol !== 'data:') elsewhere.push(request.url());
  });

  // Short backoff (250 ms doubling to 2 s) so the test sees several retries quickly.
  await page.goto(`${demo.origin}/?baseMs=250&maxMs=2000`);
  await expect(page.getByRole('heading', { level: 1, name: 'sw-outbox demo' })).toBeVisible();
  await expect(page.locator('#status')).toContainText('Ready');
  await expect(page.locator('#sw-state')).toHaveText('Service worker: active');
  await expect(page.locator('#offline-ready')).toHaveText('Works offline');

  // 1. Decide the flag for a user (one impression), track a conversion, then a burst.
  await expect(page.getByRole('button', { name: 'Decide flag' })).toBeEnabled();
  // The keyboard works: Enter in the user id field decides.
  await page.getByLabel('User id').fill('grace');
  await page.getByLabel('User id').press('Enter');
  await expect(page.locator('#decision')).toContainText('one_click');
  await expect(page.locator('#decision')).toContainText('checkout_redesign');
  await page.getByRole('button', { name: 'Track conversion' }).click();
  await expect(page.locator('#status')).toContainText('accepted by the outbox (202)');
  await page.getByRole('button', { name: /^Burst/ }).click();
  await expect(page.locator('#status')).toContainText('250 events accepted');
  let expected = 1 + 1 + 250;
  await expectScreenMatchesCollector(page, expected);

  // 2. The collector goes down: events are still accepted, they queue, and the outbox
  //    retries with growing delays.
  await page.getByRole('radio', { name: /^Down/ }).check();
  await expect(page.locator('#mode-status')).toContainText('Collector is down');
  const track = page.getByRole('button', { name: 'Track conversion' });
  for (let i = 0; i < 3; i++) await track.click();
  expected += 3;
  await expect(stat(page, 'queued')).toHaveText('3');
  await expect(stat(page, 'nextRetry')).toHaveText(/^in \d+(\.\d)? s$/);
  const retries = page.locator('#retries li:not(.empty)');
  await expect.poll(() => retries.count()).toBeGreaterThanOrEqual(3);
  await expect(retries.first()).toContainText(/#[3-9]/); // attempts in a row, newest first
  await expect(retries.first()).toContainText(/wait(s|ed) \d/);
  expect(Number(await stat(page, 'retried').textContent())).toBeGreaterThanOrEqual(3);
  expect(deliveredUuids().size).toBe(expected - 3);

  // 3. The collector comes back: the next retry delivers them, without a reload or a flush.
  await page.getByRole('radio', { name: /^Up/ }).check();
  await expectScreenMatchesCollector(page, expected);

  // 4. Offline: a reload still shows the app (precached), events are accepted and kept.
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'sw-outbox demo' })).toBeVisible();
  await expect(page.locator('#net')).toHaveText('Browser: offline');
  await expect(page.locator('#status')).toContainText('Ready, offline');
  await page.getByRole('button', { name: 'Track conversion' }).click();
  await page.getByRole('button', { name: 'Track conversion' }).click();
  expected += 2;
  await expect(stat(page, 'queued')).toHaveText('2');
  await expect(stat(page, 'nextRetry')).toHaveText('waiting for the network');
  expect(deliveredUuids().size).toBe(expected - 2);

  // 5. Back online: delivered, and screen and collector agree.
  await context.setOffline(false);
  await expect(page.locator('#net')).toHaveText('Browser: online');
  await expectScreenMatchesCollector(page, expected);
  expect(elsewhere).toEqual([]);

  // Let the chart take its next sample and the collector table refresh, then keep a picture.
  await page.waitForTimeout(1200);
  const screenshot = testInfo.outputPath('demo.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  await testInfo.attach('demo', { path: screenshot, contentType: 'image/png' });
});

/** How many times the collector answered 2xx for each event uuid. */
function deliveredByUuid(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of demo.collector.log) {
    if (typeof r.status !== 'number' || r.status < 200 || r.status >= 300) continue;
    for (const v of JSON.parse(r.body).visitors)
      for (const s of v.snapshots) for (const e of s.events) counts.set(e.uuid, (counts.get(e.uuid) ?? 0) + 1);
  }
  return counts;
}

test('the demo: a 400 collector fills the dead letters; send one again, discard the rest', async ({ page }) => {
  await page.goto(`${demo.origin}/?baseMs=250&maxMs=2000`);
  await expect(page.locator('#status')).toContainText('Ready');
  await expect(page.locator('#sw-state')).toHaveText('Service worker: active');
  const rows = page.locator('#dead-letters tr[data-id]');
  await expect(page.locator('#dead-letters')).toContainText('No dead letters.');

  // The collector refuses for good: three conversions become dead letters, listed newest first.
  await page.getByRole('radio', { name: /^400/ }).check();
  await expect(page.locator('#mode-status')).toContainText('Collector answers 400');
  await page.getByLabel('User id').fill('ada');
  const track = page.getByRole('button', { name: 'Track conversion' });
  for (let i = 0; i < 3; i++) await track.click();
  await expect(rows).toHaveCount(3);
  await expect(stat(page, 'deadLettered')).toHaveText('3');
  await expect(rows.first()).toContainText('400');
  await expect(rows.first()).toContainText('http-4xx');
  await expect(rows.first().locator('td').nth(2)).toHaveText('1');
  await expect(rows.first().locator('td').nth(2)).toHaveAttribute('title', /^\d\d:\d\d:\d\d–\d\d:\d\d:\d\d$/);
  const uuidIn = async (row: import('@playwright/test').Locator) =>
    /^purchase (\S+)\n/.exec((await row.locator('td.event').getAttribute('title')) ?? '')![1]!;
  const retried = await uuidIn(rows.first());
  expect(deliveredByUuid().get(retried)).toBeUndefined();

  // Fixed: send the newest one again; it is delivered once, the others stay.
  await page.getByRole('radio', { name: /^Up/ }).check();
  await expect(page.locator('#mode-status')).toContainText('Collector is up');
  await rows.first().getByRole('button', { name: 'Send again' }).click();
  await expect(page.locator('#dead-status')).toContainText('Sent again: 1 back in the queue');
  await expect(rows).toHaveCount(2);
  await expect.poll(() => deliveredByUuid().get(retried)).toBe(1);
  await expect(stat(page, 'requeued')).toHaveText('1');
  await expect(page.locator('#events')).toContainText('1 event sent again');

  // Discard the rest: gone, and a reload still shows none.
  const discarded = await Promise.all([uuidIn(rows.nth(0)), uuidIn(rows.nth(1))]);
  await page.getByRole('button', { name: 'Discard all' }).click();
  await expect(page.locator('#dead-status')).toContainText('Discarded 2 for good');
  await expect(page.locator('#dead-letters')).toContainText('No dead letters.');
  await expect(stat(page, 'discarded')).toHaveText('2');
  await expect(stat(page, 'deadLettered')).toHaveText('0');
  await page.reload();
  await expect(stat(page, 'discarded')).toHaveText('2');
  await expect(page.locator('#dead-letters')).toContainText('No dead letters.');
  await page.waitForTimeout(500);
  for (const uuid of discarded) expect(deliveredByUuid().get(uuid)).toBeUndefined();
});

test('the demo: a new worker version waits; "Reload to update" switches to it, and the queued events go once', async ({ page }) => {
  // A worker update is slow on a loaded machine: the reloaded page's register() waits for
  // Chromium's update job (3 s idle; 30–60 s at a load average of 20, seen here), which
  // installs the new version (the precache again); then the old worker must go quiet
  // before the new one activates. Generous waits, no timing asserted.
  test.setTimeout(240_000);
  const versionBadge = page.locator('#sw-version');
  const banner = page.locator('#update');
  await page.goto(`${demo.origin}/?baseMs=250&maxMs=2000`);
  await expect(page.locator('#status')).toContainText('Ready');
  await expect(page.locator('#sw-state')).toHaveText('Service worker: active');
  await expect(versionBadge).toHaveText(/^Worker [0-9a-f]{12}$/);
  const oldVersion = await versionBadge.textContent();
  await expect(banner).toBeHidden();
  // What the collector had before (earlier tests of this worker's demo server).
  const before = new Set(deliveredByUuid().keys());
  const ours = () => [...deliveredByUuid()].filter(([uuid]) => !before.has(uuid));

  // Three conversions while the collector is down: accepted, queued in IndexedDB.
  await page.getByRole('radio', { name: /^Down/ }).check();
  await expect(page.locator('#mode-status')).toContainText('Collector is down');
  await page.getByLabel('User id').fill('lin');
  const track = page.getByRole('button', { name: 'Track conversion' });
  for (let i = 0; i < 3; i++) await track.click();
  await expect(stat(page, 'queued')).toHaveText('3');

  // A deploy: /sw.js has new bytes. The next page load checks, the new worker installs
  // and waits (this tab runs the old one): the banner offers it.
  const newVersion = demo.deployWorker();
  await page.reload();
  await expect(banner).toBeVisible({ timeout: 150_000 });
  await expect(banner).toContainText('A new version of the demo is ready');
  await expect(versionBadge).toHaveText(oldVersion!);
  await expect(stat(page, 'queued')).toHaveText('3');

  // Reload to update: the page reloads under the new worker, banner gone, queue intact.
  const reloaded = page.waitForEvent('load', { timeout: 60_000 });
  await page.getByRole('button', { name: 'Reload to update' }).click();
  await reloaded;
  await expect(versionBadge).toHaveText(`Worker ${newVersion.replace(/^sw-outbox-demo@/, '')}`);
  await expect(page.locator('#sw-state')).toHaveText('Service worker: active');
  await expect(banner).toBeHidden();
  await expect(stat(page, 'queued')).toHaveText('3');
  expect(ours()).toEqual([]);
  const registration = await page.evaluate(async () => {
    const r = await navigator.serviceWorker.getRegistration();
    return {
      waiting: Boolean(r?.waiting),
      installing: Boolean(r?.installing),
      controlled: r?.active === navigator.serviceWorker.controller,
    };
  });
  expect(registration).toEqual({ waiting: false, installing: false, controlled: true });

  // The collector is back: the new worker delivers the three, each once.
  await page.getByRole('radio', { name: /^Up/ }).check();
  await expect(page.locator('#mode-status')).toContainText('Collector is up');
  await expect(stat(page, 'queued')).toHaveText('0');
  await expect.poll(() => ours().length).toBe(3);
  await page.waitForTimeout(500);
  expect(ours().map(([, times]) => times)).toEqual([1, 1, 1]);
});
