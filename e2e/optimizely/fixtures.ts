// Fixtures of the Optimizely SDK tests (e2e/optimizely*.spec.ts): per Playwright worker, a
// collector and a static server for the harness built by global-setup (with /sw.js, the
// package's ready-made worker, and a first-party proxy route to the collector); per test,
// a fresh collector state and a fresh browser context.
import { type Page, test as base, expect } from '@playwright/test';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Collector, startCollector } from '../collector.mjs';
import { startStaticServer } from '../static-server.mjs';
import { OPTIMIZELY_HARNESS_DIR } from './build';
import type { Call, SdkName, StartOptions } from './main';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Where every SDK version sends its events. */
export const SDK_URL = 'https://logx.optimizely.com/v1/events';
/** The path of the static server that forwards POSTs to the collector (a first-party proxy). */
export const FIRST_PARTY_PATH = '/first-party/v1/events';

export type SwOptions = Record<string, string | number>;

export interface Harness {
  origin: string;
  /** The collector URL the SDK's URL is rewritten to. */
  collectorUrl: string;
  /** The query string of /sw.js: test defaults (collector allowed, short backoff) plus `options`. */
  swQuery(options?: SwOptions): string;
  /** Opens the harness page (optionally a snippet), without starting an SDK. */
  goto(page: Page, search?: string): Promise<void>;
  /** Starts an SDK on the open page with the outbox as its dispatcher; waits for the worker. */
  start(page: Page, options: Partial<StartOptions> & Pick<StartOptions, 'sdk'>, sw?: SwOptions): Promise<void>;
}

interface WorkerFixtures {
  optServers: { collector: Collector; origin: string; firstParty: string[] };
}
interface TestFixtures {
  collector: Collector;
  harness: Harness;
  /** Bodies the first-party proxy route forwarded, in order. */
  firstParty: string[];
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  optServers: [
    async ({}, use) => {
      const collector = await startCollector();
      const firstParty: string[] = [];
      const server = await startStaticServer({
        roots: {
          '/sw.js': resolve(root, 'dist/sw.js'),
          '/sw.js.map': resolve(root, 'dist/sw.js.map'),
          '/': OPTIMIZELY_HARNESS_DIR,
        },
        // A first-party proxy: the page's own origin forwards events to the collector.
        async routes(req, res) {
          if (req.method !== 'POST' || !req.url?.startsWith(FIRST_PARTY_PATH)) return false;
          const chunks: Buffer[] = [];
          for await (const chunk of req) chunks.push(chunk as Buffer);
          const body = Buffer.concat(chunks).toString('utf8');
          firstParty.push(body);
          const answer = await fetch(collector.url + req.url.slice(FIRST_PARTY_PATH.length), {
            method: 'POST',
            headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
            body,
          }).then(
            (r) => r.status,
            () => 502,
          );
          res.writeHead(answer, { 'content-type': 'text/plain' });
          res.end('ok');
          return true;
        },
      });
      await use({ collector, origin: server.origin, firstParty });
      await collector.close();
      await server.close();
    },
    { scope: 'worker' },
  ],
  collector: async ({ optServers }, use) => {
    await optServers.collector.reset();
    await use(optServers.collector);
    await optServers.collector.reset();
  },
  firstParty: async ({ optServers }, use) => {
    optServers.firstParty.length = 0;
    await use(optServers.firstParty);
  },
  harness: async ({ optServers }, use) => {
    const { collector, origin } = optServers;
    const defaults: SwOptions = { endpoints: collector.origin, baseMs: 100, maxMs: 2000, timeoutMs: 5000 };
    const swQuery = (options: SwOptions = {}) =>
      new URLSearchParams(Object.entries({ ...defaults, ...options }).map(([k, v]) => [k, String(v)])).toString();
    await use({
      origin,
      collectorUrl: collector.url,
      swQuery,
      async goto(page, search = '') {
        await page.goto(`${origin}/${search}`);
        await page.waitForFunction(() => window.harness !== undefined);
      },
      async start(page, options, sw) {
        const full: StartOptions = { sw: swQuery(sw), rewrite: { [SDK_URL]: collector.url }, ...options };
        await page.evaluate((o) => window.harness.start(o), full);
        await waitForActiveWorker(page, `/sw.js?${full.sw}`);
      },
    });
  },
});

export { expect };

interface Body {
  visitors: { visitor_id: string; snapshots: { events: { uuid: string; key: string }[] }[] }[];
  [context: string]: unknown;
}

export function parse(body: string): Body {
  return JSON.parse(body) as Body;
}

/** Every event uuid a body carries, in order. */
export function uuidsOf(body: string): string[] {
  return parse(body).visitors.flatMap((v) => v.snapshots.flatMap((s) => s.events.map((e) => e.uuid)));
}

/** The body's context: every top-level field but `visitors`, as JSON with sorted keys. */
export function contextOf(body: string): string {
  const { visitors: _, ...context } = parse(body);
  return JSON.stringify(Object.fromEntries(Object.entries(context).sort(([a], [b]) => a.localeCompare(b))));
}

/** Bodies of the POSTs the collector answered 2xx, in order of arrival. */
export function delivered(collector: Collector): string[] {
  return collector.delivered();
}

/** How many times the collector received each event uuid (2xx only). */
export function uuidCounts(collector: Collector): Map<string, number> {
  const counts = new Map<string, number>();
  for (const body of delivered(collector)) for (const uuid of uuidsOf(body)) counts.set(uuid, (counts.get(uuid) ?? 0) + 1);
  return counts;
}

/** Waits until the collector has received every one of `uuids`, then `graceMs` more for strays. */
export async function waitForUuids(collector: Collector, uuids: Iterable<string>, graceMs = 1500, timeout = 30_000): Promise<void> {
  const wanted = [...uuids];
  await expect
    .poll(
      () => {
        const counts = uuidCounts(collector);
        return wanted.filter((u) => !counts.has(u)).length;
      },
      { timeout, message: 'events still missing at the collector' },
    )
    .toBe(0);
  await new Promise((r) => setTimeout(r, graceMs));
}

export async function calls(page: Page): Promise<Call[]> {
  return page.evaluate(() => window.harness.calls);
}

export async function answers(page: Page): Promise<unknown[]> {
  return page.evaluate(() => window.harness.answers);
}

/** Waits until the SDK has dispatched `count` events (uuids) in all, and every call has been answered. */
export async function waitForDispatched(page: Page, count: number, timeout = 15_000): Promise<Call[]> {
  await expect
    .poll(
      () =>
        page.evaluate(() => ({
          uuids: new Set(
            window.harness.calls.flatMap((c) =>
              (JSON.parse(c.body) as Body).visitors.flatMap((v) => v.snapshots.flatMap((s) => s.events.map((e) => e.uuid))),
            ),
          ).size,
          unanswered: window.harness.calls.length - window.harness.answers.length,
        })),
      { timeout, message: 'the SDK has not dispatched every event yet' },
    )
    .toEqual({ uuids: count, unanswered: 0 });
  return calls(page);
}

export function sorted(list: readonly string[]): string[] {
  return [...list].sort();
}

/**
 * Waits (bounded: a worker script that fails to load or throws never activates) until the
 * page's worker is activated. (Polled with evaluate: waitForFunction does not await an
 * async predicate, and the Promise it returns counts as truthy at once.)
 */
export async function waitForActiveWorker(page: Page, what = 'the service worker'): Promise<void> {
  await expect
    .poll(() => page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.active?.state ?? 'no active worker'), {
      timeout: 20_000,
      intervals: [100],
      message: `${what} did not activate`,
    })
    .toBe('activated');
}

// Shared by the Optimizely specs (optimizely*.spec.ts).
export const SDKS: SdkName[] = ['v4', 'v5', 'v6-forwarding', 'v6-batch'];
export const legacy = (sdk: SdkName) => sdk === 'v4' || sdk === 'v5';
export const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}-ü`);
export const TAGS = { revenue: 4200, value: 12.5, note: 'ünïcødé ✓ "quoted" \\ </script>' };

export const allUuids = (calls: Call[]) => calls.flatMap((c) => uuidsOf(c.body));

/** Each uuid appears in exactly one call: the SDK sent nothing twice. */
export function expectDistinct(calls: Call[], count: number): string[] {
  const uuids = allUuids(calls);
  expect(uuids).toHaveLength(count);
  expect(new Set(uuids).size).toBe(count);
  return uuids;
}

/** Every request at the collector is the dispatcher's POST of JSON to the rewritten URL. */
export function expectRequestsToCollector(collector: { log: { method: string; path: string; headers: Record<string, unknown> }[] }) {
  for (const r of collector.log) {
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/events');
    expect(String(r.headers['content-type'])).toMatch(/^application\/json/);
  }
}

/** The SDK's decide (and activate, v4/v5) and track for each user, in the page. */
export async function act(page: Page, sdk: SdkName, who: string[]) {
  return page.evaluate(
    ({ who, legacy, tags }) => {
      const variations = window.harness.decide(who);
      const activated = legacy ? window.harness.activate(who) : [];
      window.harness.track(who, tags);
      return { variations, activated };
    },
    { who, legacy: legacy(sdk), tags: TAGS },
  );
}
