// Panel 2: what the outbox is doing, from `dispatcher.stats()` and `dispatcher.on(...)`:
// the counters, the next retry's countdown, the live chart, the retry delays, the event log.
import type { Dispatcher, OutboxEventName, OutboxEvents, RetryDetail, Stats } from '../src/index';
import { type Sample, WINDOW_MS, drawChart } from './chart';
import { $, clock, count, el, seconds } from './dom';

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

// The panel's history (chart, retries, event log) is kept in sessionStorage, so a reload
// — say, offline, from the precache — keeps the picture.
const HISTORY_KEY = 'sw-outbox-demo:history';
const MAX_LOG = 20;
const MAX_RETRIES = 8;

const ui = {
  stats: () => document.querySelectorAll<HTMLElement>('[data-stat]'),
  chart: $('#chart') as unknown as SVGSVGElement,
  retries: $<HTMLOListElement>('#retries'),
  events: $<HTMLOListElement>('#events'),
  showStats: $<HTMLInputElement>('#show-stats'),
  destinations: $<HTMLTableSectionElement>('#destinations'),
};

interface LogRow {
  at: number;
  name: OutboxEventName;
  text: string;
}

interface History {
  samples: Sample[];
  lastDelivered: number | undefined;
  retries: RetryRow[];
  streak: number;
  log: LogRow[];
}

interface RetryRow {
  at: number;
  detail: RetryDetail;
  /**
   * When the next attempt is due: the event's own schedule, or the outbox's pause if the
   * worker reports a later one; once the next attempt has happened, when it did.
   */
  until: number;
  /** The next attempt has happened: `until` is what it really waited. */
  done?: boolean;
  /** Failed attempts in a row, this one included. */
  attempt: number;
}

export function startOutboxPanel(dispatcher: Dispatcher, backoff: Backoff) {
  let latest: Stats | undefined;
  let polling = false;

  const history = loadHistory();
  // The chart's samples, one a second.
  const samples = history.samples;
  let failedThisSecond = 0;
  // Failed attempts, newest first, numbered within a run of failures ("growing delays").
  const retries = history.retries;

  function renderStats(): void {
    const stats = latest;
    if (!stats) return;
    for (const dd of ui.stats()) {
      const name = dd.dataset.stat as keyof Stats | 'nextRetry';
      if (name === 'nextRetry') dd.textContent = countdown(stats);
      else dd.textContent = count(Number(stats[name] ?? 0));
      if (name === 'queued') dd.parentElement!.dataset.tone = stats.queued > 0 ? 'warn' : '';
      if (name === 'deadLettered' || name === 'dropped') dd.parentElement!.dataset.tone = stats[name] > 0 ? 'error' : '';
    }
    renderDestinations(stats);
  }

  // One row per destination (an origin): held ones say why and until when.
  function renderDestinations(stats: Stats): void {
    const rows = (stats.destinations ?? []).map((d) => {
      const tr = document.createElement('tr');
      tr.dataset.tone = d.heldFor ? 'warn' : '';
      const ms = d.nextAttemptAt === null ? null : d.nextAttemptAt - Date.now();
      const next =
        d.heldFor && ms !== null && ms > 0 ? `held (${d.heldFor}), in ${seconds(ms)}` : d.queued > 0 ? 'due now' : 'nothing waiting';
      const last = d.lastStatus === null ? '–' : d.lastStatus === 0 ? 'no response' : `HTTP ${d.lastStatus}`;
      for (const text of [d.destination, count(d.queued), next, last]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    });
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      tr.className = 'empty';
      tr.innerHTML = '<td colspan="4">No destination yet.</td>';
      rows.push(tr);
    }
    ui.destinations.replaceChildren(...rows);
  }

  function countdown(stats: Stats): string {
    const ms = stats.nextAttemptAt === null ? null : stats.nextAttemptAt - Date.now();
    if (stats.queued > 0 && !navigator.onLine) return 'waiting for the network';
    if (ms !== null && ms > 0) return `in ${seconds(ms)}`;
    if (stats.inFlight > 0) return 'sending now';
    if (ms !== null || stats.queued > 0) return 'due now';
    return 'nothing waiting';
  }

  function onStats(stats: Stats): void {
    latest = stats;
    history.lastDelivered ??= stats.delivered;
    // The pause after a failed attempt is known once the worker reports its next deadline.
    const row = retries[0];
    if (row && !row.done && stats.nextAttemptAt !== null && Date.now() - row.at < 1500)
      row.until = Math.max(row.until, stats.nextAttemptAt);
    renderStats();
    renderRetries();
  }

  async function poll(): Promise<void> {
    if (polling) return;
    polling = true;
    try {
      onStats(await dispatcher.stats());
    } catch {
      // The worker is restarting or not registered yet: the next poll tries again.
    } finally {
      polling = false;
    }
  }

  function sample(): void {
    const now = Date.now();
    if (latest) {
      const last = history.lastDelivered;
      const delivered = last === undefined ? 0 : Math.max(0, latest.delivered - last);
      history.lastDelivered = latest.delivered;
      samples.push({ t: now, queued: latest.queued, delivered, failed: failedThisSecond });
      failedThisSecond = 0;
    }
    while (samples.length > 0 && samples[0]!.t < now - WINDOW_MS - 2000) samples.shift();
    drawChart(ui.chart, samples, now);
    saveHistory(history);
  }

  function renderRetries(): void {
    if (retries.length === 0) return;
    const longest = Math.max(backoff.maxMs, ...retries.map((r) => r.until - r.at));
    const items = retries.map((r) => {
      const wait = Math.max(0, r.until - r.at);
      const waits = r.done ? 'waited' : 'waits';
      const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** (r.attempt - 1));
      const cause = r.detail.status
        ? `HTTP ${r.detail.status}`
        : r.detail.reason === 'timeout'
          ? 'timeout'
          : r.detail.reason === 'offline'
            ? 'offline'
            : 'no connection';
      const pct = (ms: number) => `${Math.min(100, (ms / longest) * 100).toFixed(1)}%`;
      const track = el('span', { className: 'track', title: `backoff ceiling for attempt ${r.attempt}: ${seconds(ceiling)}` });
      track.style.width = pct(ceiling);
      const bar = el('span', { className: 'fill' });
      bar.style.width = pct(wait);
      return el(
        'li',
        {},
        el('span', { className: 'n', text: `#${r.attempt}` }),
        el('span', { className: 'why', text: `${clock(r.at).slice(0, 8)} · ${cause}` }),
        el('span', { className: 'bar', title: `${waits} ${seconds(wait)}` }, track, bar),
        el('span', { className: 'wait', text: `${waits} ${seconds(wait)}` }),
      );
    });
    ui.retries.replaceChildren(...items);
  }

  function renderLog(): void {
    if (history.log.length === 0) return;
    ui.events.replaceChildren(
      ...history.log.map((row) =>
        el(
          'li',
          {},
          el('time', { text: clock(row.at) }),
          el('span', { className: `tag tag-${row.name}`, text: row.name }),
          el('span', { text: row.text }),
        ),
      ),
    );
  }

  function logEvent<K extends OutboxEventName>(name: K, detail: OutboxEvents[K]): void {
    if (name === 'stats' && !ui.showStats.checked) return;
    history.log.unshift({ at: Date.now(), name, text: describe(name, detail) });
    history.log.length = Math.min(history.log.length, MAX_LOG);
    renderLog();
  }

  dispatcher.on('stats', (stats) => {
    onStats(stats);
    logEvent('stats', stats);
  });
  // The previous failure's wait is over when the next attempt's outcome arrives.
  const attempted = () => {
    const row = retries[0];
    if (row && !row.done) {
      row.until = Math.min(row.until, Date.now());
      row.done = true;
    }
  };

  dispatcher.on('retry', (detail) => {
    attempted();
    failedThisSecond += detail.ids.length;
    if (detail.reason !== 'offline') history.streak++;
    retries.unshift({ at: Date.now(), detail, until: detail.nextAttemptAt, attempt: Math.max(history.streak, 1) });
    retries.length = Math.min(retries.length, MAX_RETRIES);
    renderRetries();
    logEvent('retry', detail);
    void poll();
  });
  dispatcher.on('delivered', (detail) => {
    attempted();
    renderRetries();
    history.streak = 0;
    logEvent('delivered', detail);
  });
  dispatcher.on('dead-letter', (detail) => logEvent('dead-letter', detail));
  dispatcher.on('dropped', (detail) => logEvent('dropped', detail));
  dispatcher.on('requeued', (detail) => logEvent('requeued', detail));
  dispatcher.on('discarded', (detail) => logEvent('discarded', detail));

  setInterval(() => void poll(), 1000);
  setInterval(renderStats, 200); // the countdown ticks between polls
  setInterval(sample, 1000);
  void poll();
  drawChart(ui.chart, samples, Date.now());
  renderRetries();
  renderLog();
  addEventListener('pagehide', () => saveHistory(history));

  return {
    poll,
    /** Connectivity came back or a flush was asked for: the outbox starts a new series. */
    resetStreak() {
      history.streak = 0;
    },
  };
}

function describe<K extends OutboxEventName>(name: K, detail: OutboxEvents[K]): string {
  const n = (ids: string[]) => `${ids.length} event${ids.length === 1 ? '' : 's'}`;
  switch (name) {
    case 'delivered': {
      const d = detail as OutboxEvents['delivered'];
      return `${n(d.ids)} delivered (HTTP ${d.status})`;
    }
    case 'retry': {
      const d = detail as OutboxEvents['retry'];
      return `${n(d.ids)}: ${d.status ? `HTTP ${d.status}` : 'no response'} (${d.reason}); retry in ${seconds(d.nextAttemptAt - Date.now())}`;
    }
    case 'dead-letter': {
      const d = detail as OutboxEvents['dead-letter'];
      return `${n(d.ids)} dead-lettered (${d.reason}${d.status ? `, HTTP ${d.status}` : ''})`;
    }
    case 'dropped': {
      const d = detail as OutboxEvents['dropped'];
      return `${n(d.ids)} dropped (${d.reason})`;
    }
    case 'requeued':
      return `${n((detail as OutboxEvents['requeued']).ids)} sent again (back in the queue)`;
    case 'discarded':
      return `${n((detail as OutboxEvents['discarded']).ids)} discarded`;
    default: {
      const s = detail as Stats;
      return `queued ${s.queued}, in flight ${s.inFlight}, delivered ${s.delivered}`;
    }
  }
}

function loadHistory(): History {
  const empty: History = { samples: [], lastDelivered: undefined, retries: [], streak: 0, log: [] };
  try {
    const saved = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? 'null') as Partial<History> | null;
    if (!saved || !Array.isArray(saved.samples) || !Array.isArray(saved.retries) || !Array.isArray(saved.log)) return empty;
    return { ...empty, ...saved };
  } catch {
    return empty; // not there, or not ours
  }
}

function saveHistory(history: History): void {
  try {
    sessionStorage.setItem(HISTORY_KEY, JSON.stringify(history));
  } catch {
    // Storage full or disabled: the panel just starts empty after a reload.
  }
}
