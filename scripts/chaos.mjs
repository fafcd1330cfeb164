#!/usr/bin/env node
// The long chaos run: `npm run chaos -- --seed N` (without --seed, a fresh seed, printed).
// Runs e2e/chaos.spec.ts in Playwright with CHAOS_LONG=1 and CHAOS_SEED=N, then prints
// the figures, one per line. Exits non-zero when anything was lost (the test fails then).
//   --short   the short form (the one in `npm test`) with this seed
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let seed;
let short = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--seed') seed = args[++i];
  else if (a.startsWith('--seed=')) seed = a.slice('--seed='.length);
  else if (a === '--short') short = true;
  else if (a === '--help' || a === '-h') {
    console.log('usage: npm run chaos -- [--seed N] [--short]');
    process.exit(0);
  } else {
    console.error(`chaos: unknown argument ${a}; usage: npm run chaos -- [--seed N] [--short]`);
    process.exit(2);
  }
}
if (seed === undefined) {
  seed = String(randomInt(1, 2 ** 31));
  console.log(`chaos: no --seed given; fresh seed ${seed} (reproduce with: npm run chaos -- --seed ${seed})`);
}
if (!/^\d+$/.test(seed) || Number(seed) >= 2 ** 32) {
  console.error(`chaos: --seed must be an integer in [0, 2^32), got ${seed}`);
  process.exit(2);
}

// A private output folder: a concurrent `playwright test` empties the shared test-results/.
const dir = mkdtempSync(join(tmpdir(), `sw-outbox-chaos-${seed}-`));
const reportPath = process.env.CHAOS_REPORT ?? join(dir, 'report.json');
const started = Date.now();
const result = spawnSync(
  process.execPath,
  [
    resolve(root, 'node_modules/@playwright/test/cli.js'),
    'test',
    'e2e/chaos.spec.ts',
    '--reporter=list',
    '--workers=1',
    `--output=${join(dir, 'test-results')}`,
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      CHAOS_SEED: seed,
      CHAOS_LONG: short ? '0' : '1',
      CHAOS_REPORT: reportPath,
      // The browser's own stderr (crash reports) goes to a file kept when the run fails.
      DEBUG: process.env.DEBUG ?? 'pw:browser',
      DEBUG_FILE: process.env.DEBUG_FILE ?? join(dir, 'browser.log'),
    },
  },
);
const wall = Date.now() - started;

let code = result.status ?? 1;
if (existsSync(reportPath)) {
  const r = JSON.parse(readFileSync(reportPath, 'utf8'));
  console.log('');
  // The figure lines as the run formatted them (e2e/chaos/run.ts figureLines).
  for (const line of r.figures) console.log(line);
  console.log(`(schedule digest ${r.digest}; duplicate bound ${r.duplicateBound}; wall ${(wall / 1000).toFixed(1)} s)`);
  if (r.lost !== 0 || r.crashes.length) code = code || 1;
} else {
  console.error(`chaos: no report was written (seed ${seed}); see the Playwright output above`);
  code = code || 1;
}
if (code === 0) rmSync(dir, { recursive: true, force: true });
else console.error(`chaos: FAILED (seed ${seed}); report and traces kept in ${dir}`);
process.exit(code);
