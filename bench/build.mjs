// @ts-check
// Builds what the benchmark serves, into bench-results/.build/site (git-ignored):
//   /index.html, /assets/*   the sw-outbox bench page (bench/pages), importing dist/index.js
//   /wb/index.html           the workbox-background-sync peer's page
//   /wb/sw.js                the peer's service worker (bench/workbox-sw.ts), one classic script
//   /sw.js                   a copy of dist/sw.js taken now, so a rebuild of dist/ during
//                            the run cannot change the worker under measurement
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const site = resolve(root, 'bench-results/.build/site');

export async function buildBench() {
  for (const file of ['dist/index.js', 'dist/sw.js']) {
    if (!existsSync(resolve(root, file))) throw new Error(`${file} is missing: run \`npm run build\` (or drop --no-build)`);
  }
  rmSync(site, { recursive: true, force: true });
  mkdirSync(site, { recursive: true });
  await build({
    logLevel: 'warn',
    configFile: false,
    root: resolve(root, 'bench/pages'),
    resolve: { alias: { 'sw-outbox': resolve(root, 'dist/index.js') } },
    build: {
      outDir: site,
      emptyOutDir: false,
      minify: true,
      target: 'es2022',
      modulePreload: false,
      rollupOptions: { input: { main: resolve(root, 'bench/pages/index.html'), wb: resolve(root, 'bench/pages/wb/index.html') } },
    },
  });
  await build({
    logLevel: 'warn',
    configFile: false,
    root,
    define: { 'process.env.NODE_ENV': '"production"' },
    build: {
      outDir: resolve(site, 'wb'),
      emptyOutDir: false,
      minify: true,
      target: 'es2022',
      lib: { entry: resolve(root, 'bench/workbox-sw.ts'), formats: ['iife'], name: 'wbBenchWorker', fileName: () => 'sw.js' },
    },
  });
  copyFileSync(resolve(root, 'dist/sw.js'), resolve(site, 'sw.js'));
  return site;
}
