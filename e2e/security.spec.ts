// Security defaults: cookies only when `credentials` says so, a strict
// Content-Security-Policy page works, only allowlisted endpoints are contacted.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, waitForActiveWorker } from './fixtures';
import { startStaticServer } from './static-server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

test('credentials: "include" sends the cookie (the default "omit" does not: see contract.spec.ts)', async ({
  page,
  app,
  collector,
  context,
}) => {
  await context.addCookies([{ name: 'session', value: 'secret', url: collector.origin }]);
  await app.open(page, { credentials: 'include' });
  await page.evaluate((url) => window.dispatcher!.send(url, { c: 2 }), collector.url);
  await expect.poll(() => collector.log.length).toBe(1);
  expect(collector.log[0]!.cookie).toBe('session=secret');
});

test("works on a page with a strict Content-Security-Policy (script-src 'self', no unsafe-eval)", async ({ page, collector }) => {
  // Served on the worker script too, where it governs the worker's own fetches: the
  // collector must be in connect-src (README, troubleshooting).
  const csp = `default-src 'self'; script-src 'self'; connect-src 'self' ${collector.origin}; object-src 'none'; base-uri 'none'`;
  const server = await startStaticServer({
    roots: { '/sw.js': resolve(root, 'dist/sw.js'), '/': resolve(root, 'e2e/.app') },
    headers: { 'content-security-policy': csp },
  });
  try {
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const query = new URLSearchParams({ endpoints: collector.origin, baseMs: '100', maxMs: '1000' });
    const response = await page.goto(`${server.origin}/?sw=${encodeURIComponent(query.toString())}`);
    expect(response!.headers()['content-security-policy']).toBe(csp);
    await waitForActiveWorker(page);
    await page.evaluate(() => {
      document.addEventListener('securitypolicyviolation', (e) => console.log(`Content Security Policy violation: ${e.violatedDirective}`));
    });
    const result = await page.evaluate(
      (url) => window.dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params: { csp: true } }),
      collector.url,
    );
    expect(result).toEqual({ statusCode: 202 });
    await expect.poll(() => collector.delivered()).toEqual(['{"csp":true}']);
    expect(violations).toEqual([]);
  } finally {
    await server.close();
  }
});

test('an endpoint outside the allowlist is never contacted, even by the worker', async ({ page, app, collector, context }) => {
  const contacted: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (!url.startsWith(app.origin) && !url.startsWith(collector.origin)) contacted.push(url);
    return route.continue();
  });
  await app.open(page);
  const refused = await page.evaluate(() =>
    window.dispatcher!.send('http://127.0.0.1:9/not-allowed', { x: 1 }).then(
      () => 'accepted',
      (e: { code: string }) => e.code,
    ),
  );
  expect(refused).toBe('endpoint-not-allowed');
  await page.evaluate((url) => window.dispatcher!.send(url, { y: 1 }), collector.url);
  await expect.poll(() => collector.delivered()).toEqual(['{"y":1}']);
  expect(contacted).toEqual([]);
});
