// The seeded chaos run: three tabs dispatch events while the worker is killed at random
// moments, the network goes offline and back, and the collector answers with a seeded
// mix of faults. Then all faults off: every accepted event must reach the collector.
//
// Short form (in `npm test`): fixed seed, ~10 kills. Long form: `npm run chaos -- --seed N`
// (scripts/chaos.mjs sets CHAOS_LONG=1 and CHAOS_SEED). The same seed gives the same
// schedule: compare the printed schedule digest.
import { writeFileSync } from 'node:fs';
import { type ChaosReport, detailLines, figureLines, runChaos } from './chaos/run';
import { type Form, makePlan } from './chaos/schedule';
import { expect, test, workerKiller } from './fixtures';

const long = process.env.CHAOS_LONG === '1';
const form: Form = long ? 'long' : 'short';
const seed = process.env.CHAOS_SEED !== undefined ? Number(process.env.CHAOS_SEED) : 20_250_611;
if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffff_ffff)
  throw new Error(`CHAOS_SEED must be an integer in [0, 2^32), got ${process.env.CHAOS_SEED}`);

// Small backoff and a short request timeout so faults cost seconds, not minutes.
const SW = { baseMs: 100, maxMs: 2000, timeoutMs: 1500 };

test(`chaos (${form}, seed ${seed}): three tabs, worker kills, offline spans, a faulty collector → nothing lost`, async ({
  page,
  context,
  app,
  collector,
}, testInfo) => {
  test.setTimeout(long ? 20 * 60_000 : 4 * 60_000);
  const plan = makePlan(seed, form);
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    console.log(line);
  };
  say(
    `chaos ${form}: seed ${seed}; schedule digest ${plan.digest}; mix digest ${plan.mixDigest}; ${plan.steps.length} steps, ${plan.kills} kills, ${plan.events} events, ${plan.offlineSpans} offline spans, ${plan.waitMs} ms of waits`,
  );

  const pages = [page, await context.newPage(), await context.newPage()];
  for (const p of pages) await app.open(p, SW);
  // One CDP session for the whole run.
  const kill = await workerKiller(page);

  const report: ChaosReport = await runChaos({
    plan,
    context,
    pages,
    collector,
    kill,
    drainTimeoutMs: long ? 180_000 : 90_000,
    requestTimeoutMs: SW.timeoutMs,
    log: say,
  });
  for (const line of [...figureLines(report), ...detailLines(report)]) say(line);
  await testInfo.attach('chaos-report.json', { body: JSON.stringify(report, null, 2), contentType: 'application/json' });
  if (process.env.CHAOS_REPORT)
    writeFileSync(process.env.CHAOS_REPORT, JSON.stringify({ ...report, figures: figureLines(report) }, null, 2));

  expect(report.crashes, `browser crash or lost tab (reproduce with: npm run chaos -- --seed ${seed})`).toEqual([]);
  expect(report.lost, `lost events: ${report.lostIds.slice(0, 10).join(' ')} (reproduce with: npm run chaos -- --seed ${seed})`).toBe(0);
  expect(report.accepted).toBeGreaterThan(0);
  expect(report.kills).toBeGreaterThanOrEqual(long ? 50 : 10);
  // Every duplicate has a cause: its earlier 2xx was cut off (hang, reset, timeout), or a
  // kill or an offline switch came while that request was open or before its outcome was
  // committed (< 1 s after its answer).
  expect(report.unexplainedDuplicates, 'duplicates with no kill, offline switch or cut answer to explain them').toEqual([]);
  expect(
    report.duplicates,
    'duplicates beyond what was open, or answered and not yet committed, at kills and offline switches',
  ).toBeLessThanOrEqual(report.duplicateBound);
  // Nothing stays queued, nothing was dead-lettered: the mix has no permanent status.
  expect(report.finalStats).toMatchObject({ queued: 0, deadLettered: 0 });
});
