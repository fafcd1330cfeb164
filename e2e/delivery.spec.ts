// The whole path, end to end: page → service worker → IndexedDB → JSON POST.
// The collector's own request log is the ground truth.
import { launchOptions } from './browser';
import { chromium } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliveredCounts, dispatchMany, expect, test, uuidOf, waitForActiveWorker, workerKiller } from './fixtures';
import { DEFAULTS } from '../src/engine/options';

test('online: 100 events → 100 POSTs, bodies byte-identical to JSON.stringify(params), no duplicates', async ({ page, app, collector }) => {
  await app.open(page);
  const sent = await dispatchMany(page, collector.url, 100, 'online');
  expect(sent.map((s) => s.statusCode)).toEqual(Array(100).fill(202));

  await expect.poll(() => collector.log.length).toBe(100);
  // Nothing more trickles in.
  await page.waitForTimeout(500);
  expect(collector.log).toHaveLength(100);

  const expected = sent.map((s) => s.body).sort();
  expect(collector.log.map((r) => r.body).sort()).toEqual(expected);
  for (const request of collector.log) {
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.status).toBe(200);
  }
  expect(new Set(collector.log.map((r) => uuidOf(r.body))).size).toBe(100);
  const stats = await page.evaluate(() => window.dispatcher!.stats());
  expect(stats).toMatchObject({ queued: 0, delivered: 100, deadLettered: 0, dropped: 0 });
});

test('offline: 50 events resolve 202 while offline, none reach the collector, all arrive once online without reload or flush()', async ({
  page,
  app,
  collector,
  context,
}) => {
  await app.open(page);
  await context.setOffline(true);
  const sent = await dispatchMany(page, collector.url, 50, 'offline');
  expect(sent.map((s) => s.statusCode)).toEqual(Array(50).fill(202));

  await page.waitForTimeout(1500);
  expect(collector.log).toHaveLength(0);
  expect(await page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 50, delivered: 0 });

  await context.setOffline(false);
  await expect.poll(() => deliveredCounts(collector).size).toBe(50);
  expect(collector.delivered().sort()).toEqual(sent.map((s) => s.body).sort());
  await expect.poll(async () => (await page.evaluate(() => window.dispatcher!.stats())).queued).toBe(0);
});

test('503 three times, then 200 → delivered once, after retries', async ({ page, app, collector }) => {
  await app.open(page);
  collector.script([{ status: 503 }, { status: 503 }, { status: 503 }]);
  const [sent] = await dispatchMany(page, collector.url, 1, 'flaky');
  expect(sent!.statusCode).toBe(202);

  await expect.poll(() => collector.delivered().length).toBe(1);
  expect(collector.log.map((r) => r.status)).toEqual([503, 503, 503, 200]);
  expect(collector.log.every((r) => r.body === sent!.body)).toBe(true);
  const stats = await page.evaluate(() => window.dispatcher!.stats());
  expect(stats).toMatchObject({ queued: 0, delivered: 1, retried: 3, deadLettered: 0 });
});

test('429 with Retry-After: 2 → no retry sooner than 2 s', async ({ page, app, collector }) => {
  await app.open(page);
  collector.script([{ status: 429, retryAfter: '2' }]);
  await dispatchMany(page, collector.url, 1, 'throttled');

  await expect.poll(() => collector.delivered().length, { timeout: 10_000 }).toBe(1);
  expect(collector.log.map((r) => r.status)).toEqual([429, 200]);
  const gap = collector.log[1]!.at - collector.log[0]!.at;
  expect(gap).toBeGreaterThanOrEqual(2000);
});

test('HTTP-date Retry-After on 503 is honoured too', async ({ page, app, collector }) => {
  await app.open(page);
  // The date is computed when the collector answers (not when the test scripts it: on a slow
  // machine the dispatch itself can take a second, which ate into a date fixed up front).
  collector.script([{ status: 503, retryAfterDateInMs: 3000 }]);
  await dispatchMany(page, collector.url, 1, 'dated');
  await expect.poll(() => collector.delivered().length, { timeout: 10_000 }).toBe(1);
  expect(collector.log.map((r) => r.status)).toEqual([503, 200]);
  // HTTP dates have whole-second precision: the date is 2–3 s after the answer.
  expect(collector.log[1]!.at - collector.log[0]!.at).toBeGreaterThanOrEqual(1900);
});

test('400 → not retried, dead-lettered in stats()', async ({ page, app, collector }) => {
  await app.open(page);
  collector.script([{ status: 400 }]);
  const deadLetters = page.evaluate(
    () =>
      new Promise((ok) => {
        window.dispatcher!.on('dead-letter', (detail) => ok(detail));
      }),
  );
  const [sent] = await dispatchMany(page, collector.url, 1, 'bad');
  expect(await deadLetters).toMatchObject({ ids: [expect.any(String)], status: 400, reason: 'permanent' });
  await expect.poll(async () => (await page.evaluate(() => window.dispatcher!.stats())).deadLettered).toBe(1);
  // A second event goes through normally: the dead letter blocks nothing.
  await dispatchMany(page, collector.url, 1, 'after-bad');
  await expect.poll(() => collector.delivered().length).toBe(1);
  await page.waitForTimeout(1000);
  expect(collector.log.filter((r) => r.body === sent!.body)).toHaveLength(1);
  expect(await page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 0, deadLettered: 1, delivered: 1 });
});

test('worker killed repeatedly while flushing 200 events to a slow collector → all 200 arrive', async ({ page, app, collector }) => {
  await app.open(page);
  await collector.setMode({ kind: 'slow', ms: 150 });
  const sent = await dispatchMany(page, collector.url, 200, 'killed');
  expect(sent.every((s) => s.statusCode === 202)).toBe(true);

  const kill = await workerKiller(page);
  let kills = 0;
  while (deliveredCounts(collector).size < 200 && kills < 25) {
    await page.waitForTimeout(250 + ((kills * 137) % 300));
    await kill();
    kills++;
  }
  await expect.poll(() => deliveredCounts(collector).size, { timeout: 60_000 }).toBe(200);
  const counts = deliveredCounts(collector);
  const duplicates = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
  console.log(`worker killed ${kills} times: 200 events, ${collector.delivered().length} deliveries, ${duplicates} duplicates`);
  expect(kills).toBeGreaterThanOrEqual(5);
  expect(new Set(counts.keys())).toEqual(new Set(sent.map((s) => s.uuid)));
  // At-least-once: a duplicate needs an event in flight at a kill (at most `concurrency`).
  expect(duplicates).toBeLessThanOrEqual(kills * DEFAULTS.concurrency);
});

test('browser closed with events queued, relaunched on the same profile → they arrive', async ({ app, collector }) => {
  const profile = mkdtempSync(join(tmpdir(), 'sw-outbox-profile-'));
  try {
    let context = await chromium.launchPersistentContext(profile, { ...launchOptions, headless: true });
    let page = context.pages()[0] ?? (await context.newPage());
    await page.goto(app.url());
    await waitForActiveWorker(page);
    await collector.setMode({ kind: 'down' });
    const sent = await dispatchMany(page, collector.url, 20, 'restart');
    expect(sent.every((s) => s.statusCode === 202)).toBe(true);
    expect(collector.delivered()).toHaveLength(0);
    await context.close();

    await collector.setMode({ kind: 'up' });
    context = await chromium.launchPersistentContext(profile, { ...launchOptions, headless: true });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(app.url());
    await expect.poll(() => deliveredCounts(collector).size, { timeout: 30_000 }).toBe(20);
    expect(collector.delivered().sort()).toEqual(sent.map((s) => s.body).sort());
    await context.close();
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
});
