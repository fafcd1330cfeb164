// Destinations are independent: one collector answering 503, hanging past timeoutMs or
// refusing connections never holds another's events. A second collector on its own port
// is a second origin. What each collector received is the ground truth.
import { type Collector, startCollector } from './collector.mjs';
import { deliveredCounts, dispatchMany, expect, test, uuidOf } from './fixtures';
import type { Page } from '@playwright/test';

/** Dispatches one event to `url` and resolves when `collector` has it delivered: the latency in ms. */
async function latencyOf(page: Page, collector: Collector, url: string, uuid: string): Promise<number> {
  const before = Date.now();
  await dispatchMany(page, url, 1, uuid);
  const id = `${uuid}-0`;
  await expect
    .poll(() => collector.log.some((r) => r.status === 200 && uuidOf(r.body) === id), { intervals: [20], timeout: 10_000 })
    .toBe(true);
  return collector.log.find((r) => r.status === 200 && uuidOf(r.body) === id)!.at - before;
}

test('one destination 503, hanging, then refusing: the other gets each new event within about a second, for a minute; the failing one later gets everything once', async ({
  page,
  app,
  collector: healthy,
}) => {
  test.setTimeout(180_000);
  const failing = await startCollector();
  try {
    // A hang lasts until timeoutMs (3 s here): lanes of the failing destination stay busy meanwhile.
    await app.open(page, { endpoints: `${healthy.origin},${failing.origin}`, baseMs: 200, maxMs: 2000, timeoutMs: 3000 });
    const latencies: Record<string, number[]> = {};
    let backlog = 0;
    for (const mode of [{ kind: 'status', status: 503 }, { kind: 'hang' }, { kind: 'down' }] as const) {
      await failing.setMode(mode);
      const name = mode.kind === 'status' ? '503' : mode.kind;
      latencies[name] = [];
      // A backlog for the failing one, then a healthy event every ~second for 20 s.
      await dispatchMany(page, failing.url, 20, `backlog-${name}`);
      backlog += 20;
      const until = Date.now() + 20_000;
      for (let i = 0; Date.now() < until; i++) {
        const started = Date.now();
        latencies[name].push(await latencyOf(page, healthy, healthy.url, `healthy-${name}-${i}`));
        if (i % 5 === 0) await dispatchMany(page, failing.url, 1, `more-${name}-${i}`).then(() => backlog++);
        await page.waitForTimeout(Math.max(0, 1000 - (Date.now() - started)));
      }
    }
    const summary = Object.fromEntries(
      Object.entries(latencies).map(([k, v]) => [
        k,
        { n: v.length, median: [...v].sort((a, b) => a - b)[v.length >> 1], max: Math.max(...v) },
      ]),
    );
    console.log(`healthy destination latency while the other fails (ms): ${JSON.stringify(summary)}`);
    for (const [name, v] of Object.entries(latencies)) {
      expect(v.length, name).toBeGreaterThanOrEqual(10);
      expect(Math.max(...v), `${name}: ${v.join(', ')}`).toBeLessThan(1500);
    }
    // Nothing for the failing one was delivered while it failed, and the healthy one got each of its events once.
    expect(failing.delivered()).toHaveLength(0);
    expect([...deliveredCounts(healthy).values()].every((n) => n === 1)).toBe(true);

    // The failing one recovers: every one of its events, once.
    await failing.setMode({ kind: 'up' });
    await page.evaluate(() => window.dispatcher!.flush());
    await expect.poll(() => deliveredCounts(failing).size, { timeout: 30_000 }).toBe(backlog);
    await page.waitForTimeout(500);
    expect([...deliveredCounts(failing).values()].every((n) => n === 1)).toBe(true);
    const stats = await page.evaluate(() => window.dispatcher!.stats());
    expect(stats.queued).toBe(0);
    expect(stats.destinations.map((d) => d.destination).sort()).toEqual([healthy.origin, failing.origin].sort());
    expect(stats.destinations.every((d) => d.queued === 0 && d.lastStatus === 200)).toBe(true);
  } finally {
    await failing.close();
  }
});

test('stats() per destination: queued, held, next attempt and last status of a failing one; the healthy one unaffected', async ({
  page,
  app,
  collector: healthy,
}) => {
  const failing = await startCollector();
  try {
    await app.open(page, { endpoints: `${healthy.origin},${failing.origin}`, baseMs: 100, maxMs: 1000 });
    await failing.setMode({ kind: 'status', status: 503, retryAfter: '30' });
    await dispatchMany(page, failing.url, 5, 'held');
    await expect.poll(() => failing.log.length).toBeGreaterThan(0);
    await dispatchMany(page, healthy.url, 5, 'fine');
    await expect.poll(() => deliveredCounts(healthy).size).toBe(5);
    await expect
      .poll(async () => {
        const s = await page.evaluate(() => window.dispatcher!.stats());
        return s.destinations.map(({ destination, queued, heldFor, lastStatus }) => ({ destination, queued, heldFor, lastStatus }));
      })
      .toEqual(
        [
          { destination: healthy.origin, queued: 0, heldFor: null, lastStatus: 200 },
          { destination: failing.origin, queued: 5, heldFor: 'server', lastStatus: 503 },
        ].sort((a, b) => (a.destination < b.destination ? -1 : 1)),
      );
    const s = await page.evaluate(() => window.dispatcher!.stats());
    const held = s.destinations.find((d) => d.destination === failing.origin)!;
    // Retry-After: 30 (beyond backoff.maxMs): the next attempt is ~30 s away.
    expect(held.nextAttemptAt! - Date.now()).toBeGreaterThan(25_000);
    // The requests already out when the first 503 came back, and nothing more: the rest waits for its Retry-After.
    const reached = failing.log.length;
    expect(reached).toBeLessThanOrEqual(5);
    await page.evaluate(() => window.dispatcher!.flush());
    await page.waitForTimeout(1500);
    expect(failing.log).toHaveLength(reached);
  } finally {
    await failing.close();
  }
});
