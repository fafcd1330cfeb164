// Builds the Optimizely harness page (./index.html, ./main.ts, the snippets) into `outDir`,
// importing the built package (dist/) like an installed dependency. The snippets import
// `@optimizely/optimizely-sdk` exactly as the README shows them; for snippets/v4.ts and
// snippets/v5.ts that name means the npm aliases optimizely-sdk-v4 and optimizely-sdk-v5.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

/** Where global-setup puts the built harness (git-ignored, like every .tmp/ file). */
export const OPTIMIZELY_HARNESS_DIR = resolve(root, '.tmp/e2e-optimizely');

function sdkPerSnippet(): Plugin {
  return {
    name: 'optimizely-sdk-per-snippet',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (source !== '@optimizely/optimizely-sdk' || !importer) return null;
      const version = /[\\/]snippets[\\/](v4|v5)\.ts$/.exec(importer)?.[1];
      if (!version) return null;
      return this.resolve(`optimizely-sdk-${version}`, importer, { ...options, skipSelf: true });
    },
  };
}

export async function buildOptimizelyHarness(outDir: string): Promise<void> {
  await build({
    logLevel: 'warn',
    configFile: false,
    root: here,
    plugins: [sdkPerSnippet()],
    resolve: { alias: { 'sw-outbox': resolve(root, 'dist/index.js') } },
    build: { outDir, emptyOutDir: true, sourcemap: true, minify: false, chunkSizeWarningLimit: 2000 },
  });
}
