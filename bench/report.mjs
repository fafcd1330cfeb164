// @ts-check
// Summaries (median, min, max over rounds; ratios computed within each round, then their
// median) and the markdown table printed and written by `npm run bench`.

/**
 * @param {number[]} xs
 * @returns {{median: number, min: number, max: number, n: number} | null} null when no value is finite
 */
export function summarize(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const at = (/** @type {number} */ i) => /** @type {number} */ (v[i]);
  const mid = Math.floor(v.length / 2);
  const median = v.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
  return { median, min: at(0), max: at(v.length - 1), n: v.length };
}

/**
 * The rows of the report, from the raw run.
 * @param {any} run
 */
export function buildSummary(run) {
  const rounds = /** @type {any[]} */ (run.rounds);
  const cfg = run.config;
  /** @param {(r: any) => any} pick */
  const values = (pick) =>
    rounds.map((r) => {
      try {
        const v = pick(r);
        return typeof v === 'number' ? v : Number.NaN;
      } catch {
        return Number.NaN;
      }
    });
  /** Why a scenario has no number, from the first round that says so. @param {string} key */
  const why = (key) => {
    for (const r of rounds) {
      const s = r[key];
      if (s?.unavailable) return `not available: ${s.unavailable}`;
      if (s?.error) return `failed: ${s.error}`;
      if (s?.skipped) return 'skipped';
    }
    return 'no data';
  };
  const batchingOn = 'optimizely';

  const on = batchingOn;
  /**
   * The measurement rows, in table order: [key of the round's result, label, events (config
   * key), unit, path of the figure in the result, digits].
   * @type {[string, string, string, string, string, number][]}
   */
  const rows = [
    ['main', 'main thread, burst in one task: dispatchEvent', 'mainBurst', 'µs/event', 'burst.dispatch.taskUs', 1],
    ['main', 'main thread, burst in one task: bare postMessage', 'mainBurst', 'µs/event', 'burst.post.taskUs', 1],
    ['main', 'main thread, one event per task: dispatchEvent', 'mainTask', 'µs/event', 'task.dispatch.taskUs', 1],
    ['main', 'main thread, one event per task: bare postMessage', 'mainTask', 'µs/event', 'task.post.taskUs', 1],
    ['enqueueOurs', 'durable enqueue: sw-outbox (acknowledged)', 'enqueueOurs', 'events/s', 'eventsPerSec', 0],
    ['enqueueWorkbox', 'durable enqueue: workbox Queue.pushRequest', 'enqueueWorkbox', 'events/s', 'eventsPerSec', 0],
    ['ceiling', 'IndexedDB ceiling: puts in one transaction', 'ceiling', 'events/s', 'eventsPerSec', 0],
    ['drainOff', 'drain: sw-outbox, batching off', 'drainOurs', 'events/s', 'eventsPerSec', 0],
    ['drainOff', 'drain: sw-outbox, batching off', 'drainOurs', 'requests/event', 'requestsPerEvent', 4],
    ['drainOn', `drain: sw-outbox, batching ${on}`, 'drainOurs', 'events/s', 'eventsPerSec', 0],
    ['besideOff', 'drain beside a destination down (hanging): sw-outbox, batching off', 'drainOurs', 'events/s', 'eventsPerSec', 0],
    ['besideOn', `drain beside a destination down (hanging): sw-outbox, batching ${on}`, 'drainOurs', 'events/s', 'eventsPerSec', 0],
    ['drainOn', `drain: sw-outbox, batching ${on}`, 'drainOurs', 'requests/event', 'requestsPerEvent', 4],
    ['drainWorkbox', 'drain: workbox Queue.replayRequests (sync)', 'drainWorkbox', 'events/s', 'eventsPerSec', 0],
    ['fetchCeiling', 'bare fetch from a page, 6 in flight, no store, one request per event', 'fetchCeiling', 'events/s', 'eventsPerSec', 0],
    ['relaunchOff', 'after a relaunch, no debugger: sw-outbox, batching off', 'drainOurs', 'events/s', 'eventsPerSec', 0],
    ['relaunchOn', `after a relaunch, no debugger: sw-outbox, batching ${on}`, 'drainOurs', 'events/s', 'eventsPerSec', 0],
    ['relaunchOn', `after a relaunch, no debugger: sw-outbox, batching ${on}`, 'drainOurs', 'requests/event', 'requestsPerEvent', 4],
    [
      'relaunchWorkbox',
      'after a relaunch, no debugger: workbox Queue.replayRequests (sync)',
      'drainWorkbox',
      'events/s',
      'eventsPerSec',
      0,
    ],
    ['relaunchFetch', 'after a relaunch, no debugger: bare fetch from a page, 6 in flight', 'fetchCeiling', 'events/s', 'eventsPerSec', 0],
    ['reconnect', `reconnect → backlog drained (batching ${on})`, 'reconnect', 'ms', 'ms', 0],
  ];
  const measurements = rows
    .filter(([key]) => run.selected.includes(key))
    .map(([key, label, events, unit, path, digits]) => ({
      label,
      events: /** @type {number} */ (cfg[events]),
      unit,
      key,
      s: summarize(values((r) => path.split('.').reduce((v, p) => v[p], r[key]))),
      digits,
    }));

  const heapRuns = /** @type {any[]} */ (run.heap ?? []);
  /** Each batching mode measured, with its successful runs. */
  const heapModes = [...new Set(heapRuns.map((h) => h.batching).filter(Boolean))].map((mode) => ({
    mode,
    ok: heapRuns.filter((h) => h.batching === mode && typeof h.peakGrowthMB === 'number'),
  }));
  if (run.selected.includes('heap')) {
    const heapWhy = heapRuns.find((h) => h.error || h.unavailable);
    const common = {
      events: cfg.heapEvents,
      unit: 'MB',
      key: 'heap',
      digits: 1,
      why: heapWhy ? `failed: ${heapWhy.error ?? heapWhy.unavailable}` : 'no data',
    };
    if (heapModes.length === 0) measurements.push({ ...common, label: 'worker heap growth draining: peak, V8 heap', s: null });
    for (const { mode, ok } of heapModes) {
      measurements.push(
        {
          ...common,
          label: `worker heap growth draining (batching ${mode}): peak, V8 heap`,
          s: summarize(ok.map((h) => h.peakGrowthMB)),
        },
        {
          ...common,
          label: `worker heap growth draining (batching ${mode}): peak, V8 + embedder`,
          s: summarize(ok.map((h) => h.peakGrowthWithEmbedderMB)),
        },
        {
          ...common,
          label: `worker heap growth draining (batching ${mode}): after drain and GC`,
          s: summarize(ok.map((h) => h.afterGcGrowthMB)),
        },
        {
          ...common,
          label: `drain while sampling the heap (batching ${mode})`,
          unit: 'events/s',
          digits: 0,
          s: summarize(ok.map((h) => h.drainEventsPerSec)),
        },
      );
    }
  }

  /** @param {(r: any) => number} a @param {(r: any) => number} b */
  const ratio = (a, b) => summarize(values((r) => a(r) / b(r)));
  /**
   * The drain's ratios as measured one way (the keys of its results in a round), with their
   * goals: the same rows, and the same goals, for the drains on reconnect and after a relaunch.
   * @param {string} prefix @param {string} fetchPrefix (of the bare fetch / workbox row)
   * @param {{off: string, on: string, workbox: string, fetch: string}} k
   */
  const drainRatios = (prefix, fetchPrefix, k) => {
    const rate = (/** @type {string} */ key) => (/** @type {any} */ r) => r[key].eventsPerSec;
    return [
      {
        label: `${prefix}batching off / workbox replay`,
        keys: [k.off, k.workbox],
        s: ratio(rate(k.off), rate(k.workbox)),
        fmt: 'x',
      },
      {
        // One request per event: the machine's limit is what a request costs (bare fetch, same concurrency).
        label: `${prefix}batching off / bare fetch from a page`,
        keys: [k.off, k.fetch],
        s: ratio(rate(k.off), rate(k.fetch)),
        fmt: '%',
        goal: { op: '≥', value: 0.95 },
      },
      {
        label: `${fetchPrefix}bare fetch from a page / workbox replay`,
        keys: [k.fetch, k.workbox],
        s: ratio(rate(k.fetch), rate(k.workbox)),
        fmt: 'x',
      },
      {
        label: `${prefix}batching ${batchingOn} / workbox replay`,
        keys: [k.on, k.workbox],
        s: ratio(rate(k.on), rate(k.workbox)),
        fmt: 'x',
        goal: { op: '≥', value: 50 },
      },
    ];
  };
  const ratios = [
    {
      label: 'main thread, burst: dispatchEvent / postMessage',
      keys: ['main'],
      s: ratio(
        (r) => r.main.burst.dispatch.taskUs,
        (r) => r.main.burst.post.taskUs,
      ),
      fmt: 'x',
      goal: { op: '≤', value: 1 },
    },
    {
      label: 'main thread, one per task: dispatchEvent / postMessage',
      keys: ['main'],
      s: ratio(
        (r) => r.main.task.dispatch.taskUs,
        (r) => r.main.task.post.taskUs,
      ),
      fmt: 'x',
      goal: { op: '≤', value: 1 },
    },
    {
      label: 'enqueue: sw-outbox / workbox pushRequest',
      keys: ['enqueueOurs', 'enqueueWorkbox'],
      s: ratio(
        (r) => r.enqueueOurs.eventsPerSec,
        (r) => r.enqueueWorkbox.eventsPerSec,
      ),
      fmt: 'x',
      goal: { op: '≥', value: 15 },
    },
    {
      label: 'enqueue: sw-outbox / IndexedDB one-transaction ceiling',
      keys: ['enqueueOurs', 'ceiling'],
      s: ratio(
        (r) => r.enqueueOurs.eventsPerSec,
        (r) => r.ceiling.eventsPerSec,
      ),
      fmt: '%',
      goal: { op: '≥', value: 0.6 },
    },
    ...drainRatios('drain: ', '', { off: 'drainOff', on: 'drainOn', workbox: 'drainWorkbox', fetch: 'fetchCeiling' }),
    .../** @type {[string, string, string][]} */ ([
      ['off', 'besideOff', 'drainOff'],
      [batchingOn, 'besideOn', 'drainOn'],
    ]).map(([mode, beside, alone]) => ({
      label: `drain, batching ${mode}: beside a destination down / alone`,
      keys: [beside, alone],
      s: ratio(
        (r) => r[beside].eventsPerSec,
        (r) => r[alone].eventsPerSec,
      ),
      fmt: '%',
      goal: { op: '≥', value: 0.9 },
    })),
    {
      label: `drain: batching ${batchingOn}, requests per event`,
      keys: ['drainOn'],
      s: summarize(values((r) => r.drainOn.requestsPerEvent)),
      fmt: 'n4',
      goal: { op: '≤', value: 0.02 },
    },
    ...drainRatios('after a relaunch, no debugger: ', 'after a relaunch, no debugger: ', {
      off: 'relaunchOff',
      on: 'relaunchOn',
      workbox: 'relaunchWorkbox',
      fetch: 'relaunchFetch',
    }),
    {
      label: `reconnect → ${cfg.reconnect} drained (batching ${batchingOn})`,
      keys: ['reconnect'],
      s: summarize(values((r) => r.reconnect.ms)),
      fmt: 'ms',
      goal: { op: '≤', value: 1000 },
    },
  ].filter((x) => x.keys.every((k) => run.selected.includes(k)));
  if (run.selected.includes('heap')) {
    for (const { mode, ok } of heapModes.length ? heapModes : [{ mode: cfg.heapBatching, ok: [] }]) {
      ratios.push({
        label: `worker heap growth draining ${cfg.heapEvents}, batching ${mode} (peak, V8 heap)`,
        keys: ['heap'],
        s: summarize(ok.map((/** @type {any} */ h) => h.peakGrowthMB)),
        fmt: 'MB',
        goal: { op: '<', value: 64 },
      });
      ratios.push({
        label: `worker heap growth draining ${cfg.heapEvents}, batching ${mode} (retained after the drain and a forced GC)`,
        keys: ['heap'],
        s: summarize(ok.map((/** @type {any} */ h) => h.afterGcGrowthMB)),
        fmt: 'MB',
        goal: { op: '<', value: 2 },
      });
    }
  }
  /**
   * A/B (`--ab`): each sw-outbox row with the build under test (A) and with B, their ratio
   * computed within each round (oriented so that above 100 % is A better), goal ≥ 95 %: no row
   * more than 5 % worse.
   */
  const abRows = [
    ['enqueueOurs', 'durable enqueue (events/s)', 'eventsPerSec'],
    ['drainOff', 'drain, batching off (events/s)', 'eventsPerSec'],
    ['drainOn', `drain, batching ${batchingOn} (events/s)`, 'eventsPerSec'],
    ['relaunchOff', 'after a relaunch, batching off (events/s)', 'eventsPerSec'],
    ['relaunchOn', `after a relaunch, batching ${batchingOn} (events/s)`, 'eventsPerSec'],
    ['reconnect', `reconnect → ${cfg.reconnect} drained (ms)`, 'ms'],
  ]
    .filter(([key]) => run.selected.includes(key) && rounds.some((r) => r[`${key}B`]))
    .map(([key, label, metric]) => {
      const higher = metric !== 'ms';
      const a = (/** @type {any} */ r) => r[/** @type {string} */ (key)][/** @type {string} */ (metric)];
      const b = (/** @type {any} */ r) => r[`${key}B`][/** @type {string} */ (metric)];
      return {
        label: /** @type {string} */ (label),
        key: /** @type {string} */ (key),
        a: summarize(values(a)),
        b: summarize(values(b)),
        s: higher ? ratio(a, b) : ratio(b, a),
        goal: { op: '≥', value: 0.95 },
      };
    });
  const heapB = /** @type {any[]} */ (run.heapB ?? []);
  for (const mode of heapB.length ? heapModes.map((h) => h.mode) : []) {
    const a = summarize(heapRuns.filter((h) => h.batching === mode).map((h) => h.peakGrowthMB));
    const b = summarize(heapB.filter((h) => h.batching === mode).map((h) => h.peakGrowthMB));
    abRows.push({
      label: `worker heap peak draining ${cfg.heapEvents}, batching ${mode} (MB; one run, for information)`,
      key: 'heap',
      a,
      b,
      s: a && b ? summarize([b.median / a.median]) : null,
      goal: /** @type {any} */ (undefined),
    });
  }
  return {
    ab: abRows.map((x) => ({ ...x, met: x.goal && x.s ? compare(x.s.median, x.goal.op, x.goal.value) : undefined })),
    measurements: measurements.map((/** @type {{why?: string} & typeof measurements[number]} */ m) => ({
      ...m,
      why: m.s ? undefined : (m.why ?? why(/** @type {string} */ (m.key))),
    })),
    ratios: ratios.map((x) => ({
      ...x,
      why: x.s ? undefined : (x.keys.map((k) => (k === 'heap' ? 'heap: no data' : why(k))).find((w) => w !== 'no data') ?? 'no data'),
      met: x.goal && x.s ? compare(x.s.median, x.goal.op, x.goal.value) : undefined,
    })),
  };
}

/** @param {number} v @param {string} op @param {number} goal */
function compare(v, op, goal) {
  if (op === '≥') return v >= goal;
  if (op === '≤') return v <= goal;
  if (op === '<') return v < goal;
  return v > goal;
}

/** @param {number} v @param {number} digits */
const num = (v, digits) =>
  digits === 0
    ? Math.round(v).toLocaleString('en-US')
    : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** @param {number} v @param {string} fmt */
function fmtRatio(v, fmt) {
  if (fmt === 'x') return `${num(v, 2)}×`;
  if (fmt === '%') return `${num(v * 100, 0)} %`;
  if (fmt === 'ms') return `${num(v, 0)} ms`;
  if (fmt === 'MB') return `${num(v, 1)} MB`;
  return num(v, 4);
}

/** @param {{op: string, value: number}} goal @param {string} fmt */
function fmtGoal(goal, fmt) {
  return `${goal.op} ${fmtRatio(goal.value, fmt)}`;
}

/** @param {string} s */
const cell = (s) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * @param {any} run the raw run
 * @param {ReturnType<typeof buildSummary>} summary
 */
export function renderMarkdown(run, summary) {
  const m = run.meta;
  const cfg = run.config;
  const lines = [];
  lines.push(`# sw-outbox bench — ${m.startedAt}`);
  lines.push('');
  lines.push(
    `${run.rounds.length} round(s)${run.quick ? ' (--quick)' : ''}; medians [min–max] over rounds; ratios computed within each round, then their median. ` +
      `Headless Chromium ${m.chromium} on an on-disk profile (a fresh one per measurement), Node ${m.node}, ${m.cpus}× ${m.cpuModel}. ` +
      `Library: ${m.git}${m.dirty ? ` + ${m.dirty} uncommitted file(s) under src/ worker/` : ''}, dist/sw.js sha256 ${m.swHash}. ` +
      `Load average at start ${m.loadStart.map((/** @type {number} */ x) => x.toFixed(2)).join(' ')}, at end ${(m.loadEnd ?? []).map((/** @type {number} */ x) => x.toFixed(2)).join(' ')}. ` +
      `Events: ~${m.eventBytes} B Optimizely-style JSON each. Took ${m.durationS?.toFixed(0)} s.`,
  );
  const busy = Math.max(m.loadStart?.[0] ?? 0, ...(run.rounds ?? []).map((/** @type {any} */ r) => r.load?.[0] ?? 0));
  if (busy > m.cpus / 2) {
    lines.push('');
    lines.push(
      `> Other work was running on this machine (1-minute load average up to ${busy.toFixed(1)} on ${m.cpus} CPUs, see \`load\` per round in the JSON): treat differences within the min–max spread as noise.`,
    );
  }
  if (run.sizes) {
    const s = run.sizes;
    lines.push('');
    lines.push('## Bundle sizes (Vite, minified, gzip -9; one measurement)');
    lines.push('');
    lines.push('| bundle | chunk | loaded | min B | gzip B |');
    lines.push('|---|---|---|---:|---:|');
    /** @param {string} label @param {any} b */
    const rows = (label, b) => {
      const eagerChunks = b.chunks.filter((/** @type {any} */ c) => c.kind !== 'lazy').length;
      if (eagerChunks > 1)
        lines.push(`| ${label} | (everything loaded at once) | at once | ${num(b.eager.min, 0)} | ${num(b.eager.gzip, 0)} |`);
      for (const c of b.chunks) {
        lines.push(`| ${label} | ${c.name} | ${c.kind === 'lazy' ? 'lazily' : 'at once'} | ${num(c.min, 0)} | ${num(c.gzip, 0)} |`);
      }
    };
    rows("page entry `import {createDispatcher} from 'sw-outbox'`", s.page);
    rows("worker entry `import {installOutbox} from 'sw-outbox/worker'`", s.worker);
    rows("reference: workbox-window's `Workbox` alone", s.workbox);
    lines.push(
      `| ready-made worker dist/sw.js (as shipped, for information) | sw.js | — | ${num(s.readyMadeWorker.min, 0)} | ${num(s.readyMadeWorker.gzip, 0)} |`,
    );
  } else if (run.sizesError) {
    lines.push('');
    lines.push(`Bundle sizes: failed: ${cell(run.sizesError)}`);
  }
  if (summary.measurements.length) {
    lines.push('');
    lines.push('## Measurements');
    lines.push('');
    lines.push('| measurement | events | unit | median | min | max | n |');
    lines.push('|---|---:|---|---:|---:|---:|---:|');
    for (const x of summary.measurements) {
      if (!x.s) lines.push(`| ${x.label} | ${num(x.events, 0)} | ${x.unit} | ${cell(x.why ?? '')} | | | 0 |`);
      else
        lines.push(
          `| ${x.label} | ${num(x.events, 0)} | ${x.unit} | ${num(x.s.median, x.digits)} | ${num(x.s.min, x.digits)} | ${num(x.s.max, x.digits)} | ${x.s.n} |`,
        );
    }
  }
  if (summary.ratios.length) {
    lines.push('');
    lines.push('## Ratios and goals');
    lines.push('');
    lines.push('| ratio / goal | median | min | max | goal | status |');
    lines.push('|---|---:|---:|---:|---|---|');
    for (const x of summary.ratios) {
      const goal = x.goal ? fmtGoal(x.goal, x.fmt) : '—';
      if (!x.s) lines.push(`| ${x.label} | ${cell(x.why ?? '')} | | | ${goal} | ${x.goal ? 'not measured' : ''} |`);
      else {
        const status = x.goal ? (x.met ? 'met' : '**not met**') : '';
        lines.push(
          `| ${x.label} | ${fmtRatio(x.s.median, x.fmt)} | ${fmtRatio(x.s.min, x.fmt)} | ${fmtRatio(x.s.max, x.fmt)} | ${goal} | ${status} |`,
        );
      }
    }
  }
  if (summary.ab?.length) {
    const b = m.ab ?? {};
    lines.push('');
    lines.push(`## A/B: this build (A) against ${cell(String(b.ref))} (B, ${b.commit}, sw.js sha256 ${b.swHash})`);
    lines.push('');
    lines.push(
      'Both sides in every round, adjacent (A first in odd rounds, B first in even ones); ratio within each round, above 100 % = A better.',
    );
    lines.push('');
    lines.push('| row | A median | B median | A vs B: median | min | max | goal | status |');
    lines.push('|---|---:|---:|---:|---:|---:|---|---|');
    for (const x of summary.ab) {
      const digits = x.key === 'heap' ? 1 : 0;
      const v = (/** @type {any} */ s) => (s ? num(s.median, digits) : 'no data');
      const goal = x.goal ? fmtGoal(x.goal, '%') : '—';
      const status = x.goal ? (x.s ? (x.met ? 'met' : '**not met**') : 'not measured') : '';
      lines.push(
        x.s
          ? `| ${x.label} | ${v(x.a)} | ${v(x.b)} | ${fmtRatio(x.s.median, '%')} | ${fmtRatio(x.s.min, '%')} | ${fmtRatio(x.s.max, '%')} | ${goal} | ${status} |`
          : `| ${x.label} | ${v(x.a)} | ${v(x.b)} | | | | ${goal} | ${status} |`,
      );
    }
  }
  lines.push('');
  lines.push('How each figure is taken:');
  lines.push('');
  lines.push(
    `- Main thread: CDP Performance.getMetrics TaskDuration delta on the page, from before the call until every promise resolved + ${cfg.settleMs} ms (deferred microtask, post and acknowledgement included), minus an idle run of the same harness; median of ${cfg.mainReps} repetitions per round. Delivery is held (collector never answers) so no delivery broadcasts fall in the window.`,
  );
  lines.push(
    '- Enqueue: offline (the backlog is held, as a beacon outbox is used). sw-outbox timed on the page from the first dispatchEvent (one task) to the last promise resolved; workbox timed inside its worker around Promise.all of pushRequest (Request construction included); the ceiling is timed around one readwrite transaction of puts into a bare object store, default durability, in a page.',
  );
  lines.push(
    '- Drain: the backlog is queued offline; time from context.setOffline(false) until the local collector (Node, 127.0.0.1, CORS, preflight cached 600 s) has every event, counted by uuid. Workbox replays on its `sync` event. Bare fetch: the same bodies POSTed from a page by `fetch` alone (same headers, 6 in flight, no IndexedDB, nothing else), timed until the collector has them all: what one request per event costs on this browser and machine, without any outbox.',
  );
  lines.push(
    `- After a relaunch, no debugger: the same backlogs queued offline under Playwright on an on-disk profile; the browser is closed and the profile opened again by the same Chromium with no driver and no debugger attached (as a user's browser runs: Playwright's instrumentation costs every request, and parallel requests more than one at a time). The collector holds the first requests unread until ${cfg.relaunchSettleMs} ms after the first arrived (the browser's start is not timed), then answers: time from then until it has every event. Bare fetch: the page posts the same bodies on load.`,
  );
  lines.push(
    '- Main-thread ScriptDuration deltas are in the JSON only: script run through CDP (the burst) is not counted there, so only TaskDuration compares both patterns.',
  );
  lines.push(
    `- Heap: CDP on the service-worker target; HeapProfiler.collectGarbage + Runtime.getHeapUsage before reconnecting, then usedSize every ${cfg.heapSampleMs} ms while draining (no forced GC); growth = peak − baseline. ${cfg.heapRounds} run(s).`,
  );
  if (run.errors.length) {
    lines.push('');
    lines.push('## Failed measurements');
    lines.push('');
    for (const e of run.errors) lines.push(`- ${cell(`${e.where}: ${e.message}`)}`);
  }
  lines.push('');
  return lines.join('\n');
}
