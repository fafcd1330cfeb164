// @ts-check
// The packed install test (npm run test:pack): what a user gets from `npm install sw-outbox`.
//   1. `npm pack` this package (prepack builds it) into a temp folder;
//   2. a fresh Vite app in another temp folder installs the tarball and its own tools from
//      the npm registry (no other network): vite, typescript, workbox-*;
//   3. the app has its own Workbox worker (injectManifest, precaching) with installOutbox in
//      it, and a page with createDispatcher; it is built as such apps build (Vite, then
//      workbox-build injectManifest);
//   4. a strict tsc (skipLibCheck: false) checks page and worker, with moduleResolution
//      Bundler and NodeNext;
//   5. headless Chromium: 10 events dispatched offline are all delivered, once, when the
//      browser is back online, counted at a local collector;
//   6. the same without the service worker API: the fallback (dist/fallback.js, copied by
//      the app's Vite build) delivers 5 events dispatched offline;
//   7. the real Optimizely SDK v6 and v5 (installed in the app) with the dispatcher: the
//      collector gets their bodies byte for byte, each once; every answer is 202;
//   8. real setups, in the same app: two destinations, the other one answering 503, hanging,
//      refusing connections in turn → the healthy one's events delivered meanwhile, the other's
//      once it recovers, each once; a 429 with Retry-After: 4 (backoff.maxMs 2000) → no request
//      to it sooner, despite flush(); no service worker with app worker URLs carrying their own
//      query (/sw.js?v=3, /sw.js?opts=…) → accepted and delivered; a 400 → dead letters listed,
//      sent again once fixed (each once), and discarded;
//   9. the vite-plugin-pwa example (examples/vite-pwa/, copied into the app, which installed
//      vite-plugin-pwa too): strict tsc for its page and worker, then e2e/vite-pwa.spec.ts
//      against it, built with the app's own vite (offline → online, the plugin's prompt update
//      with events queued: none lost).
// Prints the packed size and the wall times; exits non-zero on any failure.
// KEEP_PACK_TEST=1 keeps the temp folders.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromiumArgs, executablePath } from '../e2e/chromium.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const started = performance.now();
const seconds = (/** @type {number} */ since) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
const step = (/** @type {string} */ what) => console.log(`pack-test: ${what}`);

// The nested npm must not see this run's npm context (npm run sets npm_config_local_prefix
// to this repo, which would make `npm install` in the app write here).
const npmEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([key]) =>
      !key.startsWith('npm_') || /^npm_config_(cache|userconfig|globalconfig|cafile|registry|https?_proxy|proxy|noproxy)$/.test(key),
  ),
);
/**
 * @param {string[]} args
 * @param {string} cwd
 */
function npm(args, cwd) {
  return execFileSync('npm', args, { cwd, env: npmEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

const work = mkdtempSync(join(tmpdir(), 'sw-outbox-pack-test-'));
const app = join(work, 'app');
/** @type {{ close(): Promise<void> }[]} */
const closers = [];
let failed = false;

try {
  // 1. Pack.
  let t = performance.now();
  // prepack's build prints to stdout too: the JSON report is the part from its opening `[` line.
  const packOutput = npm(['pack', '--json', '--pack-destination', work], root);
  const [packed] = JSON.parse(packOutput.slice(packOutput.search(/^\[$/m)));
  const tarball = join(work, packed.filename);
  const files = packed.files.map((/** @type {{path: string}} */ f) => f.path);
  for (const needed of [
    'package.json',
    'README.md',
    'dist/index.js',
    'dist/worker.js',
    'dist/sw.js',
    'dist/sw.js.map',
    'dist/fallback.js',
    'dist/types/src/index.d.ts',
    'dist/types/worker/index.d.ts',
  ]) {
    if (!files.includes(needed)) throw new Error(`the tarball lacks ${needed}`);
  }
  const stray = files.filter((/** @type {string} */ f) => /^(src|worker|e2e|demo|scripts|test-d)\/|\.test\.|\.spec\./.test(f));
  if (stray.length) throw new Error(`the tarball ships files users do not need: ${stray.join(', ')}`);
  step(
    `packed ${packed.filename}: ${packed.size} B (${(packed.size / 1024).toFixed(1)} KiB), ${packed.unpackedSize} B unpacked, ${packed.entryCount} files (${seconds(t)})`,
  );

  // 2. A fresh app that installs the tarball.
  mkdirSync(join(app, 'src'), { recursive: true });
  writeApp(app);
  t = performance.now();
  npm(
    [
      'install',
      '--prefix',
      app,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      tarball,
      'vite@^8.3',
      'typescript@~5.9',
      'workbox-window@^7.4',
      'workbox-precaching@^7.4',
      'workbox-build@^7.4',
      `vite-plugin-pwa@${pkg.devDependencies['vite-plugin-pwa']}`,
      '@optimizely/optimizely-sdk@6.6.1',
      'optimizely-sdk-v5@npm:@optimizely/optimizely-sdk@5.3.5',
    ],
    app,
  );
  const installTime = seconds(t);
  step(`npm install in a fresh app: ${installTime}`);

  // 3. The collector first: the app's worker is built with its origin in its allowlist.
  const { startCollector } = await import(pathToFileURL(join(root, 'e2e/collector.mjs')).href);
  const { startStaticServer } = await import(pathToFileURL(join(root, 'e2e/static-server.mjs')).href);
  const collector = await startCollector();
  closers.push(collector);
  // A second destination (step 8), on another origin.
  const other = await startCollector({ host: 'localhost' });
  closers.push(other);
  t = performance.now();
  execFileSync(process.execPath, ['build.mjs', collector.origin, other.origin], { cwd: app, stdio: ['ignore', 'pipe', 'inherit'] });
  step(`app built with Vite + injectManifest (${seconds(t)})`);

  // 4. Strict tsc, page and worker, Bundler and NodeNext.
  t = performance.now();
  const tsc = join(app, 'node_modules/typescript/bin/tsc');
  for (const config of ['tsconfig.json', 'tsconfig.sw.json', 'tsconfig.nodenext.json', 'tsconfig.sw.nodenext.json']) {
    try {
      execFileSync(process.execPath, [tsc, '-p', config], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      throw new Error(`tsc -p ${config} failed:\n${/** @type {{stdout: string}} */ (error).stdout}`);
    }
  }
  step(`strict tsc (skipLibCheck: false) passes for page and worker, Bundler and NodeNext (${seconds(t)})`);

  // 5. Offline → online in headless Chromium.
  t = performance.now();
  const server = await startStaticServer({ roots: { '/': join(app, 'dist') } });
  closers.push(server);
  const { chromium } = await import(pathToFileURL(join(root, 'node_modules/playwright/index.mjs')).href);
  const browser = await chromium.launch({
    headless: true,
    executablePath,
    args: chromiumArgs,
  });
  closers.push(browser);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.origin}/`);
  await page.evaluate(async () => {
    const worker = (await navigator.serviceWorker.ready).active;
    if (!worker || worker.state === 'activated') return;
    await new Promise((ok) => worker.addEventListener('statechange', () => worker.state === 'activated' && ok(undefined)));
  });
  await context.setOffline(true);
  const statuses = await page.evaluate(
    (url) =>
      Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          // @ts-expect-error the app's page puts its dispatcher on window
          window.app.dispatcher.dispatchEvent({ url, httpVerb: 'POST', params: { uuid: `packed-${i}`, n: i } }).then((r) => r.statusCode),
        ),
      ),
    collector.url,
  );
  if (statuses.some((/** @type {number} */ s) => s !== 202)) throw new Error(`dispatchEvent statuses while offline: ${statuses}`);
  await page.waitForTimeout(1000);
  if (collector.log.length !== 0) throw new Error(`${collector.log.length} requests reached the collector while offline`);
  await context.setOffline(false);
  const deadline = Date.now() + 30_000;
  while (collector.delivered().length < 10 && Date.now() < deadline) await page.waitForTimeout(100);
  await page.waitForTimeout(300);
  const uuids = collector.delivered().map((/** @type {string} */ body) => JSON.parse(body).uuid);
  const expected = Array.from({ length: 10 }, (_, i) => `packed-${i}`);
  if (uuids.length !== 10 || expected.some((u) => !uuids.includes(u))) {
    throw new Error(
      `after going online the collector got ${uuids.length} events (${uuids.join(', ')}), expected each of ${expected.join(', ')} once`,
    );
  }
  // @ts-expect-error the app's page puts its dispatcher on window
  const stats = await page.evaluate(() => window.app.dispatcher.stats());
  if (stats.queued !== 0 || stats.delivered !== 10) throw new Error(`stats after delivery: ${JSON.stringify(stats)}`);
  step(`Chromium: 10 events dispatched offline, 10 delivered once each online (${seconds(t)})`);

  // 6. The same app where no service worker runs (the API removed before the page runs):
  //    the fallback's worker file, copied by the app's bundler, takes over.
  t = performance.now();
  const noSw = await browser.newContext();
  await noSw.addInitScript(() => {
    // @ts-expect-error removing the API, as some in-app browsers and private modes lack it
    delete Navigator.prototype.serviceWorker;
  });
  const bare = await noSw.newPage();
  await bare.goto(`${server.origin}/`);
  await noSw.setOffline(true);
  const bareStatuses = await bare.evaluate(
    (url) =>
      Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          // @ts-expect-error the app's page puts its dispatcher on window
          window.app.dispatcher.dispatchEvent({ url, httpVerb: 'POST', params: { uuid: `no-sw-${i}`, n: i } }).then((r) => r.statusCode),
        ),
      ),
    collector.url,
  );
  if (bareStatuses.some((/** @type {number} */ s) => s !== 202))
    throw new Error(`no service worker: statuses while offline ${bareStatuses}`);
  await noSw.setOffline(false);
  const bareDeadline = Date.now() + 30_000;
  const noSwDelivered = () => collector.delivered().filter((/** @type {string} */ b) => JSON.parse(b).uuid?.startsWith('no-sw-'));
  while (noSwDelivered().length < 5 && Date.now() < bareDeadline) await bare.waitForTimeout(100);
  await bare.waitForTimeout(300);
  // @ts-expect-error the app's page puts its dispatcher on window
  const bareStats = await bare.evaluate(() => window.app.dispatcher.stats());
  if (noSwDelivered().length !== 5 || bareStats.mode !== 'page') {
    throw new Error(`no service worker: ${noSwDelivered().length} of 5 delivered, stats ${JSON.stringify(bareStats)}`);
  }
  step(`Chromium without the service worker API: 5 events offline, delivered online by the fallback, mode "page" (${seconds(t)})`);

  // 7. The real Optimizely SDK v6 and v5 in the same app: the collector gets exactly the
  //    bodies the SDKs handed over, each once; every answer is 202.
  t = performance.now();
  const sdkPage = await context.newPage();
  const before = new Set(collector.delivered());
  await sdkPage.goto(`${server.origin}/optimizely.html?collector=${encodeURIComponent(collector.url)}`);
  await sdkPage.waitForFunction(() => 'optimizely' in window);
  // @ts-expect-error the page puts its harness on window
  const handed = await sdkPage.evaluate(() => window.optimizely.run(['ana', 'bo', 'chi-ü']));
  if (handed < 12) throw new Error(`the SDKs handed over ${handed} events, expected 12 (2 decides and 2 tracks × 3 users)`);
  const sdkDeadline = Date.now() + 30_000;
  const fresh = () => collector.delivered().filter((/** @type {string} */ b) => !before.has(b));
  while (fresh().length < handed && Date.now() < sdkDeadline) await sdkPage.waitForTimeout(100);
  await sdkPage.waitForTimeout(500);
  // @ts-expect-error the page puts its harness on window
  const { bodies, answers } = await sdkPage.evaluate(() => ({ bodies: window.optimizely.bodies, answers: window.optimizely.answers }));
  const got = fresh().sort();
  const want = [...bodies].sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`Optimizely: the collector got ${got.length} bodies, the SDKs handed over ${want.length}; they differ`);
  }
  const wrong = answers.filter((/** @type {Record<string, {statusCode: number}>} */ a) => Object.values(a)[0]?.statusCode !== 202);
  const callbacks = answers.filter((/** @type {object} */ a) => 'callback' in a).length;
  if (wrong.length || callbacks !== 6 || answers.length !== want.length) {
    throw new Error(`Optimizely answers: ${JSON.stringify(answers)}`);
  }
  step(
    `Chromium, real SDK v6 and v5: ${want.length} bodies delivered byte for byte, each once; every answer 202 (v5 callbacks, v6 promises) (${seconds(t)})`,
  );
  // 8. Real setups (README "Delivery rules", "The fallback's options", dead letters).
  t = performance.now();
  await realSetups(context, browser, server.origin, collector, other);
  step(
    `Chromium, real setups: two destinations (503, hang, refused), Retry-After, app worker URLs with a query, dead letters (${seconds(t)})`,
  );

  // 9. The vite-plugin-pwa example, from the tarball: its files as they are, in a folder of
  //    the app (so `sw-outbox`, vite, vite-plugin-pwa and workbox-precaching resolve to the
  //    app's node_modules), checked by tsc and run by its end-to-end spec.
  t = performance.now();
  const example = join(app, 'vite-pwa');
  cpSync(join(root, 'examples/vite-pwa'), example, {
    recursive: true,
    filter: (source) => !/[\\/](dist|node_modules)$/.test(source),
  });
  for (const config of ['tsconfig.json', 'tsconfig.sw.json']) {
    try {
      execFileSync(process.execPath, [tsc, '-p', config], { cwd: example, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      throw new Error(`vite-pwa example: tsc -p ${config} failed:\n${/** @type {{stdout: string}} */ (error).stdout}`);
    }
  }
  execFileSync(process.execPath, [join(root, 'node_modules/@playwright/test/cli.js'), 'test', 'e2e/vite-pwa.spec.ts'], {
    cwd: root,
    env: { ...process.env, SW_OUTBOX_VITE_PWA_DIR: example, SW_OUTBOX_SKIP_BUILD: '1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  step(
    `vite-plugin-pwa ${readInstalledVersion(app, 'vite-plugin-pwa')} example from the tarball: tsc, built and run in Chromium (${seconds(t)})`,
  );
  console.log(`pack-test: passed — packed ${packed.size} B, install ${installTime}, total wall time ${seconds(started)}`);
} catch (error) {
  failed = true;
  const e = /** @type {Error & {stdout?: string, stderr?: string}} */ (error);
  console.error(`pack-test: FAILED after ${seconds(started)}: ${e.stack ?? e}`);
  if (e.stdout) console.error(e.stdout);
  if (e.stderr) console.error(e.stderr);
} finally {
  for (const c of closers.reverse()) await c.close().catch(() => {});
  if (process.env.KEEP_PACK_TEST) console.log(`pack-test: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

/** The version of a package installed in `dir`. @param {string} dir @param {string} name */
function readInstalledVersion(dir, name) {
  return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/** The consumer app: its own page, worker, build script and tsconfigs. @param {string} dir */
function writeApp(dir) {
  /** @type {Record<string, string>} */
  const files = {
    'package.json': JSON.stringify({ name: 'sw-outbox-consumer', private: true, type: 'module' }, null, 2),
    'index.html': `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>consumer</title></head>
  <body><h1>A Vite app that installed sw-outbox</h1><script type="module" src="/src/main.ts"></script></body>
</html>
`,
    'src/main.ts': `import { createDispatcher, OutboxError, type Dispatcher, type Stats } from 'sw-outbox';
import { Workbox } from 'workbox-window';

// workbox-window's constructor needs the service worker API: without it, give the URL
// (the dispatcher then runs its fallback).
// (?sw=… : the app's worker URL with a query of its own, as apps register theirs.)
const swUrl = new URLSearchParams(location.search).get('sw') ?? '/sw.js';
const wb = 'serviceWorker' in navigator ? new Workbox(swUrl) : undefined;
const dispatcher: Dispatcher = createDispatcher({ serviceWorker: wb ?? swUrl });
void wb?.register();
dispatcher.on('delivered', ({ ids, status }) => console.log('delivered', ids.length, status));
export async function report(): Promise<Stats | string> {
  try {
    return await dispatcher.stats();
  } catch (error) {
    return error instanceof OutboxError ? error.code : String(error);
  }
}
(window as unknown as { app: { dispatcher: Dispatcher } }).app = { dispatcher };
`,
    'optimizely.html': `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>consumer, Optimizely</title></head>
  <body><h1>The real Optimizely SDKs through sw-outbox</h1><script type="module" src="/src/optimizely.ts"></script></body>
</html>
`,
    'src/datafile.ts': readFileSync(join(root, 'e2e/optimizely/datafile.ts'), 'utf8'),
    'src/optimizely.ts': `// SDK v6 (forwarding processor) and v5, each with sw-outbox as its eventDispatcher;
// every body the SDK hands over is recorded, with every answer it gets.
import * as v6 from '@optimizely/optimizely-sdk';
import * as v5 from 'optimizely-sdk-v5';
import { createDispatcher } from 'sw-outbox';
import { Workbox } from 'workbox-window';
import { datafile } from './datafile';

const collector = new URLSearchParams(location.search).get('collector')!;
const wb = new Workbox('/sw.js');
void wb.register();
const dispatcher = createDispatcher({ serviceWorker: wb, rewrite: { 'https://logx.optimizely.com/v1/events': collector } });
const bodies: string[] = [];
const answers: unknown[] = [];
const recorded = {
  dispatchEvent(event: { url: string; httpVerb: string; params: unknown }, callback?: (r: { statusCode: number }) => void) {
    bodies.push(JSON.stringify(event.params));
    const promise = dispatcher.dispatchEvent(event, callback && ((r) => { answers.push({ callback: r }); callback(r); }));
    if (!callback) void promise.then((r) => answers.push({ promise: r }));
    return promise;
  },
};

async function run(users: string[]) {
  const six = v6.createInstance({
    projectConfigManager: v6.createStaticProjectConfigManager({ datafile }),
    eventProcessor: v6.createForwardingEventProcessor(recorded as never),
    logger: v6.createLogger({ level: v6.ERROR }),
  });
  await six.onReady({ timeout: 5000 });
  const five = v5.createInstance({ datafile, eventDispatcher: recorded as never, eventBatchSize: 1, odpOptions: { disabled: true }, logLevel: 'error' })!;
  await five.onReady({ timeout: 5000 });
  for (const user of users) {
    six.createUserContext(user).decide('checkout_flow');
    six.createUserContext(user).trackEvent('purchase');
    five.createUserContext(user)?.decide('checkout_flow');
    five.track('purchase', user);
  }
  return bodies.length;
}
(window as unknown as { optimizely: unknown }).optimizely = { run, bodies, answers };
`,
    'src/sw.ts': `import { installOutbox, SYNC_TAG, type OutboxOptions } from 'sw-outbox/worker';
import { cleanupOutdatedCaches, precacheAndRoute } from 'workbox-precaching';

declare const self: ServiceWorkerGlobalScope;
declare const __COLLECTOR_ORIGIN__: string;
declare const __OTHER_ORIGIN__: string;

cleanupOutdatedCaches();
precacheAndRoute(self.__WB_MANIFEST);
self.addEventListener('message', (event) => {
  if (event.data?.type === 'SKIP_WAITING') void self.skipWaiting();
});

const options: OutboxOptions = {
  endpoints: [__COLLECTOR_ORIGIN__, __OTHER_ORIGIN__],
  backoff: { baseMs: 200, maxMs: 2000 },
  timeoutMs: 3000,
};
const outbox = installOutbox(options);
self.addEventListener('sync', (event) => {
  if ((event as Event & { tag?: string }).tag === SYNC_TAG) void outbox.stats();
});
`,
    // Build the way a Workbox app does: page with Vite, worker with Vite (one classic
    // script), then injectManifest. The ready-made worker is copied too, as README says.
    'build.mjs': `import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { injectManifest } from 'workbox-build';

const [collector, other] = process.argv.slice(2);
await build({ logLevel: 'warn', build: { rollupOptions: { input: ['index.html', 'optimizely.html'] } } });
await build({
  logLevel: 'warn',
  publicDir: false,
  define: {
    __COLLECTOR_ORIGIN__: JSON.stringify(collector),
    __OTHER_ORIGIN__: JSON.stringify(other),
    'process.env.NODE_ENV': '"production"',
  },
  build: { outDir: 'sw-build', emptyOutDir: true, lib: { entry: 'src/sw.ts', formats: ['iife'], name: 'sw', fileName: () => 'sw.js' } },
});
const { count, warnings } = await injectManifest({
  swSrc: 'sw-build/sw.js',
  swDest: 'dist/sw.js',
  globDirectory: 'dist',
  globPatterns: ['**/*.{html,js,css}'],
});
if (warnings.length || count < 2) throw new Error('injectManifest: ' + count + ' entries; ' + warnings.join('; '));
const readyMade = fileURLToPath(import.meta.resolve('sw-outbox/sw.js'));
mkdirSync('dist/ready-made', { recursive: true });
copyFileSync(readyMade, 'dist/ready-made/sw.js');
copyFileSync(readyMade + '.map', 'dist/ready-made/sw.js.map');
`,
  };
  const strict = { strict: true, noUncheckedIndexedAccess: true, skipLibCheck: false, noEmit: true, target: 'ES2022', types: [] };
  const page = { ...strict, lib: ['ES2022', 'DOM', 'DOM.Iterable'] };
  const worker = { ...strict, lib: ['ES2022', 'WebWorker'] };
  const bundler = { module: 'ESNext', moduleResolution: 'Bundler' };
  const nodenext = { module: 'NodeNext', moduleResolution: 'NodeNext' };
  files['tsconfig.json'] = JSON.stringify({ compilerOptions: { ...page, ...bundler }, files: ['src/main.ts'] }, null, 2);
  files['tsconfig.sw.json'] = JSON.stringify({ compilerOptions: { ...worker, ...bundler }, files: ['src/sw.ts'] }, null, 2);
  files['tsconfig.nodenext.json'] = JSON.stringify({ compilerOptions: { ...page, ...nodenext }, files: ['src/main.ts'] }, null, 2);
  files['tsconfig.sw.nodenext.json'] = JSON.stringify({ compilerOptions: { ...worker, ...nodenext }, files: ['src/sw.ts'] }, null, 2);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  // Sanity: the files are where the build expects them.
  if (!readFileSync(join(dir, 'src/sw.ts'), 'utf8').includes('self.__WB_MANIFEST')) throw new Error('app sw.ts lacks self.__WB_MANIFEST');
}

/**
 * Step 8, in the consumer app built from the tarball.
 * @param {any} context a context with the service worker API (its page already controlled)
 * @param {any} browser @param {string} origin the app's origin
 * @param {any} collector the healthy destination @param {any} other the second destination
 */
async function realSetups(context, browser, origin, collector, other) {
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  await page.evaluate(() => navigator.serviceWorker.ready);
  /** @param {any} p @param {string} url @param {string} prefix @param {number} n */
  const dispatch = async (p, url, prefix, n) => {
    const statuses = await p.evaluate(
      (/** @type {[string, string, number]} */ [url, prefix, n]) =>
        Promise.all(
          Array.from({ length: n }, (_, i) =>
            // @ts-expect-error the app's page puts its dispatcher on window
            window.app.dispatcher.dispatchEvent({ url, httpVerb: 'POST', params: { uuid: `${prefix}-${i}` } }).then((r) => r.statusCode),
          ),
        ),
      [url, prefix, n],
    );
    if (statuses.some((/** @type {number} */ x) => x !== 202)) throw new Error(`${prefix}: dispatchEvent answered ${statuses}`);
  };
  /** uuid → times delivered, of the uuids starting with `prefix`. @param {any} c @param {string} prefix */
  const counts = (c, prefix) => {
    const m = new Map();
    for (const body of c.delivered()) {
      const uuid = JSON.parse(body).uuid;
      if (typeof uuid === 'string' && uuid.startsWith(prefix)) m.set(uuid, (m.get(uuid) ?? 0) + 1);
    }
    return m;
  };
  /** @param {() => boolean} ok @param {number} ms @param {string} what */
  const until = async (ok, ms, what) => {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`real setups: ${what} (not within ${ms} ms)`);
      await sleep(50);
    }
  };
  /** @param {any} c @param {string} prefix @param {number} n */
  const onceEach = (c, prefix, n) => {
    const m = counts(c, prefix);
    if (m.size !== n || [...m.values()].some((x) => x !== 1))
      throw new Error(`${prefix}: delivered ${JSON.stringify([...m])}, expected ${n} once each`);
  };
  // @ts-expect-error the app's page puts its dispatcher on window
  const call = (/** @type {string} */ method, /** @type {unknown} */ arg) =>
    page.evaluate(([m, a]) => window.app.dispatcher[m](a), [method, arg]);

  // Two destinations, the other failing in each way in turn: the healthy one's events go
  // meanwhile; the other's wait, and all of them go once it recovers.
  /** @type {[string, any][]} */
  const failures = [
    ['503', { kind: 'status', status: 503 }],
    ['hang', { kind: 'hang' }],
    ['refused', { kind: 'down' }],
  ];
  for (const [name, mode] of failures) {
    await other.setMode(mode);
    await dispatch(page, other.url, `other-${name}`, 3);
    if (name !== 'refused') await until(() => other.log.length > 0, 10_000, `${name}: the other destination was not tried`);
    await dispatch(page, collector.url, `healthy-${name}`, 3);
    await until(
      () => counts(collector, `healthy-${name}`).size === 3,
      10_000,
      `${name}: the healthy destination got ${counts(collector, `healthy-${name}`).size} of 3 while the other failed`,
    );
    if (counts(other, `other-${name}`).size !== 0) throw new Error(`${name}: the failing destination has deliveries`);
    await other.setMode({ kind: 'up' });
    await call('flush');
    await until(() => counts(other, `other-${name}`).size === 3, 20_000, `${name}: the other destination's events after it recovered`);
    await page.waitForTimeout(300);
    onceEach(other, `other-${name}`, 3);
    onceEach(collector, `healthy-${name}`, 3);
  }

  // Retry-After: 4 with backoff.maxMs 2000: nothing sooner, whatever flush() asks.
  other.log.length = 0;
  other.script([{ status: 429, retryAfter: '4' }]);
  await dispatch(page, other.url, 'retry-after', 1);
  await until(() => other.log.length === 1, 10_000, 'Retry-After: the first request');
  const firstAt = other.log[0].answeredAt ?? other.log[0].at;
  for (let i = 0; i < 6; i++) {
    await call('flush');
    await page.waitForTimeout(400);
  }
  await until(() => counts(other, 'retry-after').size === 1, 15_000, 'Retry-After: delivered after the wait');
  const gap = other.log[1].at - firstAt;
  if (other.log.length !== 2 || gap < 3900)
    throw new Error(`Retry-After: 4 → next request ${gap} ms after the 429 (${other.log.length} requests)`);

  // Dead letters: a 400 three times, listed, sent again once the collector is fixed, each once; then discarded.
  await collector.setMode({ kind: 'status', status: 400 });
  await dispatch(page, collector.url, 'dead', 3);
  await until(() => collector.log.filter((/** @type {any} */ r) => r.status === 400).length >= 3, 10_000, 'dead letters: the 400s');
  let letters;
  for (const deadline = Date.now() + 10_000; ; await page.waitForTimeout(100)) {
    letters = (await call('deadLetters', { limit: 10 })).letters.filter((/** @type {any} */ l) =>
      JSON.parse(l.body).uuid.startsWith('dead-'),
    );
    if (letters.length === 3 || Date.now() > deadline) break;
  }
  if (letters.length !== 3 || letters.some((/** @type {any} */ l) => l.status !== 400 || l.reason !== 'http-4xx'))
    throw new Error(`dead letters listed: ${JSON.stringify(letters)}`);
  await collector.setMode({ kind: 'up' });
  const again = await call(
    'retryDeadLetters',
    letters.map((/** @type {any} */ l) => l.id),
  );
  if (again.requeued.length !== 3) throw new Error(`retryDeadLetters: ${JSON.stringify(again)}`);
  await until(() => counts(collector, 'dead').size === 3, 15_000, 'dead letters sent again');
  await page.waitForTimeout(300);
  onceEach(collector, 'dead', 3);
  await collector.setMode({ kind: 'status', status: 400 });
  await dispatch(page, collector.url, 'discard', 2);
  await until(() => collector.log.filter((/** @type {any} */ r) => r.status === 400).length >= 5, 10_000, 'discard: the 400s');
  await page.waitForTimeout(300);
  await collector.setMode({ kind: 'up' });
  const discarded = await call('discardDeadLetters', undefined);
  const left = (await call('deadLetters', { limit: 10 })).letters.length;
  if (discarded.discarded.length < 2 || left !== 0) throw new Error(`discardDeadLetters: ${JSON.stringify(discarded)}, ${left} left`);
  await page.close();

  // No service worker, the app's own worker URL carrying its own query: accepted, delivered.
  for (const sw of ['/sw.js?v=3', '/sw.js?opts=%7B%22a%22%3A1%7D']) {
    const noSw = await browser.newContext();
    await noSw.addInitScript(() => {
      // @ts-expect-error removing the API, as some in-app browsers and private modes lack it
      delete Navigator.prototype.serviceWorker;
    });
    const bare = await noSw.newPage();
    await bare.goto(`${origin}/?sw=${encodeURIComponent(sw)}`);
    const prefix = `query-${sw.length}`;
    await dispatch(bare, collector.url, prefix, 3);
    await until(() => counts(collector, prefix).size === 3, 20_000, `no service worker, ${sw}: delivered`);
    // @ts-expect-error the app's page puts its dispatcher on window
    const mode = await bare.evaluate(() => window.app.dispatcher.stats().then((s) => s.mode));
    if (mode !== 'page') throw new Error(`no service worker, ${sw}: mode ${mode}`);
    await sleep(300);
    onceEach(collector, prefix, 3);
    await noSw.close();
  }
}
