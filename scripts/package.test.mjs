// @ts-check
// Package quality, checked on the built package (run `npm run build` first):
//   node --test scripts/package.test.mjs        (npm run test:package)
// - the exports map: `types` first, every target shipped, "sideEffects": false honest;
// - browser entries free of Node built-ins; source maps that carry their sources;
// - the page entry's size budget, bundled as a user's bundler would (Vite, minified, gzip);
// - the files served as they are (dist/sw.js, dist/fallback.js): minified, within their
//   budgets, their source maps pointing into the sources, their errors naming the option;
// - every export of `sw-outbox` and `sw-outbox/worker` named in README.md;
// - README.md's Optimizely snippets and vite-plugin-pwa example equal to the files the tests run.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap, builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/**
 * Page entry (`createDispatcher` and everything it pulls in; not the fallback's worker
 * file), minified and gzipped (level 9). Measured 3,415 B on 2026-12-01, under the 4,096 B
 * goal of issue 5 since a script URL is registered with `navigator.serviceWorker.register`
 * (what workbox-window's `Workbox.register({immediate: true})` does; the class was 2,199 B
 * of the 5,291 B before; holding a message while events keep coming cost 71 B). Raised
 * from 3,584 B on purpose (issue 15, item 3: 3,521 → 3,653 B): createDispatcher refuses a
 * `rewrite` entry or a serviceWorker URL that cannot work at once (one invalid-option
 * rather than every event refused later), and the pagehide copies read `endpoints` as the
 * fallback does (endpointsFromQuery, each entry parsed). Raised from 3,840 B on purpose
 * (issue 17, item 4: 3,713 → 3,846 B): persistStorage() and the persistStorage option
 * (navigator.storage.persist() is exposed in windows only, so this entry has to carry
 * it), and stats of an older worker filled with the storage fields (29 B of the 133).
 * Lower it as the entry shrinks; raise it only on purpose.
 */
const PAGE_BUDGET_GZIP_BYTES = 3968;

/**
 * The files served as they are (copied to a site, or loaded by a `new Worker`), minified
 * by Vite's own minifier (scripts/build.mjs), gzip level 9. Measured on 2026-12-07 at
 * 79bb4a2: dist/sw.js 48,304 B min, 16,695 B gzip; dist/fallback.js 54,810 B, 18,462 B
 * (unminified they would be 98,526 / 28,239 B and 113,154 / 31,302 B). Raised on purpose
 * from 17,408 / 19,456 B at d62ce0c, where storage figures (stats().storage, persisted)
 * and clock-jump handling (store and flusher) made them 51,860 B / 17,953 B and
 * 58,785 B / 19,856 B: about 5 % of room again. Raised on purpose again to 20,480 /
 * 22,528 B by the rooms of issue 16 (the store, the flusher and the engine as named
 * top-level functions over typed contexts, whose property names minify less than closure
 * variables): 57,144 B / 19,420 B and 63,489 B / 21,302 B at that merge, +1,467 B and
 * +1,446 B gzip for code a newcomer can follow. Raise only on purpose, and update the
 * README ("Use with no worker of your own").
 */
const SERVED_BUDGET_GZIP_BYTES = { 'dist/sw.js': 20_480, 'dist/fallback.js': 22_528 };

/** The files a browser loads: the two ES entries, their shared chunks, the ready-made worker. */
const browserFiles = () => [
  'dist/index.js',
  'dist/worker.js',
  'dist/sw.js',
  'dist/fallback.js',
  ...readdirSync(join(root, 'dist/chunks'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => `dist/chunks/${f}`),
];

const read = (/** @type {string} */ file) => readFileSync(join(root, file), 'utf8');

let scratch = '';
before(() => {
  assert.ok(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run `npm run build` first');
  scratch = mkdtempSync(join(tmpdir(), 'sw-outbox-package-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

/** `sw-outbox` and `sw-outbox/worker` resolved through the exports map, as a bundler does. */
function aliases() {
  return Object.entries(pkg.exports)
    .filter(([, target]) => typeof target === 'object')
    .map(([subpath, target]) => ({
      find: new RegExp(`^${`sw-outbox${subpath.slice(1)}`.replace(/[/.]/g, '\\$&')}$`),
      replacement: join(root, target.import),
    }));
}

/**
 * Bundles `source` as an app (Vite, production, minified) and returns its JS.
 * @param {string} name
 * @param {string} source
 * @param {import('vite').Plugin[]} [plugins]
 */
async function bundle(name, source, plugins = []) {
  return (await bundleWithAssets(name, source, plugins)).code;
}

/**
 * Bundles `source` as an app: the page's JS (every chunk) and the files the bundler
 * copied as assets (the fallback's dedicated worker, loaded only where no service worker runs).
 * @param {string} name
 * @param {string} source
 * @param {import('vite').Plugin[]} [plugins]
 */
async function bundleWithAssets(name, source, plugins = []) {
  const entry = join(scratch, `${name}.js`);
  writeFileSync(entry, source);
  const result = await build({
    logLevel: 'silent',
    configFile: false,
    root: scratch,
    plugins,
    resolve: { alias: aliases() },
    build: { write: false, minify: true, target: 'es2022', modulePreload: false, rollupOptions: { input: entry } },
  });
  const outputs = (Array.isArray(result) ? result : [result]).flatMap((o) => ('output' in o ? o.output : []));
  return {
    code: outputs.flatMap((o) => (o.type === 'chunk' ? [o.code] : [])).join('\n'),
    assets: outputs.flatMap((o) => (o.type === 'asset' ? [{ name: o.fileName, source: String(o.source) }] : [])),
  };
}

const gzipSize = (/** @type {string} */ code) => gzipSync(code, { level: 9 }).length;

test('exports map: `types` first in every condition, every target shipped', () => {
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.sideEffects, false);
  assert.ok(pkg.files.includes('dist'));
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') {
      assert.ok(existsSync(join(root, target)), `${subpath} → ${target} is not built`);
      continue;
    }
    assert.equal(Object.keys(target)[0], 'types', `exports["${subpath}"]: "types" must come first (TypeScript reads conditions in order)`);
    for (const [condition, file] of Object.entries(target)) {
      assert.ok(existsSync(join(root, file)), `exports["${subpath}"].${condition} → ${file} is not built`);
    }
  }
  assert.ok(existsSync(join(root, pkg.types)), `"types": ${pkg.types} is not built`);
  assert.ok(existsSync(join(root, 'dist/sw.js.map')), 'dist/sw.js.map ships beside the ready-made worker');
});

test('browser entries import no Node built-ins and read no process.env', () => {
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  for (const file of browserFiles()) {
    const code = read(file);
    const specifiers = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["'`]([^"'`]+)["'`]/g)].map((m) => m[1]);
    for (const specifier of specifiers) {
      assert.ok(!specifier.startsWith('node:') && !builtins.has(specifier), `${file} imports the Node built-in "${specifier}"`);
    }
    assert.doesNotMatch(code, /\bprocess\.env\b/, `${file} reads process.env (undefined in browsers unless a bundler replaces it)`);
    assert.doesNotMatch(code, /\b(?:__dirname|__filename)\b|\brequire\s*\(/, `${file} uses CommonJS/Node globals`);
  }
});

test('source maps: every browser file links one, and it carries its sources', () => {
  for (const file of browserFiles()) {
    const link = read(file).match(/\/\/# sourceMappingURL=(\S+)\s*$/);
    assert.ok(link, `${file} has no sourceMappingURL comment`);
    const mapFile = join(dirname(join(root, file)), link[1]);
    assert.ok(existsSync(mapFile), `${file} links ${link[1]}, which is not built`);
    const map = JSON.parse(readFileSync(mapFile, 'utf8'));
    assert.ok(map.sources.length > 0, `${link[1]} lists no sources`);
    // src/ is not in the package: without sourcesContent the map would point at nothing.
    assert.equal(map.sourcesContent?.length, map.sources.length, `${link[1]} lacks sourcesContent`);
  }
});

test('"sideEffects": false is honest: importing the entries for nothing leaves nothing', async () => {
  // Ignore the package.json hint: treat every module of ours as having side effects, and
  // check that tree-shaking still removes all of it (no top-level listeners, globals, calls).
  // Dependencies (idb, workbox-window) are treated as pure: their own top-level code is
  // theirs, and it stays out of a bundle unless our surviving code reaches it.
  const ours = join(root, 'dist');
  /** @type {import('vite').Plugin} */
  const assumeSideEffects = {
    name: 'assume-side-effects',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      if (!resolved) return null;
      return { ...resolved, moduleSideEffects: resolved.id.startsWith(ours) };
    },
  };
  const code = await bundle('side-effects', "import 'sw-outbox';\nimport 'sw-outbox/worker';\n", [assumeSideEffects]);
  assert.equal(code.trim(), '', `top-level side effects survive tree-shaking:\n${code.slice(0, 500)}`);
});

test(`page entry size budget: createDispatcher, bundled and minified, ≤ ${PAGE_BUDGET_GZIP_BYTES} B gzip`, async (t) => {
  const { code: page, assets } = await bundleWithAssets(
    'page',
    "import { createDispatcher } from 'sw-outbox';\nglobalThis.createDispatcher = createDispatcher;\n",
  );
  const worker = await bundle('worker', "import { installOutbox } from 'sw-outbox/worker';\nglobalThis.installOutbox = installOutbox;\n");
  // The fallback is not in the page's JS: the bundler emits it as a file of its own.
  const fallback = assets.find((a) => /fallback.*\.js$/.test(a.name));
  assert.ok(fallback, `the fallback worker was not emitted by the bundler (assets: ${assets.map((a) => a.name).join(', ')})`);
  assert.ok(!page.includes('createEngine') && !page.includes('openDB'), 'store or engine code leaked into the page entry');
  // ('updatefound' and 'controlling': workbox-window's own listener and event.)
  assert.ok(!(page.includes('updatefound') && page.includes('controlling')), "workbox-window's Workbox is in the page entry");
  const sizes = {
    page: { min: page.length, gzip: gzipSize(page) },
    'fallback worker (loaded only without a service worker)': { min: fallback.source.length, gzip: gzipSize(fallback.source) },
    worker: { min: worker.length, gzip: gzipSize(worker) },
    'dist/sw.js': { min: read('dist/sw.js').length, gzip: gzipSize(read('dist/sw.js')) },
  };
  for (const [name, s] of Object.entries(sizes)) t.diagnostic(`${name}: ${s.min} B min, ${s.gzip} B min+gzip`);
  console.log(`page entry (createDispatcher): ${sizes.page.min} B min, ${sizes.page.gzip} B min+gzip (budget ${PAGE_BUDGET_GZIP_BYTES} B)`);
  assert.ok(
    sizes.page.gzip <= PAGE_BUDGET_GZIP_BYTES,
    `the page entry grew to ${sizes.page.gzip} B min+gzip, over its budget of ${PAGE_BUDGET_GZIP_BYTES} B`,
  );
});

for (const [file, budget] of Object.entries(SERVED_BUDGET_GZIP_BYTES)) {
  test(`${file} is served as it is: minified, ≤ ${budget} B gzip`, () => {
    const code = read(file);
    const gzip = gzipSize(code);
    console.log(`${file}: ${code.length} B min, ${gzip} B min+gzip (budget ${budget} B)`);
    // One line of code and the sourceMappingURL comment.
    assert.ok(code.split('\n').length <= 2, `${file} has ${code.split('\n').length} lines: not minified`);
    assert.ok(gzip <= budget, `${file} grew to ${gzip} B min+gzip, over its budget of ${budget} B`);
  });
}

test("the ES entries stay readable for the user's bundler (not minified)", () => {
  for (const [file, name] of [
    ['dist/index.js', 'createDispatcher'],
    ['dist/worker.js', 'installOutbox'],
  ]) {
    const code = read(file);
    assert.ok(code.split('\n').length > 100, `${file} is on ${code.split('\n').length} lines: minified?`);
    assert.match(code, new RegExp(`\\bfunction ${name}\\(`), `${file} lost the name ${name}`);
  }
});

/**
 * Where `needle` is in `file` (its first occurrence), through the file's source map:
 * the original source, and that source's line. The entry is the mapping at or before the
 * needle (a token's start: the string, template or call that holds it).
 */
function original(/** @type {string} */ file, /** @type {string} */ needle) {
  const code = read(file);
  const at = code.indexOf(needle);
  assert.ok(at >= 0, `${file} does not contain ${JSON.stringify(needle)}`);
  const before = code.slice(0, at).split('\n');
  return originalAt(file, before.length - 1, before.at(-1)?.length ?? 0);
}

/** A 0-based line and column of `file`, through its source map: source and line text. */
function originalAt(/** @type {string} */ file, /** @type {number} */ line, /** @type {number} */ column) {
  const payload = JSON.parse(read(`${file}.map`));
  const entry = new SourceMap(payload).findEntry(line, column);
  assert.ok(typeof entry?.originalSource === 'string', `${file}:${line + 1}:${column + 1} maps to nothing`);
  const index = payload.sources.indexOf(entry.originalSource);
  const text = /** @type {string} */ (payload.sourcesContent[index] ?? '').split('\n')[entry.originalLine] ?? '';
  return { source: entry.originalSource.replace(/^(\.\.\/)+/, ''), line: entry.originalLine + 1, text };
}

test('source maps of the minified scripts point into the sources, line by line', () => {
  // [file, text in the minified file, source it comes from, text of that source line]
  const cases = [
    ['dist/sw.js', 'installOutbox: unknown option', 'src/engine/options.ts', 'unknown option'],
    ['dist/sw.js', 'sw-outbox:deliver', 'worker/outbox.ts', 'SYNC_TAG'],
    ['dist/sw.js', 'retry-after', 'src/delivery/send.ts', "headers.get('retry-after')"],
    ['dist/sw.js', 'application/json', 'src/delivery/send.ts', "'content-type': 'application/json'"],
    ['dist/fallback.js', 'IndexedDB is unavailable', 'worker/fallback.ts', 'IndexedDB is unavailable'],
    ['dist/fallback.js', 'installOutbox: unknown option', 'src/engine/options.ts', 'unknown option'],
  ];
  for (const [file, needle, source, line] of cases) {
    const found = original(file, needle);
    assert.ok(found.source.startsWith(source), `${file}: ${JSON.stringify(needle)} maps to ${found.source}:${found.line}, not ${source}`);
    assert.ok(
      found.text.includes(line),
      `${file}: ${JSON.stringify(needle)} maps to ${found.source}:${found.line}, "${found.text.trim()}"`,
    );
  }
});

/**
 * Runs dist/sw.js as a browser would start it from `/sw.js${search}`, in a context of its
 * own with only what the script touches before it reads its options; returns what it threw.
 */
function startReadyMadeWorker(/** @type {string} */ search) {
  /** @type {Record<string, unknown>} */
  const scope = { location: { search, href: `https://app.example/sw.js${search}` }, URL, URLSearchParams, TextEncoder, console };
  scope.self = scope;
  try {
    runInNewContext(read('dist/sw.js'), scope, { filename: 'dist/sw.js' });
  } catch (error) {
    return /** @type {{name: string, code: string, message: string, stack: string}} */ (error);
  }
  assert.fail(`dist/sw.js${search} started`);
}

test('the minified ready-made worker refuses a bad option by name, with a stack that maps to the sources', () => {
  const invalid = startReadyMadeWorker('?maxQueueSize=-5');
  assert.equal(invalid.name, 'OutboxError');
  assert.equal(invalid.code, 'invalid-option');
  assert.equal(invalid.message, 'installOutbox: maxQueueSize must be an integer ≥ 1, got -5');
  const unknown = startReadyMadeWorker('?maxQueueSzie=5');
  assert.equal(unknown.code, 'invalid-option');
  assert.equal(unknown.message, 'installOutbox: unknown option "maxQueueSzie"');
  const backoff = startReadyMadeWorker('?baseMs=abc');
  assert.equal(backoff.message, 'installOutbox: backoff.baseMs must be an integer ≥ 1, got "abc"');
  // Each frame in dist/sw.js, through the map: the option check that threw, installOutbox,
  // the worker's entry. (V8 leaves the error's own constructor out of its stack.)
  const frames = [...invalid.stack.matchAll(/dist\/sw\.js:(\d+):(\d+)/g)].map(([, line, column]) =>
    originalAt('dist/sw.js', Number(line) - 1, Number(column) - 1),
  );
  const where = frames.map((f) => `${f.source}:${f.line}`);
  assert.equal(frames[0]?.source, 'src/engine/options.ts', `the stack ${JSON.stringify(where)} does not start in options.ts`);
  assert.match(frames[0].text, /throw new OutboxError\('invalid-option'/, `options.ts:${frames[0].line} is "${frames[0].text.trim()}"`);
  assert.ok(
    frames.some((f) => f.source === 'worker/outbox.ts' && f.text.includes('resolveOptions(')),
    `the stack ${JSON.stringify(where)} does not pass installOutbox`,
  );
  assert.ok(
    frames.some((f) => f.source === 'worker/sw.ts' && f.text.includes('installOutbox(')),
    `the stack ${JSON.stringify(where)} does not come from worker/sw.ts`,
  );
});

test('the minified fallback refuses a bad option by name', async () => {
  /** @type {Record<string, unknown> & {onmessage?: (event: unknown) => void}} */
  const scope = { location: { href: 'https://app.example/assets/fallback.js' }, navigator: {}, URL, URLSearchParams, TextEncoder, console };
  scope.self = scope;
  runInNewContext(read('dist/fallback.js'), scope, { filename: 'dist/fallback.js' });
  assert.equal(typeof scope.onmessage, 'function', 'dist/fallback.js set no onmessage');
  const reply = await new Promise((resolve) => {
    // (A copy: the reply is an object of the script's own realm.)
    const port = { postMessage: (/** @type {object} */ message) => resolve({ ...message }) };
    scope.onmessage?.({ data: { type: 'sw-outbox/configure', v: 1, options: { maxQueueSize: -5 } }, ports: [port] });
  });
  assert.deepEqual(reply, {
    type: 'sw-outbox/error',
    v: 1,
    code: 'invalid-option',
    message: 'installOutbox: maxQueueSize must be an integer ≥ 1, got -5',
  });
});

test('README.md names every export of sw-outbox and sw-outbox/worker', () => {
  // Code spans and fenced blocks of the README: an export must appear in one of them.
  const readme = read('README.md');
  const code = [...readme.matchAll(/```[\s\S]*?```|`[^`\n]+`/g)].map((m) => m[0]).join('\n');
  const missing = [];
  for (const entry of ['src/index.ts', 'worker/index.ts']) {
    for (const name of exportedNames(read(entry))) {
      if (!new RegExp(`\\b${name}\\b`).test(code)) missing.push(`${name} (${entry})`);
    }
  }
  assert.deepEqual(missing, [], `README.md does not document: ${missing.join(', ')}`);
});

test('README.md shows the Optimizely snippets exactly as the tests run them', () => {
  const readme = read('README.md');
  const dir = 'e2e/optimizely/snippets';
  const snippets = readdirSync(join(root, dir)).filter((f) => /^v\d.*\.ts$/.test(f));
  assert.ok(snippets.length >= 4, `expected the v4, v5, v6 and v6-batch snippets in ${dir}`);
  const missing = snippets.filter((f) => !readme.includes(read(`${dir}/${f}`).trim()));
  assert.deepEqual(missing, [], `README.md does not show these snippets as written: ${missing.join(', ')}`);
});

test('README.md shows the vite-plugin-pwa example (examples/vite-pwa/) exactly as the tests build it', () => {
  const readme = read('README.md');
  const start = readme.indexOf('### With vite-plugin-pwa');
  assert.ok(start >= 0, 'README.md has no "### With vite-plugin-pwa" section');
  const section = readme.slice(start);
  const dir = 'examples/vite-pwa';
  // The app's own files (its tsconfigs are the repo's type checks, not part of the example).
  const files = ['.env', 'index.html', 'vite.config.ts', 'src/env.d.ts', 'src/sw.ts', 'src/main.ts'];
  const onDisk = readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(join(root, dir).length + 1))
    .filter((f) => !/^tsconfig\b.*\.json$|^(dist|node_modules)\//.test(f));
  assert.deepEqual(onDisk.sort(), [...files].sort(), `${dir} holds files this test does not compare with README.md`);
  const missing = files.filter((f) => !section.includes(read(`${dir}/${f}`).trim()));
  assert.deepEqual(missing, [], `README.md's vite-plugin-pwa section does not show these files as written: ${missing.join(', ')}`);
});

/** Names re-exported by an entry file (`export { a, type B } from`, `export type { C } from`). */
function exportedNames(/** @type {string} */ source) {
  const names = [];
  for (const [, list] of source.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const item of list.split(',')) {
      const name = item
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) names.push(name);
    }
  }
  assert.ok(names.length > 0, 'no exports found: has the entry stopped re-exporting?');
  return names;
}
