// Dead letters you can act on (issue 15, item 4): a collector that refuses with 400 for a
// while; the refused events are listed (paged), sent again once it is fixed (each
// delivered exactly once, by the collector's own log), or discarded for good.
import type { Page } from '@playwright/test';
import type { DeadLetter, DeadLetterPage, RequeueResult } from 'sw-outbox';
import { removeServiceWorkerApi } from './fallback/helpers';
import { deliveredCounts, dispatchMany, expect, test, uuidOf, workerKiller } from './fixtures';

test.describe.configure({ mode: 'serial' });

const stats = (page: Page) => page.evaluate(() => window.dispatcher!.stats());

test('a 400 for a while: dead letters listed and paged, then sent again once the collector is fixed, each once', async ({
  page,
  app,
  collector,
}) => {
  await app.open(page);
  await collector.setMode({ kind: 'status', status: 400 });
  const sent = await dispatchMany(page, collector.url, 7, 'refused');
  expect(sent.every((s) => s.statusCode === 202)).toBe(true);
  await expect.poll(async () => (await stats(page)).deadLettered, { timeout: 15_000 }).toBe(7);

  // Listed: the fields of each, newest first.
  const all = await page.evaluate(() => window.dispatcher!.deadLetters());
  expect(all.next).toBeNull();
  expect(all.letters).toHaveLength(7);
  const byUuid = new Map(all.letters.map((l) => [uuidOf(l.body), l]));
  for (const s of sent) {
    const letter = byUuid.get(s.uuid)!;
    expect(letter).toMatchObject({ url: collector.url, body: s.body, status: 400, reason: 'http-4xx', attempts: 1 });
    expect(letter.id).toEqual(expect.any(String));
    expect(letter.firstAttemptAt).toBe(letter.deadAt);
    expect(letter.lastAttemptAt).toBe(letter.deadAt);
    expect(letter.createdAt).toBeLessThanOrEqual(letter.deadAt);
  }
  // Newest first: the order the events were stored, reversed.
  expect(all.letters.map((l) => uuidOf(l.body))).toEqual(sent.map((s) => s.uuid).reverse());

  // Paged: 3 + 3 + 1, no overlap, the same letters.
  const pages: DeadLetterPage[] = [];
  let before: string | undefined;
  do {
    const p: DeadLetterPage = await page.evaluate((before) => window.dispatcher!.deadLetters({ limit: 3, before }), before);
    pages.push(p);
    before = p.next ?? undefined;
  } while (before !== undefined && pages.length < 10);
  expect(pages.map((p) => p.letters.length)).toEqual([3, 3, 1]);
  expect(pages.flatMap((p) => p.letters.map((l: DeadLetter) => l.id))).toEqual(all.letters.map((l) => l.id));

  // A bad argument is refused, by name, and crosses to the page as an OutboxError.
  const refused = await page.evaluate(() =>
    window.dispatcher!.deadLetters({ limit: 0 }).then(
      () => null,
      (e: { name: string; code: string; message: string }) => ({ name: e.name, code: e.code, message: e.message }),
    ),
  );
  expect(refused).toMatchObject({ name: 'OutboxError', code: 'invalid-argument', message: expect.stringContaining('limit') });

  // The collector is fixed: send them again.
  await collector.setMode({ kind: 'up' });
  expect(collector.delivered()).toHaveLength(0);
  const result: RequeueResult = await page.evaluate(() => window.dispatcher!.retryDeadLetters());
  expect(result).toMatchObject({ alreadyQueued: [], queueFull: [], notFound: [] });
  expect([...result.requeued].sort()).toEqual(all.letters.map((l) => l.id).sort());
  await expect.poll(() => deliveredCounts(collector).size, { timeout: 15_000 }).toBe(7);
  await page.waitForTimeout(1000);
  const counts = deliveredCounts(collector);
  for (const s of sent) expect(counts.get(s.uuid), s.uuid).toBe(1);
  // The same event ids: the id each dead letter had is the id the worker delivered.
  const delivered = await page.evaluate(() =>
    window.outboxEvents.filter((e) => e.name === 'delivered').flatMap((e) => (e.detail as { ids: string[] }).ids),
  );
  expect([...delivered].sort()).toEqual(all.letters.map((l) => l.id).sort());
  const requeuedEvents = await page.evaluate(() =>
    window.outboxEvents.filter((e) => e.name === 'requeued').flatMap((e) => (e.detail as { ids: string[] }).ids),
  );
  expect([...requeuedEvents].sort()).toEqual([...result.requeued].sort());
  expect(await stats(page)).toMatchObject({ queued: 0, deadLettered: 0, delivered: 7, requeued: 7, discarded: 0 });
  expect(await page.evaluate(() => window.dispatcher!.deadLetters())).toEqual({ letters: [], next: null });
});

test('discardDeadLetters: some by id, then all; gone for good (a new page sees them gone)', async ({ page, app, collector, context }) => {
  await app.open(page);
  await collector.setMode({ kind: 'status', status: 400 });
  await dispatchMany(page, collector.url, 4, 'discard');
  await expect.poll(async () => (await stats(page)).deadLettered, { timeout: 15_000 }).toBe(4);
  const { letters } = await page.evaluate(() => window.dispatcher!.deadLetters());
  const [first, ...rest] = letters.map((l) => l.id);

  expect(await page.evaluate((id) => window.dispatcher!.discardDeadLetters([id, 'no-such-id']), first!)).toEqual({
    discarded: [first],
    notFound: ['no-such-id'],
  });
  const all = await page.evaluate(() => window.dispatcher!.discardDeadLetters());
  expect([...all.discarded].sort()).toEqual([...rest].sort());
  const announced = await page.evaluate(() =>
    window.outboxEvents.filter((e) => e.name === 'discarded').flatMap((e) => (e.detail as { ids: string[] }).ids),
  );
  expect([...announced].sort()).toEqual([first!, ...rest].sort());
  expect(await stats(page)).toMatchObject({ deadLettered: 0, discarded: 4, queued: 0 });

  // Durable: the worker stopped (its memory gone), then another page (a new dispatcher, a fresh worker, the same store).
  await (await workerKiller(page))();
  const other = await context.newPage();
  await app.open(other);
  expect(await other.evaluate(() => window.dispatcher!.deadLetters())).toEqual({ letters: [], next: null });
  await page.reload();
  expect(await stats(page)).toMatchObject({ deadLettered: 0, discarded: 4 });
  // Nothing of them was sent again.
  await collector.setMode({ kind: 'up' });
  await page.waitForTimeout(500);
  expect(collector.delivered()).toHaveLength(0);
});

test('no service worker (the page-side outbox, same engine): dead letters listed, sent again, discarded', async ({
  page,
  app,
  collector,
  context,
}) => {
  await context.addInitScript(removeServiceWorkerApi);
  await page.goto(app.url());
  await collector.setMode({ kind: 'status', status: 422 });
  const sent = await dispatchMany(page, collector.url, 3, 'page-mode');
  await expect.poll(async () => (await stats(page)).deadLettered, { timeout: 15_000 }).toBe(3);
  expect((await stats(page)).mode).toBe('page');
  const { letters } = await page.evaluate(() => window.dispatcher!.deadLetters({ limit: 10 }));
  expect(letters.map((l) => [l.status, l.reason])).toEqual([
    [422, 'http-4xx'],
    [422, 'http-4xx'],
    [422, 'http-4xx'],
  ]);
  await collector.setMode({ kind: 'up' });
  const retried = await page.evaluate((id) => window.dispatcher!.retryDeadLetters([id]), letters[0]!.id);
  expect(retried.requeued).toEqual([letters[0]!.id]);
  await expect.poll(() => deliveredCounts(collector).get(sent[2]!.uuid) ?? 0, { timeout: 15_000 }).toBe(1);
  expect(await page.evaluate(() => window.dispatcher!.discardDeadLetters())).toMatchObject({ notFound: [] });
  expect(await stats(page)).toMatchObject({ mode: 'page', deadLettered: 0, requeued: 1, discarded: 2, delivered: 1 });
  expect(deliveredCounts(collector).size).toBe(1);
});
