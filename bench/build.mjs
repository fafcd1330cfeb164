// @ts-check
// Builds what the benchmark serves, into bench-results/.build/site (git-ignored):
//   /index.html, /assets/*   the sw-outbox bench page (bench/pages), importing dist/index.js
//   /wb/index.html           the workbox-background-sync peer's page
//   /wb/sw.js                the peer's service worker (bench/workbox-sw.ts), one classic script
//   /sw.js                   a copy of dist/sw.js taken now, so a rebuild of dist/ during
//                            the run cannot change the worker under measurement
//   /sw-b.js                 with --ab: the ready-made worker of another commit (buildVariant)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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

/**
 * The B side of an A/B run: `ref` is a built worker file (copied as it is) or a git revision,
 * checked out in a temporary worktree (sharing this checkout's node_modules) and built with
 * its own `scripts/build.mjs`; its dist/sw.js is served as /sw-b.js.
 * @param {string} ref @param {(message: string) => void} log
 * @returns {{ref: string, commit: string}}
 */
export function buildVariant(ref, log) {
  const target = resolve(site, 'sw-b.js');
  if (existsSync(ref)) {
    copyFileSync(ref, target);
    return { ref, commit: 'file' };
  }
  const git = (/** @type {string[]} */ args, cwd = root) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
  const commit = git(['rev-parse', '--short', `${ref}^{commit}`]);
  const dir = join(mkdtempSync(join(tmpdir(), 'sw-outbox-bench-b-')), 'tree');
  log(`A/B: building ${ref} (${commit}) in ${dir}`);
  git(['worktree', 'add', '--detach', dir, commit]);
  try {
    symlinkSync(resolve(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    execFileSync(process.execPath, [join(dir, 'scripts/build.mjs')], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    copyFileSync(join(dir, 'dist/sw.js'), target);
  } finally {
    git(['worktree', 'remove', '--force', dir]);
    rmSync(dirname(dir), { recursive: true, force: true });
  }
  return { ref, commit };
}
