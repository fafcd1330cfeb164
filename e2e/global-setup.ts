// Builds the package (dist/) and the harness page that imports it, once per run.
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export default async function globalSetup(): Promise<void> {
  if (!process.env.SW_OUTBOX_SKIP_BUILD) {
    execFileSync(process.execPath, [resolve(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  }
  await build({
    logLevel: 'warn',
    configFile: false,
    root: resolve(root, 'e2e/app'),
    resolve: { alias: { 'sw-outbox': resolve(root, 'dist/index.js') } },
    build: { outDir: resolve(root, 'e2e/.app'), emptyOutDir: true, sourcemap: true, minify: false },
  });
}
