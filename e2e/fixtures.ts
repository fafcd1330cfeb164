// Shared fixtures: per Playwright worker, one collector and one static server for the
// harness page; per test, a fresh collector state and a fresh browser context (so a
// fresh IndexedDB and service-worker registration).
import { type Page, test as base, expect } from '@playwright/test';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Collector, startCollector } from './collector.mjs';
import { makeParams } from './events.js';

export { makeParams };
import { startStaticServer } from './static-server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type SwOptions = Record<string, string | number>;

export interface App {
  origin: string;
  /** The harness URL whose dispatcher registers `/sw.js?<options>`. */
  url(options?: SwOptions): string;
  /** Opens the harness and waits until its worker is activated. */
  open(page: Page, options?: SwOptions): Promise<void>;
}

interface WorkerFixtures {
  servers: { collector: Collector; origin: string };
}
interface TestFixtures {
  collector: Collector;
  app: App;
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  servers: [
    async ({}, use) => {
      const collector = await startCollector();
      const server = await startStaticServer({
        roots: { '/sw.js': resolve(root, 'dist/sw.js'), '/sw.js.map': resolve(root, 'dist/sw.js.map'), '/': resolve(root, 'e2e/.app') },
      });
      await use({ collector, origin: server.origin });
      await collector.close();
      await server.close();
    },
    { scope: 'worker' },
  ],
  collector: async ({ servers }, use) => {
    await servers.collector.reset();
    await use(servers.collector);
    await servers.collector.reset();
  },
  app: async ({ servers }, use) => {
    const defaults: SwOptions = { endpoints: servers.collector.origin, baseMs: 100, maxMs: 2000, timeoutMs: 5000 };
    const url = (options: SwOptions = {}) => {
      const query = new URLSearchParams(Object.entries({ ...defaults, ...options }).map(([k, v]) => [k, String(v)]));
      return `${servers.origin}/?sw=${encodeURIComponent(query.toString())}`;
    };
    await use({
      origin: servers.origin,
      url,
      async open(page, options) {
        await page.goto(url(options));
        await waitForActiveWorker(page);
      },
    });
  },
});

export { expect };

export async function waitForActiveWorker(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    const worker = registration.active!;
    if (worker.state === 'activated') return;
    await new Promise<void>((ok) => worker.addEventListener('statechange', () => worker.state === 'activated' && ok()));
  });
}

/** The uuid carried by a body built with makeParams. */
export function uuidOf(body: string): string {
  return (JSON.parse(body) as { visitors: { snapshots: { events: { uuid: string }[] }[] }[] }).visitors[0]!.snapshots[0]!.events[0]!.uuid;
}

/**
 * Dispatches `count` events from the page (all at once) and returns, per event, its
 * uuid, the exact JSON.stringify(params) the page computed, and the settled status.
 */
export async function dispatchMany(page: Page, url: string, count: number, prefix: string) {
  const events = Array.from({ length: count }, (_, i) => ({
    uuid: `${prefix}-${i}`,
    params: makeParams(`${prefix}-${i}`, `user-${i % 7}`),
  }));
  return page.evaluate(
    async ({ url, events }) =>
      Promise.all(
        events.map(async ({ uuid, params }) => {
          const response = await window.dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params });
          return { uuid, body: JSON.stringify(params), statusCode: response.statusCode };
        }),
      ),
    { url, events },
  );
}

/** Counts per uuid of what the collector answered 2xx. */
export function deliveredCounts(collector: Collector): Map<string, number> {
  const counts = new Map<string, number>();
  for (const body of collector.delivered()) counts.set(uuidOf(body), (counts.get(uuidOf(body)) ?? 0) + 1);
  return counts;
}

/** Returns a function that stops every service worker of the page's browser (CDP), at once. */
export async function workerKiller(page: Page): Promise<() => Promise<void>> {
  const session = await page.context().newCDPSession(page);
  await session.send('ServiceWorker.enable');
  return async () => {
    await session.send('ServiceWorker.stopAllWorkers');
  };
}
