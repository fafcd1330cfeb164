// What page scripts can post to the worker, and what can be found in its store:
// malformed, foreign, outdated or huge messages and corrupted records are ignored or
// answered with an error, never crash the worker, and leave the queue untouched.
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';

/** Posts `message` to the active worker with a reply port; resolves the reply or 'no reply'. */
async function ask(page: Page, message: unknown, withPort = true): Promise<unknown> {
  return page.evaluate(
    async ({ message, withPort }) => {
      const registration = await navigator.serviceWorker.ready;
      const worker = registration.active!;
      if (!withPort) {
        worker.postMessage(message);
        return 'posted';
      }
      const channel = new MessageChannel();
      const reply = new Promise((resolve) => {
        channel.port1.onmessage = (e) => resolve(e.data);
        setTimeout(() => resolve('no reply'), 1500);
      });
      worker.postMessage(message, [channel.port2]);
      return reply;
    },
    { message, withPort },
  );
}

test('malformed, foreign, outdated and huge messages: ignored or refused, and the worker still works', async ({ page, app, collector }) => {
  await app.open(page);
  const url = collector.url;
  const huge = 'x'.repeat(3 * 1024 * 1024);

  // Not ours: left alone (an app's own messages, Workbox's SKIP_WAITING).
  expect(await ask(page, { type: 'PING' })).toBe('no reply');
  expect(await ask(page, { type: 'SKIP_WAITING' })).toBe('no reply');
  expect(await ask(page, 'hello')).toBe('no reply');
  expect(await ask(page, null)).toBe('no reply');
  expect(await ask(page, { type: 'PING', blob: huge })).toBe('no reply');

  // Ours, but wrong.
  expect(await ask(page, { type: 'sw-outbox/launch', v: 1 })).toMatchObject({
    type: 'sw-outbox/error',
    code: 'invalid-message',
    message: expect.stringContaining('sw-outbox/launch'),
  });
  expect(await ask(page, { type: 'sw-outbox/stats', v: 99 })).toMatchObject({
    code: 'protocol-mismatch',
    message: expect.stringContaining('99'),
  });
  expect(await ask(page, { type: 'sw-outbox/stats' })).toMatchObject({ code: 'protocol-mismatch' });
  expect(await ask(page, { type: 'sw-outbox/enqueue', v: 1 })).toMatchObject({
    code: 'invalid-message',
    message: expect.stringContaining('events'),
  });
  expect(await ask(page, { type: 'sw-outbox/enqueue', v: 1, events: 'nope' })).toMatchObject({ code: 'invalid-message' });
  const tooMany = Array.from({ length: 1001 }, (_, i) => ({ id: `m${i}`, url, body: '{}' }));
  expect(await ask(page, { type: 'sw-outbox/enqueue', v: 1, events: tooMany })).toMatchObject({
    code: 'invalid-message',
    message: expect.stringContaining('1000'),
  });

  // Per event: each bad one refused, with its own code.
  const mixed = await ask(page, {
    type: 'sw-outbox/enqueue',
    v: 1,
    events: [
      {},
      { id: 'no-body', url },
      { id: 'bad-url', url: 'javascript:1', body: '{}' },
      { id: 'far', url: 'https://elsewhere.example/', body: '{}' },
      { id: 'big', url, body: huge },
    ],
  });
  expect(mixed).toMatchObject({
    type: 'sw-outbox/enqueued',
    results: [
      { ok: false, code: 'invalid-message' },
      { id: 'no-body', ok: false, code: 'invalid-message', message: expect.stringContaining('body') },
      { id: 'bad-url', ok: false, code: 'invalid-url' },
      { id: 'far', ok: false, code: 'endpoint-not-allowed' },
      { id: 'big', ok: false, code: 'body-too-large' },
    ],
  });

  // No reply port: no crash, nothing queued.
  expect(await ask(page, { type: 'sw-outbox/enqueue', v: 1, events: [{ id: 'bad', url: 42, body: '{}' }] }, false)).toBe('posted');

  // Still alive, still empty, still delivering.
  expect(await page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 0, deadLettered: 0, dropped: 0 });
  await page.evaluate((url) => window.dispatcher!.send(url, { after: 'fuzz' }), url);
  await expect.poll(() => collector.delivered()).toEqual(['{"after":"fuzz"}']);
});

test('corrupted records found in the store are dead-lettered as invalid, never sent, and delivery goes on', async ({
  page,
  app,
  collector,
}) => {
  await app.open(page, { baseMs: 60_000, maxMs: 60_000 });
  await collector.setMode({ kind: 'down' });
  await page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((ok, fail) => {
      const request = indexedDB.open('sw-outbox');
      request.onsuccess = () => ok(request.result);
      request.onerror = () => fail(request.error);
    });
    const tx = db.transaction('queue', 'readwrite');
    const now = Date.now();
    const base = { createdAt: now, nextAttemptAt: 0, attempts: 0, tries: 0 };
    tx.objectStore('queue').add({ ...base, id: 'corrupt-url-type', url: 42, body: '{}' });
    tx.objectStore('queue').add({ ...base, id: 'corrupt-body', url: 'http://127.0.0.1:9/x', body: { not: 'a string' } });
    tx.objectStore('queue').add({ ...base, id: 'corrupt-scheme', url: 'javascript:alert(1)', body: '{}' });
    tx.objectStore('queue').add({ ...base, id: 'not-allowed', url: 'http://127.0.0.1:9/elsewhere', body: '{}' });
    await new Promise((ok) => (tx.oncomplete = ok));
    db.close();
  });
  await collector.setMode({ kind: 'up' });
  await page.evaluate((url) => window.dispatcher!.send(url, { good: true }), collector.url);
  await expect.poll(() => collector.delivered()).toEqual(['{"good":true}']);
  await expect.poll(async () => (await page.evaluate(() => window.dispatcher!.stats())).deadLettered).toBe(4);
  const events = await page.evaluate(() => window.outboxEvents.filter((e) => e.name === 'dead-letter').map((e) => e.detail));
  expect(events.flatMap((d) => (d as { ids: string[] }).ids).sort()).toEqual([
    'corrupt-body',
    'corrupt-scheme',
    'corrupt-url-type',
    'not-allowed',
  ]);
  expect(events.every((d) => (d as { reason: string }).reason === 'invalid')).toBe(true);
  expect(collector.log).toHaveLength(1);
  expect(await page.evaluate(() => window.dispatcher!.stats())).toMatchObject({ queued: 0, delivered: 1 });
});
