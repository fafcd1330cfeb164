// A wall clock that moves (an NTP or user correction) must not freeze delivery, nor age
// events by the jump. The worker is /sw-clock.js (e2e/app/public): the ready-made worker
// with its `Date` shifted by a shim loaded before the library (its monotonic clock is
// left alone, as a real jump leaves it). Backoff {baseMs 1000, maxMs 3000}, as in the
// issue: what waited is due within maxMs of the jump, not an hour later.
import type { Page } from '@playwright/test';
import { deliveredCounts, dispatchMany, expect, test, uuidOf, waitForActiveWorker } from './fixtures';

const HOUR = 3600_000;
const OPTIONS = { baseMs: 1000, maxMs: 3000 };

/** Moves the active worker's wall clock by `ms` (0: only reads it); resolves to its Date.now() after. */
async function workerClock(page: Page, ms = 0): Promise<number> {
  return page.evaluate(async (shiftMs) => {
    const worker = (await navigator.serviceWorker.ready).active!;
    const channel = new MessageChannel();
    const reply = new Promise<{ now: number }>((ok) => {
      channel.port1.onmessage = (e) => ok(e.data);
    });
    worker.postMessage({ type: 'e2e/clock', shiftMs }, [channel.port2]);
    return (await reply).now;
  }, ms);
}

/** Distinct events the collector has seen (answered anything). */
const seen = (log: { body: string }[]) => new Set(log.map((r) => uuidOf(r.body))).size;

test('the worker clock goes back an hour while five events wait on 503s → they and five new ones are delivered within maxMs', async ({
  page,
  app,
  collector,
}) => {
  await collector.setMode({ kind: 'status', status: 503 });
  await page.goto(`${app.url(OPTIONS)}&script=/sw-clock.js`);
  await waitForActiveWorker(page);
  const old = await dispatchMany(page, collector.url, 5, 'old');
  expect(old.every((e) => e.statusCode === 202)).toBe(true);
  await expect.poll(() => seen(collector.log)).toBe(5);

  const before = await workerClock(page);
  const after = await workerClock(page, -HOUR);
  expect(before - after).toBeGreaterThan(HOUR - 60_000);
  // What the worker says: its next attempt is within maxMs of its (jumped) clock, not an hour away.
  const stats = await page.evaluate(() => window.dispatcher!.stats());
  const now = await workerClock(page);
  expect(stats.queued).toBe(5);
  expect(stats.nextAttemptAt).not.toBeNull();
  expect(stats.nextAttemptAt! - now).toBeLessThanOrEqual(OPTIONS.maxMs);

  await collector.setMode({ kind: 'up' });
  const fresh = await dispatchMany(page, collector.url, 5, 'new');
  // (Before the fix: nothing for an hour. 20 s is well over maxMs on a loaded machine.)
  await expect.poll(() => deliveredCounts(collector).size, { timeout: 20_000 }).toBe(10);
  expect(new Set(deliveredCounts(collector).keys())).toEqual(new Set([...old, ...fresh].map((e) => e.uuid)));
  await expect.poll(() => page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 0, deadLettered: 0 });
});

test('a worker version that starts after the clock went back an hour delivers what waited, within maxMs', async ({
  page,
  app,
  collector,
}) => {
  await collector.setMode({ kind: 'status', status: 503 });
  await page.goto(`${app.url(OPTIONS)}&script=/sw-clock.js`);
  await waitForActiveWorker(page);
  const old = await dispatchMany(page, collector.url, 5, 'old');
  await expect.poll(() => seen(collector.log)).toBe(5);

  // The next version of the worker, whose clock is an hour behind from its first line (the
  // jump happened while no worker of this store ran). It takes over at once (skipWaiting).
  await page.goto(`${app.url({ ...OPTIONS, v: `clock${-HOUR}` })}&script=/sw-clock.js`);
  await expect
    .poll(() =>
      page.evaluate(async () => {
        const r = await navigator.serviceWorker.getRegistration();
        return r?.active?.state === 'activated' && !r.waiting && !r.installing ? r.active.scriptURL : '';
      }),
    )
    .toContain(`v=clock${-HOUR}`);
  const stats = await page.evaluate(() => window.dispatcher!.stats());
  const now = await workerClock(page);
  expect(stats.queued).toBe(5);
  expect(stats.nextAttemptAt! - now).toBeLessThanOrEqual(OPTIONS.maxMs);

  await collector.setMode({ kind: 'up' });
  await expect.poll(() => deliveredCounts(collector).size, { timeout: 20_000 }).toBe(5);
  expect(new Set(deliveredCounts(collector).keys())).toEqual(new Set(old.map((e) => e.uuid)));
});

test('the worker clock jumps a day forward (maxAgeMs 60 s) → nothing is dead-lettered as expired; delivered when the collector is back', async ({
  page,
  app,
  collector,
}) => {
  await collector.setMode({ kind: 'status', status: 503 });
  await page.goto(`${app.url({ ...OPTIONS, maxAgeMs: 60_000 })}&script=/sw-clock.js`);
  await waitForActiveWorker(page);
  const sent = await dispatchMany(page, collector.url, 5, 'fwd');
  await expect.poll(() => seen(collector.log)).toBe(5);

  await workerClock(page, 24 * HOUR);
  // A few sweeps (at most one a second) and retries happen meanwhile.
  await expect.poll(() => collector.log.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(10);
  await collector.setMode({ kind: 'up' });
  await expect.poll(() => deliveredCounts(collector).size, { timeout: 20_000 }).toBe(5);
  expect(new Set(deliveredCounts(collector).keys())).toEqual(new Set(sent.map((e) => e.uuid)));
  const stats = await page.evaluate(() => window.dispatcher!.stats());
  expect(stats).toMatchObject({ queued: 0, deadLettered: 0 });
  expect(await page.evaluate(() => window.outboxEvents.filter((e) => e.name === 'dead-letter'))).toEqual([]);
});
