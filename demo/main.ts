// The demo page. In an app this import is `from 'sw-outbox'`; here it names the source
// so that `tsc -p tsconfig.json` checks it without a build, and demo/build.mjs bundles
// the built package (dist/index.js) in its place.
import { createDispatcher, type Dispatcher, type OutboxEventName, type OutboxEvents, type Stats } from '../src/index';

interface Config {
  collectorUrl: string;
  collectorOrigin: string;
}

type Mode =
  | { kind: 'up' }
  | { kind: 'down' }
  | { kind: 'slow'; ms: number }
  | { kind: 'status'; status: number; retryAfter?: string };

interface CollectorLog {
  mode: Mode;
  requests: number;
  accepted: number;
  distinctUuids: number;
  duplicates: number;
  last: { at: number; status: number | 'hang' | 'reset'; uuid: string | null }[];
}

const MODES: Record<string, Mode> = {
  up: { kind: 'up' },
  down: { kind: 'down' },
  '503': { kind: 'status', status: 503 },
  '429': { kind: 'status', status: 429, retryAfter: '5' },
  slow: { kind: 'slow', ms: 1000 },
};

// --- small DOM helpers ----------------------------------------------------------------
function $<T extends HTMLElement = HTMLElement>(selector: string): T {
  const el = document.querySelector<T>(selector);
  if (!el) throw new Error(`demo: ${selector} is missing from index.html`);
  return el;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: { className?: string; text?: string } = {}, ...children: Node[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  node.append(...children);
  return node;
}

const clock = (at: number): string => {
  const d = new Date(at);
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};

const errorText = (error: unknown): string =>
  error instanceof Error ? `${(error as { code?: string }).code ? `${(error as { code?: string }).code}: ` : ''}${error.message}` : String(error);

function setStatus(target: HTMLElement, text: string, tone: 'ok' | 'error' | 'info' = 'info'): void {
  target.textContent = text;
  target.dataset.tone = tone;
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, { cache: 'no-store', ...init });
  if (!response.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: HTTP ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

// --- elements -------------------------------------------------------------------------
const ui = {
  track: $<HTMLButtonElement>('#track'),
  burst: $<HTMLButtonElement>('#burst'),
  flush: $<HTMLButtonElement>('#flush'),
  status: $('#status'),
  net: $('#net'),
  swState: $('#sw-state'),
  events: $<HTMLOListElement>('#events'),
  showStats: $<HTMLInputElement>('#show-stats'),
  modes: $<HTMLFieldSetElement>('#modes'),
  modeStatus: $('#mode-status'),
  collectorUrl: $('#collector-url'),
  collectorLog: $<HTMLTableSectionElement>('#collector-log'),
  collectorCaption: $('#collector-caption'),
};

// --- the events we track --------------------------------------------------------------
const EVENT_KEYS = ['add_to_cart', 'purchase', 'signup', 'page_view'] as const;
let sequence = 0;

/** An event as the Optimizely SDK hands it to its eventDispatcher. */
function optimizelyEvent(collectorUrl: string) {
  const key = EVENT_KEYS[sequence++ % EVENT_KEYS.length] ?? 'page_view';
  return {
    url: collectorUrl,
    httpVerb: 'POST' as const,
    params: {
      account_id: '12345',
      project_id: '67890',
      revision: '42',
      client_name: 'sw-outbox-demo',
      client_version: '0.1.0',
      anonymize_ip: true,
      enrich_decisions: true,
      visitors: [
        {
          visitor_id: 'demo-visitor',
          attributes: [],
          snapshots: [{ decisions: [], events: [{ entity_id: key, key, uuid: crypto.randomUUID(), timestamp: Date.now() }] }],
        },
      ],
    },
  };
}

// --- outbox stats panel ---------------------------------------------------------------
let latest: Stats | undefined;

function renderStats(): void {
  const stats = latest;
  for (const dd of document.querySelectorAll<HTMLElement>('[data-stat]')) {
    const name = dd.dataset.stat as keyof Stats | 'nextRetry';
    if (!stats) continue;
    if (name === 'nextRetry') {
      dd.textContent = countdown(stats);
    } else {
      const value = stats[name];
      dd.textContent = typeof value === 'number' ? value.toLocaleString('en') : '–';
    }
  }
}

function countdown(stats: Stats): string {
  const ms = stats.nextAttemptAt === null ? null : stats.nextAttemptAt - Date.now();
  if (ms !== null && ms > 0) return `in ${(ms / 1000).toFixed(1)} s`;
  if (stats.inFlight > 0) return 'sending now';
  if (ms !== null || stats.queued > 0) return 'due now';
  return 'none scheduled';
}

// --- event log ------------------------------------------------------------------------
const MAX_LOG = 20;

function describeEvent<K extends OutboxEventName>(name: K, detail: OutboxEvents[K]): string {
  const n = (ids: string[]) => `${ids.length} event${ids.length === 1 ? '' : 's'}`;
  switch (name) {
    case 'delivered': {
      const d = detail as OutboxEvents['delivered'];
      return `${n(d.ids)} delivered (HTTP ${d.status})`;
    }
    case 'retry': {
      const d = detail as OutboxEvents['retry'];
      const wait = Math.max(0, d.nextAttemptAt - Date.now());
      return `${n(d.ids)}: ${d.status ? `HTTP ${d.status}` : 'no response'} (${d.reason}); retry in ${(wait / 1000).toFixed(1)} s`;
    }
    case 'dead-letter': {
      const d = detail as OutboxEvents['dead-letter'];
      return `${n(d.ids)} dead-lettered (${d.reason}${d.status ? `, HTTP ${d.status}` : ''})`;
    }
    case 'dropped': {
      const d = detail as OutboxEvents['dropped'];
      return `${n(d.ids)} dropped (${d.reason})`;
    }
    default: {
      const s = detail as Stats;
      return `queued ${s.queued}, in flight ${s.inFlight}, delivered ${s.delivered}`;
    }
  }
}

function logEvent<K extends OutboxEventName>(name: K, detail: OutboxEvents[K]): void {
  if (name === 'stats' && !ui.showStats.checked) return;
  ui.events.querySelector('.empty')?.remove();
  const item = el(
    'li',
    {},
    el('time', { text: clock(Date.now()) }),
    el('span', { className: `tag tag-${name}`, text: name }),
    el('span', { text: describeEvent(name, detail) }),
  );
  ui.events.prepend(item);
  while (ui.events.children.length > MAX_LOG) ui.events.lastElementChild?.remove();
}

// --- collector ------------------------------------------------------------------------
function modeKey(mode: Mode): string | undefined {
  return Object.keys(MODES).find((key) => JSON.stringify(MODES[key]) === JSON.stringify(mode));
}

function renderCollector(log: CollectorLog): void {
  for (const dd of document.querySelectorAll<HTMLElement>('[data-collector]')) {
    const value = log[dd.dataset.collector as 'requests' | 'accepted' | 'distinctUuids' | 'duplicates'];
    dd.textContent = value.toLocaleString('en');
  }
  const rows = log.last.map((entry) => {
    const ok = typeof entry.status === 'number' && entry.status >= 200 && entry.status < 300;
    return el(
      'tr',
      {},
      el('td', { className: 'mono', text: clock(entry.at) }),
      el('td', {}, el('span', { className: `tag ${ok ? 'tag-delivered' : 'tag-retry'}`, text: String(entry.status) })),
      el('td', { className: 'mono uuid', text: entry.uuid ?? '(no uuid)' }),
    );
  });
  if (rows.length === 0) rows.push(el('tr', {}, Object.assign(el('td', { className: 'empty', text: 'No requests yet.' }), { colSpan: 3 })));
  ui.collectorLog.replaceChildren(...rows);
}

const CAPTION = 'Last 20 requests received, newest first';
let modeBusy = false;
async function pollCollector(): Promise<void> {
  try {
    const log = await getJson<CollectorLog>('/api/collector/log');
    renderCollector(log);
    // Keep the radios in step with the server (another tab may have switched it).
    const key = modeKey(log.mode);
    if (key && !modeBusy) {
      const radio = ui.modes.querySelector<HTMLInputElement>(`input[value="${key}"]`);
      if (radio && !radio.checked && !ui.modes.contains(document.activeElement)) radio.checked = true;
    }
    ui.collectorCaption.textContent = CAPTION;
  } catch {
    // Offline, or the demo server was stopped: say so, keep the last table.
    ui.collectorCaption.textContent = `${CAPTION} (not updating: cannot reach the demo server)`;
  }
}

async function setMode(key: string): Promise<void> {
  const mode = MODES[key];
  if (!mode) return;
  modeBusy = true;
  setStatus(ui.modeStatus, `Switching the collector to “${key}”…`);
  try {
    await getJson('/api/collector/mode', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(mode),
    });
    setStatus(ui.modeStatus, `Collector is now “${key}”.`, 'ok');
  } catch (error) {
    setStatus(ui.modeStatus, `Could not switch the collector: ${errorText(error)}`, 'error');
  } finally {
    modeBusy = false;
  }
}

// --- connectivity badges ---------------------------------------------------------------
function renderNet(): void {
  ui.net.textContent = navigator.onLine ? 'Browser: online' : 'Browser: offline';
  ui.net.dataset.tone = navigator.onLine ? 'ok' : 'error';
}

async function watchWorker(): Promise<void> {
  if (!('serviceWorker' in navigator)) {
    ui.swState.textContent = 'Service worker: not supported';
    ui.swState.dataset.tone = 'error';
    return;
  }
  const show = () => {
    const active = navigator.serviceWorker.controller !== null;
    ui.swState.textContent = active ? 'Service worker: active' : 'Service worker: registering…';
    ui.swState.dataset.tone = active ? 'ok' : 'info';
  };
  show();
  navigator.serviceWorker.addEventListener('controllerchange', show);
  await navigator.serviceWorker.ready;
  show();
}

// --- wiring ---------------------------------------------------------------------------
async function main(): Promise<void> {
  renderNet();
  window.addEventListener('online', renderNet);
  window.addEventListener('offline', renderNet);

  const config = await getJson<Config>('/api/config');
  ui.collectorUrl.textContent = `POST ${config.collectorUrl}`;

  const swUrl = `/sw.js?${new URLSearchParams({ endpoints: config.collectorOrigin, baseMs: '1000', maxMs: '30000' })}`;
  const dispatcher: Dispatcher = createDispatcher({ serviceWorker: swUrl });
  void watchWorker();

  for (const name of ['stats', 'delivered', 'retry', 'dead-letter', 'dropped'] as const) {
    dispatcher.on(name, (detail) => {
      if (name === 'stats') {
        latest = detail as Stats;
        renderStats();
      }
      logEvent(name, detail);
    });
  }

  let polling = false;
  const pollStats = async () => {
    if (polling) return;
    polling = true;
    try {
      latest = await dispatcher.stats();
      renderStats();
    } catch (error) {
      setStatus(ui.status, `stats(): ${errorText(error)}`, 'error');
    } finally {
      polling = false;
    }
  };
  setInterval(pollStats, 500);
  setInterval(renderStats, 200); // the countdown ticks between polls
  void pollStats();
  setInterval(pollCollector, 1000);
  void pollCollector();

  ui.track.addEventListener('click', async () => {
    const started = performance.now();
    try {
      const { statusCode } = await dispatcher.dispatchEvent(optimizelyEvent(config.collectorUrl));
      setStatus(ui.status, `1 event accepted: ${statusCode} in ${Math.round(performance.now() - started)} ms.`, 'ok');
    } catch (error) {
      setStatus(ui.status, `Not accepted: ${errorText(error)}`, 'error');
    }
    void pollStats();
  });

  ui.burst.addEventListener('click', async () => {
    const started = performance.now();
    // All in one task: the dispatcher sends them to the worker in one message.
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () => dispatcher.dispatchEvent(optimizelyEvent(config.collectorUrl))),
    );
    const accepted = results.filter((r) => r.status === 'fulfilled' && r.value.statusCode === 202).length;
    const firstError = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const ms = Math.round(performance.now() - started);
    if (firstError) setStatus(ui.status, `${accepted} of 100 accepted in ${ms} ms; first error: ${errorText(firstError.reason)}`, 'error');
    else setStatus(ui.status, `100 events accepted (202) in ${ms} ms.`, 'ok');
    void pollStats();
  });

  ui.flush.addEventListener('click', async () => {
    ui.flush.disabled = true;
    setStatus(ui.status, 'Flushing…');
    const started = performance.now();
    try {
      await dispatcher.flush();
      setStatus(ui.status, `Flush attempt finished in ${Math.round(performance.now() - started)} ms.`, 'ok');
    } catch (error) {
      setStatus(ui.status, `Flush failed: ${errorText(error)}`, 'error');
    } finally {
      ui.flush.disabled = false;
    }
    void pollStats();
  });

  ui.modes.addEventListener('change', (event) => {
    const input = event.target as HTMLInputElement;
    if (input.name === 'mode' && input.checked) void setMode(input.value);
  });

  for (const button of [ui.track, ui.burst, ui.flush]) button.disabled = false;
  ui.modes.disabled = false;
  setStatus(ui.status, 'Ready. Track an event, or switch the collector to “Down” first.');
}

main().catch((error: unknown) => {
  setStatus(ui.status, `The demo could not start: ${errorText(error)}`, 'error');
});
