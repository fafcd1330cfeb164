// The back/forward cache: a page left for another (pagehide with `persisted`) and
// restored by the back button (pageshow with `persisted`: its JavaScript heap as it was)
// keeps dispatching, each event once, with a service worker and with the page-side
// fallback. Playwright starts Chromium with --disable-back-forward-cache; this file
// drops that switch, and each test first proves the page was restored, not reloaded.
import type { Page } from '@playwright/test';
import { launchOptions } from './browser';
import { removeServiceWorkerApi } from './fallback/helpers';
import { type App, deliveredCounts, dispatchMany, expect, test } from './fixtures';

test.use({ launchOptions: { ...launchOptions, ignoreDefaultArgs: ['--disable-back-forward-cache'] } });

declare global {
  interface Window {
    /** Set before leaving: still there after coming back only if the page was kept. */
    bfcacheMarker?: string;
    /** Each pageshow's `persisted`. */
    pageshows?: boolean[];
  }
}

/** Leaves the page for another document of the site, comes back with the back button, and checks it was restored from the bfcache. */
async function leaveAndComeBack(page: Page, app: App): Promise<void> {
  await page.evaluate(() => {
    window.bfcacheMarker = 'kept';
    if (!window.pageshows) addEventListener('pageshow', (event) => window.pageshows!.push(event.persisted));
    window.pageshows = [];
  });
  await page.goto(`${app.origin}/?elsewhere`);
  // (A page restored from the bfcache fires no `load`: wait for the navigation's commit.)
  await page.goBack({ waitUntil: 'commit' });
  await expect
    .poll(() => page.evaluate(() => ({ marker: window.bfcacheMarker, pageshows: window.pageshows })))
    .toEqual({ marker: 'kept', pageshows: [true] });
  // (The restored document keeps its own navigation entry, `navigate`: the marker and
  // `persisted` are what tell a restore from a reload.)
}

/** Waits until the collector has every one of `sent`, a moment more for strays, then returns how often each came. */
async function countsOnceIn(collector: Parameters<typeof deliveredCounts>[0], sent: { uuid: string }[]): Promise<number[]> {
  const uuids = sent.map((e) => e.uuid);
  await expect.poll(() => uuids.filter((u) => deliveredCounts(collector).has(u)).length, { timeout: 20_000 }).toBe(uuids.length);
  await new Promise((r) => setTimeout(r, 1000));
  const counts = deliveredCounts(collector);
  return uuids.map((u) => counts.get(u) ?? 0);
}

test('with a service worker: a page restored from the bfcache keeps dispatching, each event delivered once', async ({
  page,
  app,
  collector,
}) => {
  await app.open(page);
  const before = await dispatchMany(page, collector.url, 3, 'before');
  expect(await countsOnceIn(collector, before)).toEqual([1, 1, 1]);

  await leaveAndComeBack(page, app);
  const after = await dispatchMany(page, collector.url, 3, 'after');
  expect(after.map((e) => e.statusCode)).toEqual([202, 202, 202]);
  expect(await countsOnceIn(collector, after)).toEqual([1, 1, 1]);
  expect(await page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ mode: 'service-worker', queued: 0 });

  // And again: a second stay in the cache is like the first.
  await leaveAndComeBack(page, app);
  const again = await dispatchMany(page, collector.url, 3, 'again');
  expect(await countsOnceIn(collector, again)).toEqual([1, 1, 1]);
});

test('without a service worker (the page-side fallback): after a bfcache restore, events are not sent twice as pagehide copies', async ({
  page,
  app,
  collector,
}) => {
  await page.addInitScript(removeServiceWorkerApi);
  await page.goto(app.url());
  const before = await dispatchMany(page, collector.url, 3, 'before');
  expect(await page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ mode: 'page' });
  expect(await countsOnceIn(collector, before)).toEqual([1, 1, 1]);

  await leaveAndComeBack(page, app);
  // The page hid once: events dispatched now are the outbox's again, not last-chance copies
  // (before the fix, each went twice: a keepalive copy at once, and the outbox's delivery).
  const after = await dispatchMany(page, collector.url, 3, 'after');
  expect(after.map((e) => e.statusCode)).toEqual([202, 202, 202]);
  expect(await countsOnceIn(collector, after)).toEqual([1, 1, 1]);
  expect(collector.log.filter((r) => String(r.headers['content-type']).startsWith('text/plain'))).toEqual([]);
});
