// Runs one chaos plan against a browser context and the fault-injecting collector, and
// accounts for every event by its uuid from the collector's own log.
import type { BrowserContext, Page } from '@playwright/test';
import type { Collector, LoggedRequest } from '../collector.mjs';
import { makeParams, uuidOf } from '../fixtures';
import type { Plan } from './schedule';

export interface ChaosInput {
  plan: Plan;
  context: BrowserContext;
  /** One page per tab, each already on the harness with an activated worker. */
  pages: Page[];
  collector: Collector;
  /** Stops every service worker (one CDP session for the whole run). */
  kill: () => Promise<void>;
  drainTimeoutMs: number;
  /** The worker's per-request timeout (its `timeoutMs`). */
  requestTimeoutMs: number;
  log?: (line: string) => void;
}

interface Fault {
  kind: 'kill' | 'offline';
  step: number;
  /** When the command was sent, and when it returned. */
  start: number;
  end: number;
  /** POSTs the collector had received and not yet answered when the command was sent. */
  pending: number;
}

export interface ChaosReport {
  seed: number;
  form: string;
  digest: string;
  mixDigest: string;
  steps: number;
  dispatched: number;
  accepted: number;
  refused: number;
  refusedCodes: Record<string, number>;
  delivered: number;
  deliveredAccepted: number;
  lost: number;
  lostIds: string[];
  duplicates: number;
  kills: number;
  offlineSpans: number;
  drainMs: number;
  chaosMs: number;
  requests: number;
  byFault: Record<string, number>;
  /** Σ over kills of the POSTs in flight then: received by the collector, not yet answered. */
  inFlightAtKills: number;
  /** The same over the moments the network went offline (which aborts requests in flight). */
  inFlightAtOffline: number;
  /** Σ over kills and offline switches of the 2xx answers finished in the second before (maybe not yet committed by the worker). */
  answeredJustBefore: number;
  /** Answers the worker could not read: hang, reset mid-response, slow past its timeout. */
  ambiguousAnswers: number;
  duplicateBound: number;
  /** Duplicates whose earlier 2xx has no kill, offline switch or ambiguous answer near it. */
  unexplainedDuplicates: { uuid: string; deliveries: { at: number; answeredAt?: number; fault?: string; aborted?: boolean }[] }[];
  finalStats: unknown;
  crashes: string[];
  /** Browser commands that did not return (the run went on without them). */
  stalls: string[];
  /** setOffline() calls that waited on a stopped worker until a page message started it. */
  nudges: number;
  /** navigator.onLine in each service worker Playwright knows, at the end. */
  workersOnline: string[];
  /** What happened when (ms since the chaos started): the schedule's faults and the collector's answers. */
  timeline: string[];
}

/** How long a browser command may take before the run calls it stalled and goes on. */
const STALL_MS = 10_000;
/** A slow answer finished this close to the request timeout may have lost the race with the abort. */
const TIMEOUT_MARGIN_MS = 300;
/** 2xx answers finished within this long before a kill may not have been committed by the worker. */
const COMMIT_WINDOW_MS = 1000;

export async function runChaos(input: ChaosInput): Promise<ChaosReport> {
  const { plan, context, pages, collector, kill } = input;
  const say = input.log ?? ((line: string) => console.log(line));
  const crashes: string[] = [];
  let ending = false;
  let step = 0;
  const watch = (what: string) => () => {
    if (!ending) crashes.push(`${what} at step ${step} (seed ${plan.seed})`);
  };
  const browser = context.browser();
  const onDisconnect = watch('browser disconnected');
  browser?.on('disconnected', onDisconnect);
  pages.forEach((page, i) => {
    page.on('crash', watch(`tab ${i} crashed`));
    page.on('close', watch(`tab ${i} closed`));
  });

  // context.setOffline() sends Network.emulateNetworkConditions to every target, the
  // service worker's too; a *stopped* worker's target holds the command until the worker
  // starts again, and nothing may start it (no backlog, no dispatch): Playwright waits
  // forever. So after a second a page posts the worker a foreign message (the outbox
  // ignores it; any message starts a worker), and after STALL_MS the run notes a stall
  // and goes on.
  const stalls: string[] = [];
  let nudges = 0;
  const nudge = () =>
    pages[0]!
      .evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r?.active?.postMessage({ type: 'chaos/nudge' })))
      .catch(() => {});
  // Resolves to the command's error, if it failed.
  const guarded = async (what: string, action: Promise<unknown>, wake = false): Promise<Error | undefined> => {
    let failure: Error | undefined;
    const done = action.then(
      () => 'done' as const,
      (error: Error) => {
        failure = error;
        return 'done' as const;
      },
    );
    const started = Date.now();
    let nudged = false;
    for (;;) {
      const outcome = await Promise.race([
        done,
        sleep(wake && !nudged ? 1000 : STALL_MS - (Date.now() - started)).then(() => 'waiting' as const),
      ]);
      if (outcome === 'done') return failure;
      if (wake && !nudged) {
        nudged = true;
        nudges++;
        await nudge();
        continue;
      }
      stalls.push(`${what} at step ${step} (t=${Date.now() - chaosStart} ms) did not return within ${STALL_MS} ms`);
      say(`STALL: ${stalls[stalls.length - 1]}`);
      return undefined;
    }
  };

  type Outcome = { uuid: string; ok: boolean; code?: string };
  const dispatches: Promise<Outcome[]>[] = [];
  const faults: Fault[] = [];
  let offline = false;

  await collector.setMode({ kind: 'mix', seed: plan.seed });
  const chaosStart = Date.now();
  const marks: { t: number; line: string }[] = [];
  for (; step < plan.steps.length; step++) {
    if (crashes.length) break;
    const s = plan.steps[step]!;
    if (s.op !== 'wait' && s.op !== 'kill' && s.op !== 'offline')
      marks.push({ t: Date.now(), line: `${s.op}${s.op === 'dispatch' ? ` ${s.count} on tab ${s.tab}` : ''} (step ${step})` });
    switch (s.op) {
      case 'dispatch': {
        const prefix = `s${plan.seed}-k${step}-t${s.tab}`;
        const events = Array.from({ length: s.count }, (_, i) => ({
          uuid: `${prefix}-${i}`,
          params: makeParams(`${prefix}-${i}`, `user-${i % 7}`),
        }));
        const page = pages[s.tab]!;
        dispatches.push(
          page
            .evaluate(
              async ({ url, events }) =>
                Promise.all(
                  events.map(async ({ uuid, params }) => {
                    try {
                      const response = await window.dispatcher!.dispatchEvent({ url, httpVerb: 'POST', params });
                      return { uuid, ok: response.statusCode === 202, code: String(response.statusCode) };
                    } catch (error) {
                      return { uuid, ok: false, code: String((error as { code?: string }).code ?? error) };
                    }
                  }),
                ),
              { url: collector.url, events },
            )
            .catch((error: Error) =>
              events.map(({ uuid }) => ({ uuid, ok: false, code: `evaluate failed: ${error.message.split('\n')[0]}` })),
            ),
        );
        break;
      }
      case 'kill': {
        const start = Date.now();
        const pending = collector.pending();
        const error = await guarded('ServiceWorker.stopAllWorkers', kill());
        if (error) crashes.push(`kill failed at step ${step}: ${error.message.split('\n')[0]}`);
        faults.push({ kind: 'kill', step, start, end: Date.now(), pending });
        break;
      }
      case 'offline':
      case 'online': {
        const start = Date.now();
        const pending = collector.pending();
        const error = await guarded(`context.setOffline(${s.op === 'offline'})`, context.setOffline(s.op === 'offline'), true);
        if (error) crashes.push(`setOffline failed at step ${step}: ${error.message.split('\n')[0]}`);
        offline = s.op === 'offline';
        if (s.op === 'offline') faults.push({ kind: 'offline', step, start, end: Date.now(), pending });
        break;
      }
      case 'wait':
        await sleep(s.ms);
        break;
    }
  }
  const chaosMs = Date.now() - chaosStart;

  // --- all faults off ---------------------------------------------------------------
  const faultsOff = Date.now();
  await collector.setMode({ kind: 'up' });
  if (offline) {
    const error = await guarded('context.setOffline(false)', context.setOffline(false), true);
    if (error) crashes.push(`setOffline(false) failed at the end: ${error.message.split('\n')[0]}`);
  }
  say(`chaos: ${plan.steps.length} steps in ${chaosMs} ms; faults off, draining`);

  const outcomes = (await Promise.all(dispatches)).flat();
  const accepted = new Set(outcomes.filter((o) => o.ok).map((o) => o.uuid));
  const refused = outcomes.filter((o) => !o.ok);
  const refusedCodes: Record<string, number> = {};
  for (const o of refused) refusedCodes[o.code ?? '?'] = (refusedCodes[o.code ?? '?'] ?? 0) + 1;

  const deliveredIds = () => {
    const ids = new Set<string>();
    for (const r of collector.log) if (is2xx(r)) ids.add(uuidOf(r.body));
    return ids;
  };
  let drainMs = -1;
  const drainDeadline = faultsOff + input.drainTimeoutMs;
  while (!crashes.length) {
    const got = deliveredIds();
    if ([...accepted].every((id) => got.has(id))) {
      drainMs = Date.now() - faultsOff;
      break;
    }
    if (Date.now() > drainDeadline) break;
    await sleep(200);
  }
  // Then until the worker has nothing queued (late duplicates, refused-but-committed events).
  let finalStats: unknown;
  const statsDeadline = Date.now() + Math.min(30_000, input.drainTimeoutMs);
  while (!crashes.length && Date.now() < statsDeadline) {
    try {
      finalStats = await pages[0]!.evaluate(() => window.dispatcher!.stats());
      if ((finalStats as { queued: number }).queued === 0) break;
    } catch (error) {
      finalStats = { error: (error as Error).message.split('\n')[0] };
    }
    await sleep(300);
  }
  await sleep(300);
  const workersOnline: string[] = [];
  for (const worker of context.serviceWorkers()) {
    const online = await Promise.race([
      worker.evaluate(() => String(navigator.onLine)).catch((error: Error) => `error: ${error.message.split('\n')[0]}`),
      sleep(3000).then(() => 'no answer'),
    ]);
    workersOnline.push(online);
  }
  ending = true;
  browser?.off('disconnected', onDisconnect);

  // --- accounting -------------------------------------------------------------------
  const log = collector.log.slice();
  const byUuid = new Map<string, LoggedRequest[]>();
  const byFault: Record<string, number> = {};
  for (const r of log) {
    const fault = r.fault ?? (typeof r.status === 'number' ? String(r.status) : r.status);
    byFault[fault] = (byFault[fault] ?? 0) + 1;
    if (!is2xx(r)) continue;
    const id = uuidOf(r.body);
    byUuid.set(id, [...(byUuid.get(id) ?? []), r]);
  }
  const lostIds = [...accepted].filter((id) => !byUuid.has(id)).sort();
  let duplicates = 0;
  for (const list of byUuid.values()) duplicates += list.length - 1;

  const answeredBefore = (f: Fault) =>
    log.filter((r) => is2xx(r) && r.answeredAt !== undefined && r.answeredAt >= f.start - COMMIT_WINDOW_MS && r.answeredAt <= f.end + 200)
      .length;
  const kills = faults.filter((f) => f.kind === 'kill');
  const offlines = faults.filter((f) => f.kind === 'offline');
  const inFlightAtKills = kills.reduce((sum, f) => sum + f.pending, 0);
  const inFlightAtOffline = offlines.reduce((sum, f) => sum + f.pending, 0);
  const answeredJustBefore = faults.reduce((sum, f) => sum + answeredBefore(f), 0);
  // Answers the worker could not read: hang (its timeout aborts), a reset mid-response, or
  // a slow answer it stopped waiting for. (Requests cut by a kill or by going offline are
  // the in-flight counts above.)
  // A slow answer finished close to the worker's timeout may have lost the race with its
  // abort (the timeout runs from the fetch, before the collector has the whole body).
  const ambiguous = (r: LoggedRequest) =>
    r.fault === 'hang' ||
    r.fault === 'reset' ||
    r.fault === 'resetHeaders' ||
    (r.fault === 'slow' && (r.aborted || r.answeredAt === undefined || r.answeredAt - r.at >= input.requestTimeoutMs - TIMEOUT_MARGIN_MS));
  const ambiguousAnswers = log.filter(ambiguous).length;

  // Each duplicate, explained: the earlier 2xx was aborted/cut, or a kill or an offline
  // switch came while it was open or within the commit window after its answer.
  const unexplainedDuplicates: ChaosReport['unexplainedDuplicates'] = [];
  for (const [uuid, list] of byUuid) {
    if (list.length < 2) continue;
    const sorted = list.slice().sort((a, b) => a.at - b.at);
    const explained = sorted.slice(0, -1).every((r) => {
      if (r.aborted || ambiguous(r)) return true;
      const answered = r.answeredAt ?? r.at;
      return faults.some((f) => f.end >= r.at - 100 && f.start <= answered + COMMIT_WINDOW_MS);
    });
    if (!explained)
      unexplainedDuplicates.push({
        uuid,
        deliveries: sorted.map((r) => ({ at: r.at, answeredAt: r.answeredAt, fault: r.fault, aborted: r.aborted })),
      });
  }

  const got = new Set(byUuid.keys());
  const timeline = [
    ...marks,
    { t: faultsOff, line: 'faults off' },
    ...faults.map((f) => ({ t: f.start, line: `${f.kind} (step ${f.step}, ${f.pending} open)` })),
    ...log.map((r) => ({
      t: r.at,
      line: `${r.status}${r.fault ? ` ${r.fault}` : ''}${r.aborted ? ' aborted' : ''} ${r.body ? uuidOf(r.body) : ''}`,
    })),
  ]
    .sort((a, b) => a.t - b.t)
    .map((e) => `${e.t - chaosStart} ${e.line}`);
  return {
    seed: plan.seed,
    form: plan.form,
    digest: plan.digest,
    mixDigest: plan.mixDigest,
    steps: plan.steps.length,
    dispatched: outcomes.length,
    accepted: accepted.size,
    refused: refused.length,
    refusedCodes,
    delivered: got.size,
    deliveredAccepted: [...accepted].filter((id) => got.has(id)).length,
    lost: lostIds.length,
    lostIds,
    duplicates,
    kills: kills.length,
    offlineSpans: offlines.length,
    drainMs,
    chaosMs,
    requests: log.length,
    byFault,
    inFlightAtKills,
    inFlightAtOffline,
    answeredJustBefore,
    ambiguousAnswers,
    // An answer the worker had read but not yet committed when it was killed is sent again too.
    duplicateBound: inFlightAtKills + inFlightAtOffline + ambiguousAnswers + answeredJustBefore,
    unexplainedDuplicates,
    finalStats,
    crashes,
    stalls,
    nudges,
    workersOnline,
    timeline,
  };
}

/** The figures, one line each (the first eight are the contract of `npm run chaos`). */
export function figureLines(r: ChaosReport): string[] {
  return [
    `seed: ${r.seed}`,
    `accepted: ${r.accepted}`,
    `delivered: ${r.delivered}`,
    `lost: ${r.lost}`,
    `duplicates: ${r.duplicates}`,
    `kills: ${r.kills}`,
    `drain ms: ${r.drainMs}`,
    `refused: ${r.refused}`,
  ];
}

export function detailLines(r: ChaosReport): string[] {
  return [
    `form: ${r.form}; schedule digest: ${r.digest}; mix digest: ${r.mixDigest}; steps: ${r.steps}; chaos ms: ${r.chaosMs}`,
    `dispatched: ${r.dispatched}; delivered of accepted: ${r.deliveredAccepted}; offline spans: ${r.offlineSpans}; requests: ${r.requests}`,
    `answers: ${Object.entries(r.byFault)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `duplicate bound: ${r.duplicateBound} (in flight at kills ${r.inFlightAtKills} + at offline switches ${r.inFlightAtOffline} + hang/reset/timed-out answers ${r.ambiguousAnswers} + 2xx answered < 1 s before a kill or offline switch ${r.answeredJustBefore})`,
    `unexplained duplicates: ${r.unexplainedDuplicates.length} (a duplicate is explained when its earlier 2xx was cut off, or a kill or offline switch came while it was open or < 1 s after its answer)`,
    ...(r.refused ? [`refused codes: ${JSON.stringify(r.refusedCodes)}`] : []),
    ...(r.lost ? [`lost ids: ${r.lostIds.slice(0, 20).join(' ')}${r.lost > 20 ? ' …' : ''}`] : []),
    ...(r.unexplainedDuplicates.length ? [`unexplained: ${JSON.stringify(r.unexplainedDuplicates.slice(0, 5))}`] : []),
    `final stats: ${JSON.stringify(r.finalStats)}; service workers online: ${r.workersOnline.join(', ') || 'none listed'}; setOffline waits on a stopped worker (nudged): ${r.nudges}`,
    ...r.stalls.map((c) => `STALL: ${c}`),
    ...r.crashes.map((c) => `CRASH: ${c}`),
  ];
}

function is2xx(r: LoggedRequest): boolean {
  return typeof r.status === 'number' && r.status >= 200 && r.status < 300;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
