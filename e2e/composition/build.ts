// Builds the composition app into `outDir`, as a Workbox app's own build would:
//   1. the page, with Vite;
//   2. the service worker, with Vite, to one classic script (iife);
//   3. workbox-build injectManifest, which writes the precache manifest into that script.
// `sw-outbox` resolves to the built package (dist/), like an installed dependency.
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { injectManifest } from 'workbox-build';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

const alias = [
  { find: /^sw-outbox$/, replacement: resolve(root, 'dist/index.js') },
  { find: /^sw-outbox\/worker$/, replacement: resolve(root, 'dist/worker.js') },
];

export interface BuiltApp {
  /** The folder to serve. */
  dir: string;
  /** Entries in the precache manifest. */
  precached: number;
}

export async function buildCompositionApp(outDir: string, collectorOrigin: string): Promise<BuiltApp> {
  const dir = join(outDir, 'app');
  const swSrc = join(outDir, 'sw-src', 'sw.js');
  await build({
    logLevel: 'warn',
    configFile: false,
    root: here,
    resolve: { alias },
    build: { outDir: dir, emptyOutDir: true, minify: true },
  });
  await build({
    logLevel: 'warn',
    configFile: false,
    root: here,
    publicDir: false,
    resolve: { alias },
    define: {
      __COLLECTOR_ORIGIN__: JSON.stringify(collectorOrigin),
      // Workbox's dev-only logging is behind process.env.NODE_ENV; library mode leaves it alone.
      'process.env.NODE_ENV': JSON.stringify('production'),
    },
    build: {
      outDir: dirname(swSrc),
      emptyOutDir: true,
      minify: true,
      target: 'es2020',
      lib: { entry: join(here, 'sw.ts'), formats: ['iife'], name: 'appServiceWorker', fileName: () => 'sw.js' },
    },
  });
  const { count, warnings } = await injectManifest({
    swSrc,
    swDest: join(dir, 'sw.js'),
    globDirectory: dir,
    globPatterns: ['**/*.{html,js,css}'],
    globIgnores: ['sw.js', 'runtime/**'],
  });
  if (warnings.length) throw new Error(`injectManifest: ${warnings.join('; ')}`);
  rmSync(dirname(swSrc), { recursive: true, force: true });
  return { dir, precached: count };
}
