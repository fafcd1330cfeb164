// npm run build: the library (dist/index.js, dist/worker.js), the ready-made service
// worker (dist/sw.js), and type declarations (dist/types). With --demo, also the demo.
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = { logLevel: 'warn' };

// Build beside dist/ and swap it in at the end, so a server or test reading dist/
// never sees it half-built.
const out = `.dist-tmp-${process.pid}`;
rmSync(resolve(root, out), { recursive: true, force: true });

// 1. The library, as a user's bundler will consume it.
await build({ ...quiet, root, configFile: resolve(root, 'vite.config.ts'), build: { outDir: out } });

// The page entry loads the fallback with `new URL('./fallback.js', import.meta.url)`:
// a user's bundler copies that file only if it sees the pattern, so the comment that
// kept our own build from resolving it is blanked out (same length: source maps hold).
const entry = resolve(root, out, 'index.js');
const code = readFileSync(entry, 'utf8');
const blanked = code.replace(/\/\* @vite-ignore \*\/(?=\s*"\.\/fallback\.js")/, (comment) => ' '.repeat(comment.length));
if (blanked === code) throw new Error('build: the fallback URL in dist/index.js was not found');
writeFileSync(entry, blanked);

/**
 * One classic worker script (module workers are not everywhere yet), dependencies
 * inlined, minified, with its source map.
 * @param {string} entry
 * @param {string} name
 * @param {string} file
 */
const buildClassicWorker = (entry, name, file) =>
  build({
    ...quiet,
    root,
    configFile: false,
    build: {
      outDir: out,
      emptyOutDir: false,
      sourcemap: true,
      target: 'es2020',
      minify: true,
      lib: { entry: resolve(root, entry), formats: ['iife'], name, fileName: () => file },
    },
  });

// 2. The ready-made service worker.
await buildClassicWorker('worker/sw.ts', 'swOutbox', 'sw.js');

// 3. The no-service-worker fallback: a dedicated worker script, self-contained, that
//    dist/index.js loads with `new Worker(new URL('./fallback.js', import.meta.url))`.
await buildClassicWorker('worker/fallback.ts', 'swOutboxFallback', 'fallback.js');

// 4. Declarations, from both programs (page/DOM and worker/WebWorker).
const tsc = resolve(root, 'node_modules/typescript/bin/tsc');
const emit = [
  '--noEmit',
  'false',
  '--emitDeclarationOnly',
  '--declaration',
  '--declarationMap',
  'false',
  '--sourceMap',
  'false',
  '--outDir',
  `${out}/types`,
  '--rootDir',
  '.',
];
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', ...emit], { cwd: root, stdio: 'inherit' });
execFileSync(process.execPath, [tsc, '-p', 'worker/tsconfig.build.json', ...emit], { cwd: root, stdio: 'inherit' });

rmSync(resolve(root, 'dist'), { recursive: true, force: true });
renameSync(resolve(root, out), resolve(root, 'dist'));

if (process.argv.includes('--demo')) {
  const { buildDemo } = await import('../demo/build.mjs');
  await buildDemo();
}
console.log('built dist/index.js, dist/worker.js, dist/sw.js, dist/fallback.js, dist/types');
