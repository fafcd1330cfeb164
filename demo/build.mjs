// @ts-check
// Builds the demo page into demo/dist. Called by `node scripts/build.mjs --demo` after the
// library build; runs on its own too (`node demo/build.mjs`) when dist/ is already built.
//
// The page uses the *built* package (dist/index.js), the way an app would. demo/main.ts
// imports '../src/index' so that `tsc -p tsconfig.json` type-checks it without a build;
// the plugin below swaps that module for dist/index.js at bundle time.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const distIndex = resolve(root, 'dist/index.js');
const srcIndex = resolve(root, 'src/index.ts');

/** @returns {import('vite').Plugin} */
function useBuiltPackage() {
  return {
    name: 'sw-outbox-demo:use-built-package',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (source === 'sw-outbox') return distIndex;
      if (!importer || !source.includes('src/index')) return null;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved && resolve(resolved.id) === srcIndex ? distIndex : null;
    },
  };
}

export async function buildDemo() {
  if (!existsSync(distIndex)) throw new Error(`demo: ${distIndex} is missing; run node scripts/build.mjs first`);
  await build({
    logLevel: 'warn',
    configFile: false,
    root: here,
    resolve: { alias: { 'sw-outbox': distIndex } },
    plugins: [useBuiltPackage()],
    build: {
      outDir: resolve(here, 'dist'),
      emptyOutDir: true,
      sourcemap: true,
      target: 'es2022',
    },
  });
  console.log('built demo/dist');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await buildDemo();
}
