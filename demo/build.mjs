// @ts-check
// Builds the demo PWA into demo/dist. Called by `node scripts/build.mjs --demo` after the
// library build; runs on its own too (`node demo/build.mjs`) when dist/ is already built.
//
// 1. The page (index.html → assets/*), with public/ (manifest, SVG icon) copied as is.
// 2. The PNG icons, drawn by icons.mjs.
// 3. The service worker (worker/sw.ts): bundled into one classic script, then
//    workbox-build's injectManifest writes the precache manifest of everything above
//    into it, as demo/dist/sw.js; last, its version id (sw-version.mjs), a hash of the
//    script: the same build gives the same bytes, a changed one a new version.
//
// Page and worker use the *built* package (dist/index.js, dist/worker.js), the way an
// app would. demo/main.ts imports '../src/index' and demo/worker/sw.ts imports
// 'sw-outbox/worker' (mapped to the source by demo/worker/tsconfig.json), so both
// type-check without a build; the plugin below swaps in the built files at bundle time.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'vite';
import { injectManifest } from 'workbox-build';
import { icons } from './icons.mjs';
import { VERSION_PLACEHOLDER, versionOf, withVersion } from './sw-version.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const defaultOutDir = resolve(here, 'dist');
const built = { page: resolve(root, 'dist/index.js'), worker: resolve(root, 'dist/worker.js') };
const srcIndex = resolve(root, 'src/index.ts');

/** @returns {import('vite').Plugin} */
function useBuiltPackage() {
  return {
    name: 'sw-outbox-demo:use-built-package',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (source === 'sw-outbox') return built.page;
      if (source === 'sw-outbox/worker') return built.worker;
      if (!importer || !source.includes('src/index')) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved && resolve(resolved.id) === srcIndex ? built.page : null;
    },
  };
}

/** The page: index.html and what it imports, plus public/. @param {string} outDir */
async function buildPage(outDir) {
  await build({
    logLevel: 'warn',
    configFile: false,
    root: here,
    plugins: [useBuiltPackage()],
    build: {
      outDir,
      emptyOutDir: true,
      sourcemap: true,
      target: 'es2022',
      // The Optimizely SDK is most of the bundle; it is one file on purpose (precached).
      chunkSizeWarningLimit: 1024,
    },
  });
  for (const [name, png] of Object.entries(icons())) writeFileSync(join(outDir, name), png);
}

/** The service worker: one classic script (module workers are not everywhere yet). @param {string} outDir */
async function buildWorker(outDir) {
  const temp = mkdtempSync(join(tmpdir(), 'sw-outbox-demo-sw-'));
  try {
    await build({
      logLevel: 'warn',
      configFile: false,
      root: here,
      plugins: [useBuiltPackage()],
      // Workbox's modules keep their dev-only logging behind this check.
      define: { 'process.env.NODE_ENV': JSON.stringify('production'), __DEMO_SW_VERSION__: JSON.stringify(VERSION_PLACEHOLDER) },
      build: {
        outDir: temp,
        emptyOutDir: false,
        sourcemap: true,
        target: 'es2020',
        minify: true,
        lib: { entry: resolve(here, 'worker/sw.ts'), formats: ['iife'], name: 'swOutboxDemo', fileName: () => 'sw.js' },
      },
    });
    const { count, size, warnings } = await injectManifest({
      swSrc: join(temp, 'sw.js'),
      swDest: join(outDir, 'sw.js'),
      globDirectory: outDir,
      globPatterns: ['**/*.{html,js,css,webmanifest,svg,png}'],
      globIgnores: ['**/*.map'],
      // Vite puts a content hash in every file name under assets/: no revision needed.
      dontCacheBustURLsMatching: /^assets\//,
    });
    for (const warning of warnings) console.warn(`demo: workbox-build: ${warning}`);
    const sw = join(outDir, 'sw.js');
    const script = readFileSync(sw, 'utf8');
    writeFileSync(sw, withVersion(script, versionOf(script)));
    return { count, size };
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

/**
 * @param {{outDir?: string}} [options] where to build (default demo/dist; the end-to-end
 *   test builds a copy per test worker, so that one's build never empties another's files)
 */
export async function buildDemo({ outDir = defaultOutDir } = {}) {
  for (const file of Object.values(built)) {
    if (!existsSync(file)) throw new Error(`demo: ${file} is missing; run node scripts/build.mjs first`);
  }
  await buildPage(outDir);
  const { count, size } = await buildWorker(outDir);
  console.log(`built ${outDir} (service worker precaches ${count} files, ${(size / 1024).toFixed(0)} KiB)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await buildDemo();
}
