// Builds the package (dist/) and the harness page that imports it, once per run.
import { execFileSync } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { buildOptimizelyHarness, OPTIMIZELY_HARNESS_DIR } from './optimizely/build';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export default async function globalSetup(): Promise<void> {
  if (!process.env.SW_OUTBOX_SKIP_BUILD) {
    execFileSync(process.execPath, [resolve(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  }
  // Built beside and swapped in, so a run in progress never sees it half-built.
  const out = resolve(root, `e2e/.app-tmp-${process.pid}`);
  await build({
    logLevel: 'warn',
    configFile: false,
    root: resolve(root, 'e2e/app'),
    resolve: { alias: { 'sw-outbox': resolve(root, 'dist/index.js') } },
    build: { outDir: out, emptyOutDir: true, sourcemap: true, minify: false },
  });
  rmSync(resolve(root, 'e2e/.app'), { recursive: true, force: true });
  renameSync(out, resolve(root, 'e2e/.app'));

  // The Optimizely SDK harness (e2e/optimizely/), the same way.
  const harnessOut = `${OPTIMIZELY_HARNESS_DIR}-tmp-${process.pid}`;
  await buildOptimizelyHarness(harnessOut);
  rmSync(OPTIMIZELY_HARNESS_DIR, { recursive: true, force: true });
  renameSync(harnessOut, OPTIMIZELY_HARNESS_DIR);
}
