// Bounded resources, each visible in stats() and through on(): queue size with both
// overflow policies, max age, a bounded dead-letter store, storage quota exhausted.
import { chromium } from '@playwright/test';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchOptions } from './browser';
import { deliveredCounts, dispatchMany, expect, makeParams, test, waitForActiveWorker } from './fixtures';

test('maxQueueSize with overflow "drop-oldest": the oldest are dropped, counted and announced', async ({ page, app, collector }) => {
  await collector.setMode({ kind: 'down' });
  await app.open(page, { maxQueueSize: 5, overflow: 'drop-oldest', baseMs: 60_000, maxMs: 60_000 });
  const sent = [];
  for (let i = 0; i < 8; i++) sent.push(...(await dispatchMany(page, collector.url, 1, `q${i}`)));
  expect(sent.map((s) => s.statusCode)).toEqual(Array(8).fill(202));
  await expect.poll(() => page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 5, dropped: 3 });
  await expect
    .poll(() =>
      page.evaluate(
        () => window.outboxEvents.filter((e) => e.name === 'dropped').flatMap((e) => (e.detail as { ids: string[] }).ids).length,
      ),
    )
    .toBe(3);
  expect(await page.evaluate(() => window.outboxEvents.find((e) => e.name === 'dropped')?.detail)).toMatchObject({ reason: 'overflow' });

  await collector.setMode({ kind: 'up' });
  await page.evaluate(() => window.dispatcher!.flush());
  await expect.poll(() => [...deliveredCounts(collector).keys()].sort()).toEqual(['q3-0', 'q4-0', 'q5-0', 'q6-0', 'q7-0']);
});

test('maxQueueSize with overflow "reject-new": new events are refused with queue-full (callback 507), the queue intact', async ({
  page,
  app,
  collector,
}) => {
  await collector.setMode({ kind: 'down' });
  await app.open(page, { maxQueueSize: 3, overflow: 'reject-new', baseMs: 60_000, maxMs: 60_000 });
  const outcomes = await page.evaluate(async (url) => {
    const results = [];
    for (let i = 0; i < 5; i++) {
      let status = 0;
      const outcome = await window
        .dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params: { n: i } }, (r) => (status = r.statusCode))
        .then(
          (r) => r.statusCode,
          (e: { code: string; message: string }) => `${e.code}: ${e.message}`,
        );
      await new Promise((r) => setTimeout(r));
      results.push({ outcome, status });
    }
    return results;
  }, collector.url);
  expect(outcomes.slice(0, 3)).toEqual(Array(3).fill({ outcome: 202, status: 202 }));
  for (const refused of outcomes.slice(3)) {
    expect(refused.outcome).toMatch(/^queue-full: queue is full \(maxQueueSize 3/);
    expect(refused.status).toBe(507);
  }
  expect(await page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 3, dropped: 0 });
  await collector.setMode({ kind: 'up' });
  await page.evaluate(() => window.dispatcher!.flush());
  await expect.poll(() => collector.delivered().sort()).toEqual(['{"n":0}', '{"n":1}', '{"n":2}']);
});

test('maxAgeMs: an event that cannot be delivered in time goes to the dead-letter store as expired', async ({ page, app, collector }) => {
  await collector.setMode({ kind: 'status', status: 503 });
  await app.open(page, { maxAgeMs: 1500, baseMs: 400, maxMs: 400 });
  await dispatchMany(page, collector.url, 1, 'old');
  await expect
    .poll(() => page.evaluate(() => window.dispatcher!.stats()), { timeout: 10_000 })
    .toMatchObject({ queued: 0, deadLettered: 1 });
  expect(await page.evaluate(() => window.outboxEvents.find((e) => e.name === 'dead-letter')?.detail)).toMatchObject({ reason: 'expired' });
  const attempts = collector.log.length;
  expect(attempts).toBeGreaterThanOrEqual(1);
  await page.waitForTimeout(1000);
  expect(collector.log).toHaveLength(attempts);
});

test('the dead-letter store is bounded: beyond maxDeadLetters the oldest are dropped and counted', async ({ page, app, collector }) => {
  await collector.setMode({ kind: 'status', status: 400 });
  await app.open(page, { maxDeadLetters: 2 });
  await dispatchMany(page, collector.url, 5, 'dead');
  await expect.poll(() => page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 0, deadLettered: 2, dropped: 3 });
  await expect
    .poll(() =>
      page.evaluate(
        () => window.outboxEvents.filter((e) => e.name === 'dropped').flatMap((e) => (e.detail as { ids: string[] }).ids).length,
      ),
    )
    .toBe(3);
  expect(await page.evaluate(() => window.outboxEvents.find((e) => e.name === 'dropped')?.detail)).toMatchObject({
    reason: 'dead-letter-overflow',
  });
});

test('storage quota exhausted: the new event gets quota-exceeded (callback 507), the queue stays intact and delivers', async ({
  app,
  collector,
}) => {
  // The quota override is enforced on a persistent profile (not on Playwright's
  // off-the-record contexts).
  const profile = mkdtempSync(join(tmpdir(), 'sw-outbox-quota-'));
  const context = await chromium.launchPersistentContext(profile, { ...launchOptions, headless: true });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await collector.setMode({ kind: 'down' });
    // A small quota from the first visit on (Chromium applies an override reliably to
    // storage that has not been written under the old quota yet).
    const session = await context.newCDPSession(page);
    await session.send('Storage.overrideQuotaForOrigin', { origin: app.origin, quotaSize: 200 * 1024 });
    await page.goto(app.url({ baseMs: 60_000, maxMs: 60_000 }));
    await waitForActiveWorker(page);
    await dispatchMany(page, collector.url, 3, 'before-quota');
    const outcome = await page.evaluate(
      async ({ url, params }) => {
        let status = 0;
        const result = await window
          .dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params }, (r) => (status = r.statusCode))
          .then(
            (r) => `resolved ${r.statusCode}`,
            (e: { code: string; message: string }) => `${e.code}: ${e.message}`,
          );
        await new Promise((r) => setTimeout(r));
        return { result, status };
      },
      // Chromium compresses IndexedDB values: a repeated string would fit any quota.
      { url: collector.url, params: { ...makeParams('too-big'), padding: randomBytes(200 * 1024).toString('base64') } },
    );
    expect(outcome.result).toMatch(/^quota-exceeded: storage quota exceeded/);
    expect(outcome.status).toBe(507);
    expect(await page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 3 });

    await session.send('Storage.overrideQuotaForOrigin', { origin: app.origin });
    await collector.setMode({ kind: 'up' });
    await page.evaluate(() => window.dispatcher!.flush());
    await expect.poll(() => deliveredCounts(collector).size).toBe(3);
    expect([...deliveredCounts(collector).keys()].every((id) => id.startsWith('before-quota'))).toBe(true);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test('clear() (sign-out) empties the queue and the dead letters', async ({ page, app, collector }) => {
  collector.script([{ status: 400 }]);
  await app.open(page, { baseMs: 60_000, maxMs: 60_000 });
  await dispatchMany(page, collector.url, 1, 'dead-one');
  await expect.poll(() => page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ deadLettered: 1 });
  await collector.setMode({ kind: 'down' });
  await dispatchMany(page, collector.url, 4, 'queued');
  await expect.poll(() => page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 4, deadLettered: 1 });
  await page.evaluate(() => window.dispatcher!.clear());
  expect(await page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 0, deadLettered: 0 });
  await collector.setMode({ kind: 'up' });
  await page.evaluate(() => window.dispatcher!.flush());
  await page.waitForTimeout(500);
  expect(collector.delivered()).toHaveLength(0);
});
