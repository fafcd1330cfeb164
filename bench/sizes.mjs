// @ts-check
// Bundle sizes as a user's bundler includes them (the approach of bundle() in
// scripts/package.test.mjs): a one-line app is bundled with Vite (production, minified,
// es2022), and each output chunk is gzipped at level 9. The entry's eager part is its
// entry chunk plus every chunk it imports statically; every chunk it can load lazily
// (a dynamic import, and what that chunk imports in turn) is reported on its own.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

const gzip = (/** @type {string} */ code) => gzipSync(code, { level: 9 }).length;

/**
 * @typedef {{name: string, file: string, kind: 'entry' | 'static' | 'lazy', min: number, gzip: number}} ChunkSize
 * @typedef {{name: string, source: string, eager: {min: number, gzip: number}, chunks: ChunkSize[]}} BundleSize
 */

/** @param {string} root repository root */
export async function measureSizes(root) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  // `sw-outbox` and `sw-outbox/worker` resolved through the exports map, as a bundler does.
  const alias = Object.entries(pkg.exports)
    .filter(([, target]) => typeof target === 'object')
    .map(([subpath, target]) => ({
      find: new RegExp(`^${`sw-outbox${subpath.slice(1)}`.replace(/[/.]/g, '\\$&')}$`),
      replacement: join(root, target.import),
    }));
  // Inside the repository, so bare imports (workbox-window) resolve from its node_modules.
  mkdirSync(join(root, 'bench-results/.build'), { recursive: true });
  const scratch = mkdtempSync(join(root, 'bench-results/.build/sizes-'));
  try {
    /** @param {string} name @param {string} source @returns {Promise<BundleSize>} */
    const bundle = async (name, source) => {
      const entry = join(scratch, `${name}.js`);
      writeFileSync(entry, source);
      const result = await build({
        logLevel: 'silent',
        configFile: false,
        root: scratch,
        resolve: { alias },
        build: { write: false, minify: true, target: 'es2022', modulePreload: false, rollupOptions: { input: entry } },
      });
      const outputs = Array.isArray(result) ? result : [result];
      const chunks = outputs.flatMap((o) => ('output' in o ? o.output : [])).filter((o) => o.type === 'chunk');
      const byFile = new Map(chunks.map((c) => [c.fileName, c]));
      const entryChunk = chunks.find((c) => c.isEntry);
      if (!entryChunk) throw new Error(`sizes: no entry chunk for ${name}`);
      /** @type {Set<string>} */
      const eager = new Set();
      const visit = (/** @type {string} */ file) => {
        if (eager.has(file)) return;
        eager.add(file);
        for (const next of byFile.get(file)?.imports ?? []) visit(next);
      };
      visit(entryChunk.fileName);
      /** @type {ChunkSize[]} */
      const sizes = chunks.map((c) => ({
        name: c.name,
        file: c.fileName,
        kind: c === entryChunk ? 'entry' : eager.has(c.fileName) ? 'static' : 'lazy',
        min: Buffer.byteLength(c.code),
        gzip: gzip(c.code),
      }));
      const eagerCode = chunks
        .filter((c) => eager.has(c.fileName))
        .map((c) => c.code)
        .join('\n');
      return { name, source, eager: { min: Buffer.byteLength(eagerCode), gzip: gzip(eagerCode) }, chunks: sizes };
    };
    const page = await bundle('page', "import { createDispatcher } from 'sw-outbox';\nglobalThis.createDispatcher = createDispatcher;\n");
    const worker = await bundle('worker', "import { installOutbox } from 'sw-outbox/worker';\nglobalThis.installOutbox = installOutbox;\n");
    const workbox = await bundle('workbox-window', "import { Workbox } from 'workbox-window';\nglobalThis.Workbox = Workbox;\n");
    const sw = readFileSync(join(root, 'dist/sw.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
    return {
      page,
      worker,
      workbox,
      readyMadeWorker: { min: Buffer.byteLength(sw), gzip: gzip(sw) },
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
