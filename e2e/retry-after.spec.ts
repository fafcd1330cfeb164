// A collector's Retry-After is a promise the outbox keeps: never sooner, whatever the
// client's own backoff cap, and whatever wakes the worker meanwhile (a page's flush(), an
// `online` nudge, a worker restarted by the browser).
import { dispatchMany, expect, test, workerKiller } from './fixtures';

test('Retry-After: 3 with backoff.maxMs 1000 → nothing for that collector sooner than 3 s, despite flush(), online and a worker restart', async ({
  page,
  app,
  collector,
}) => {
  await app.open(page, { baseMs: 100, maxMs: 1000 });
  collector.script([{ status: 429, retryAfter: '3' }]);
  await dispatchMany(page, collector.url, 1, 'first');
  await expect.poll(() => collector.log.length).toBe(1);
  const answered = collector.log[0]!.answeredAt ?? collector.log[0]!.at;

  // More events for the same collector while it asked us to wait, and every wake-up there is.
  await dispatchMany(page, collector.url, 3, 'later');
  await page.evaluate(() => window.dispatcher!.flush());
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  const kill = await workerKiller(page);
  await kill();
  await dispatchMany(page, collector.url, 1, 'after-restart');
  await page.evaluate(() => window.dispatcher!.flush());

  await expect.poll(() => collector.delivered().length, { timeout: 15_000 }).toBe(5);
  const retries = collector.log.slice(1);
  expect(retries.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  // Whole seconds: the header says 3, the first request after it comes no sooner.
  const first = Math.min(...retries.map((r) => r.at));
  expect(first - answered).toBeGreaterThanOrEqual(2950);
});
