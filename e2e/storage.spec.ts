// Storage the browser keeps (issue 17, item 4): the page asks for persistence
// (persistStorage(), or the persistStorage option at the first accepted event), and
// stats() says what the browser says where the outbox runs: persisted() and estimate().
// Headless Chromium decides persist() by engagement (it refused, here): the tests hold
// the dispatcher's answers to what the page's own navigator.storage says, then make the
// browser grant it (CDP's durableStorage permission) and expect true from the page and
// from the worker's own persisted().
import type { Page } from '@playwright/test';
import type { Stats } from 'sw-outbox';
import { INSECURE_HOST, harnessUrl, launchWithInsecureHost, removeServiceWorkerApi } from './fallback/helpers';
import { dispatchMany, expect, test } from './fixtures';

const stats = (page: Page): Promise<Stats> => page.evaluate(() => window.dispatcher!.stats());
const persistedInPage = (page: Page) => page.evaluate(() => navigator.storage.persisted());
const estimateInPage = (page: Page) => page.evaluate(() => navigator.storage.estimate());

/** Dispatches 200 events (each accepted) and waits until stats() has them queued and some storage used. */
async function queue200(page: Page, url: string, prefix: string): Promise<Stats> {
  const sent = await dispatchMany(page, url, 200, prefix);
  expect(sent.every((s) => s.statusCode === 202)).toBe(true);
  await expect
    .poll(async () => {
      const s = await stats(page);
      return s.queued === 200 && s.storage !== null && s.storage.usage > 0;
    })
    .toBe(true);
  return stats(page);
}

/** Init script: counts the page's calls of navigator.storage.persist() (and still makes them). */
function countPersistCalls(): void {
  const original = StorageManager.prototype.persist;
  (window as unknown as { persistCalls: number }).persistCalls = 0;
  StorageManager.prototype.persist = function persist(this: StorageManager) {
    (window as unknown as { persistCalls: number }).persistCalls++;
    return original.call(this);
  };
}
/**
 * Makes the browser grant persistence to the page's origin, as Chromium does for a site
 * the user engages with (installed, bookmarked, visited often): CDP's `durableStorage`
 * permission, in the page's own browser context (without it, the default context's).
 */
async function grantPersistence(page: Page): Promise<void> {
  const pageSession = await page.context().newCDPSession(page);
  const { targetInfo } = await pageSession.send('Target.getTargetInfo');
  await pageSession.detach();
  const session = await page.context().browser()!.newBrowserCDPSession();
  await session.send('Browser.grantPermissions', {
    permissions: ['durableStorage'],
    origin: new URL(page.url()).origin,
    browserContextId: targetInfo.browserContextId,
  });
  // Left attached: Chromium drops the session's permission overrides when it detaches.
  // (It goes with the browser; the override, with the test's context.)
}
const persistCalls = (page: Page) => page.evaluate(() => (window as unknown as { persistCalls: number }).persistCalls);

test("service worker: persistStorage() answers what navigator.storage.persisted() then says; stats() reports it and the origin's usage and quota", async ({
  page,
  app,
  collector,
}) => {
  await app.open(page);
  await collector.setMode({ kind: 'down' });
  const granted = await page.evaluate(() => window.dispatcher!.persistStorage());
  console.log(`headless Chromium: persistStorage() → ${granted}`);
  expect(typeof granted).toBe('boolean');
  expect(await persistedInPage(page)).toBe(granted);

  // The worker asks persisted() for itself: the same origin, the same answer.
  const before = await stats(page);
  expect(before.mode).toBe('service-worker');
  expect(before.persisted).toBe(granted);

  // Events queued (the collector is down): the origin uses storage, within its quota.
  const after = await queue200(page, collector.url, 'kept');
  console.log(
    `service worker: 200 events queued, stats().storage ${JSON.stringify(after.storage)}, page estimate ${JSON.stringify(await estimateInPage(page))}`,
  );
  expect(after.storage!.usage).toBeGreaterThan(0);
  expect(after.storage!.quota).toBeGreaterThan(after.storage!.usage);
  expect(after.persisted).toBe(await persistedInPage(page));
  // A browser that grants it: persistStorage() is true, and so is the worker's persisted().
  await grantPersistence(page);
  expect(await page.evaluate(() => window.dispatcher!.persistStorage())).toBe(true);
  expect(await persistedInPage(page)).toBe(true);
  expect((await stats(page)).persisted).toBe(true);
  // The `stats` event carries the same fields.
  await expect
    .poll(() =>
      page.evaluate(() => {
        const last = window.outboxEvents.filter((e) => e.name === 'stats').pop()?.detail as Stats | undefined;
        return last ? { persisted: last.persisted, storage: typeof last.storage?.quota } : null;
      }),
    )
    .toEqual({ persisted: true, storage: 'number' });
});

test('persistStorage: "first-event" asks once, as the first event is accepted; a refused event does not count; the default never asks', async ({
  page,
  app,
  collector,
}) => {
  await page.addInitScript(countPersistCalls);
  // The harness's own dispatcher has the default ('never').
  await app.open(page);
  await collector.setMode({ kind: 'down' });
  expect(await dispatchMany(page, collector.url, 3, 'default')).toHaveLength(3);
  expect(await persistCalls(page)).toBe(0);

  const result = await page.evaluate(
    async ({ swUrl, good, bad }) => {
      const d = window.swOutbox.createDispatcher({ serviceWorker: swUrl, persistStorage: 'first-event' });
      const calls = () => (window as unknown as { persistCalls: number }).persistCalls;
      const atCreation = calls();
      // Not in the worker's endpoints: refused (endpoint-not-allowed), so not "accepted".
      const refused = await d.send(bad, { n: 0 }).then(
        () => 'accepted',
        (e: { code: string }) => e.code,
      );
      const afterRefused = calls();
      const first = await d.send(good, { n: 1 });
      // persist() is called as the first 202 resolves, before this await returns.
      const afterFirst = calls();
      await Promise.all([1, 2, 3, 4, 5].map((n) => d.send(good, { n })));
      const afterMore = calls();
      const granted = await d.persistStorage();
      await d.close();
      return { atCreation, refused, afterRefused, first: first.statusCode, afterFirst, afterMore, afterMethod: calls(), granted };
    },
    // The harness registers /sw.js?<its ?sw= query>: the same worker.
    { swUrl: `/sw.js?${new URL(app.url()).searchParams.get('sw')}`, good: collector.url, bad: 'https://not-allowed.example/e' },
  );
  expect(result).toEqual({
    atCreation: 0,
    refused: 'endpoint-not-allowed',
    afterRefused: 0,
    first: 202,
    afterFirst: 1,
    afterMore: 1,
    // persistStorage() asks every time it is called: the browser may decide otherwise later.
    afterMethod: 2,
    granted: await persistedInPage(page),
  });
});

test('persistStorage: a bad value is invalid-option from createDispatcher, naming it; persistStorage() after close() is closed', async ({
  page,
  app,
}) => {
  await app.open(page);
  const refusals = await page.evaluate(() =>
    ['always', true, 1, null, ''].map((value) => {
      try {
        window.swOutbox.createDispatcher({ serviceWorker: '/sw.js', persistStorage: value as never });
        return { value, code: 'none', message: '' };
      } catch (e) {
        const { name, code, message } = e as { name: string; code: string; message: string };
        return { value, name, code, message };
      }
    }),
  );
  for (const r of refusals) {
    expect(r, JSON.stringify(r.value)).toMatchObject({
      name: 'OutboxError',
      code: 'invalid-option',
      message: expect.stringContaining('persistStorage'),
    });
  }
  expect(refusals[0]!.message).toContain('"always"');
  const closed = await page.evaluate(async () => {
    await window.dispatcher!.close();
    return window.dispatcher!.persistStorage().then(
      () => 'resolved',
      (e: { code: string }) => e.code,
    );
  });
  expect(closed).toBe('closed');
});

test('no service worker API: the page-side outbox answers the same fields', async ({ page, app, collector }) => {
  await page.addInitScript(removeServiceWorkerApi);
  await collector.setMode({ kind: 'down' });
  await page.goto(app.url());
  const granted = await page.evaluate(() => window.dispatcher!.persistStorage());
  expect(await persistedInPage(page)).toBe(granted);
  const s = await queue200(page, collector.url, 'fallback');
  console.log(`page-side outbox: 200 events queued, stats().storage ${JSON.stringify(s.storage)}, persisted ${s.persisted}`);
  expect(s).toMatchObject({ mode: 'page', degraded: false, persisted: granted });
  expect(s.storage!.quota).toBeGreaterThan(s.storage!.usage);
  await grantPersistence(page);
  expect(await page.evaluate(() => window.dispatcher!.persistStorage())).toBe(true);
  expect((await stats(page)).persisted).toBe(true);
});

test('not a secure context (http:// page, no Storage API): persistStorage() is false, stats() says null for both', async ({
  app,
  collector,
}) => {
  const browser = await launchWithInsecureHost();
  try {
    const page = await (await browser.newContext()).newPage();
    await collector.setMode({ kind: 'down' });
    await page.goto(harnessUrl(app).replace('127.0.0.1', INSECURE_HOST));
    expect(await page.evaluate(() => ({ secure: isSecureContext, storage: 'storage' in navigator }))).toEqual({
      secure: false,
      storage: false,
    });
    expect(await page.evaluate(() => window.dispatcher!.persistStorage())).toBe(false);
    expect((await dispatchMany(page, collector.url, 5, 'http'))[0]!.statusCode).toBe(202);
    expect(await stats(page)).toMatchObject({ mode: 'page', queued: 5, persisted: null, storage: null });
  } finally {
    await browser.close();
  }
});
