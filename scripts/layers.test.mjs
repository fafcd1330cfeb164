// The layers of DESIGN.md, checked on the import graph: every import of every shipped source
// file (static, `export … from` and dynamic) points to its own layer or one below it. A new
// arrow running back up (the store importing delivery, the page importing the engine) fails
// here, naming the file and the import.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The layers, lowest first. `shared` is src/*.ts (protocol, errors, validation, the
 * destination, the clock, body shapes, the public option types): pure, imported by all.
 * Each layer may import the layers listed after `may`.
 */
/** @type {Record<string, {may: string[]}>} */
const LAYERS = {
  shared: { may: [] },
  store: { may: ['shared'] },
  delivery: { may: ['shared', 'store'] },
  engine: { may: ['shared', 'store', 'delivery'] },
  worker: { may: ['shared', 'store', 'delivery', 'engine'] },
  page: { may: ['shared'] },
};
/** @typedef {keyof typeof LAYERS} Layer */

/** The layer of a repository path (posix), or undefined for what is not layered. @param {string} path */
function layerOf(path) {
  if (path === 'src/index.ts' || path.startsWith('src/page/')) return 'page';
  if (path.startsWith('src/store/')) return 'store';
  if (path.startsWith('src/delivery/')) return 'delivery';
  if (path.startsWith('src/engine/')) return 'engine';
  if (path.startsWith('worker/')) return 'worker';
  if (/^src\/[^/]+\.ts$/.test(path)) return 'shared';
  return undefined;
}

/** The relative module specifiers a source imports or re-exports, static or dynamic. @param {string} source */
function importsOf(source) {
  /** @type {string[]} */
  const found = [];
  const pattern =
    /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|^import\s*['"](\.[^'"]+)['"]/gm;
  for (const match of source.matchAll(pattern)) found.push(match[1] ?? match[2] ?? match[3] ?? '');
  return found;
}

/** Whether a source imports the `idb` package (static, `export … from`, dynamic, side effect; types too). @param {string} source */
function importsIdb(source) {
  return /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"]idb(?:\/[^'"]*)?['"]|import\(\s*['"]idb(?:\/[^'"]*)?['"]\s*\)|^import\s*['"]idb(?:\/[^'"]*)?['"]/m.test(
    source,
  );
}

/** Whether a source imports `idb` for more than types (`import type` and `export type` only: no). @param {string} source */
function importsIdbValues(source) {
  return /(?:^|[;\s])(?:import|export)\s(?!type\s)[^'"]*?from\s*['"]idb['"]|import\(\s*['"]idb['"]\s*\)|^import\s*['"]idb['"]/m.test(
    source,
  );
}

/** @param {string} dir @returns {string[]} */
function sourceFiles(dir) {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry.name) && !/\.(test|fixture)\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** Every arrow that runs against the layers: `file → import (layer → layer)`. @param {string[]} files */
function wrongWay(files) {
  /** @type {string[]} */
  const wrong = [];
  for (const file of files) {
    const from = layerOf(file);
    if (!from) continue;
    for (const specifier of importsOf(readFileSync(join(root, file), 'utf8'))) {
      const target = relative(root, resolve(root, dirname(file), specifier.replace(/\.js$/, '.ts')))
        .split('\\')
        .join('/');
      const to = layerOf(target);
      if (!to || to === from) continue;
      if (!LAYERS[from]?.may.includes(to)) wrong.push(`${file} → ${specifier} (${from} → ${to})`);
    }
  }
  return wrong;
}

describe('layers', () => {
  const files = [...sourceFiles('src'), ...sourceFiles('worker')];

  it('finds the sources and their imports', () => {
    assert.ok(files.includes('src/store/store.ts') && files.includes('src/page/dispatcher.ts'), files.join(' '));
    assert.deepEqual(
      files.filter((file) => layerOf(file) === undefined),
      [],
    );
    assert.deepEqual(importsOf("import { a } from './a.js';\nexport type { B } from '../b.js';\nawait import('./c.js');"), [
      './a.js',
      '../b.js',
      './c.js',
    ]);
  });

  it('every import runs down the layers (shared ← store ← delivery ← engine ← worker; page ← shared)', () => {
    assert.deepEqual(wrongWay(files), []);
  });

  it('only the store imports idb, and in it only database.ts for more than types (the one module that opens the database)', () => {
    const source = (/** @type {string} */ file) => readFileSync(join(root, file), 'utf8');
    assert.deepEqual(
      files.filter((file) => layerOf(file) !== 'store' && importsIdb(source(file))),
      [],
    );
    assert.deepEqual(
      files.filter((file) => importsIdbValues(source(file))),
      ['src/store/database.ts'],
    );
  });

  it('would see idb imported outside the store', () => {
    // The check itself can fail: each form of import is seen, and nothing else is.
    for (const line of [
      "import { openDB } from 'idb';",
      "import type { DBSchema } from 'idb';",
      "export { unwrap } from 'idb';",
      "const { openDB } = await import('idb');",
      "import 'idb';",
      "import { wrap } from 'idb/with-async-ittr';",
    ])
      assert.ok(importsIdb(line), line);
    for (const line of ["import { get } from 'idb-keyval';", "import { x } from './idb.js';", "// idb is the store's"])
      assert.ok(!importsIdb(line), line);
    assert.ok(importsIdbValues("import { type IDBPDatabase, openDB } from 'idb';"));
    assert.ok(!importsIdbValues("import type { DBSchema } from 'idb';"));
    assert.ok(['src/page/dispatcher.ts', 'src/delivery/flusher.ts', 'worker/outbox.ts'].every((file) => layerOf(file) !== 'store'));
  });

  it('would see an arrow running back up', () => {
    // The check itself can fail: the store importing delivery, the page the engine.
    assert.equal(layerOf('src/delivery/policy.ts'), 'delivery');
    /** @type {string[]} */
    const wrong = [];
    for (const [file, target] of [
      ['src/store/store.ts', 'src/delivery/policy.ts'],
      ['src/page/dispatcher.ts', 'src/engine/options.ts'],
    ]) {
      const from = layerOf(file) ?? '';
      const to = layerOf(target) ?? '';
      if (!LAYERS[from]?.may.includes(to)) wrong.push(`${from} → ${to}`);
    }
    assert.deepEqual(wrong, ['store → delivery', 'page → engine']);
  });
});
