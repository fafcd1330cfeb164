// Panel 3: the local collector. Its mode (up, down, 503, 429, slow) is switched through
// the demo server's /api/collector/mode, and its own request log — the ground truth of
// what arrived — is read from /api/collector/log.
import { $, clock, count, el, errorText, getJson, setStatus } from './dom';

type Mode = { kind: 'up' } | { kind: 'down' } | { kind: 'slow'; ms: number } | { kind: 'status'; status: number; retryAfter?: string };

interface CollectorLog {
  mode: Mode;
  requests: number;
  accepted: number;
  distinctUuids: number;
  duplicates: number;
  last: { at: number; status: number | 'hang' | 'reset'; uuid: string | null; key: string | null; duplicate: boolean }[];
}

const MODES: Record<string, { mode: Mode; done: string }> = {
  up: { mode: { kind: 'up' }, done: 'Collector is up. Queued events go at the next retry (see the countdown), or now with “Flush now”.' },
  down: { mode: { kind: 'down' }, done: 'Collector is down: connections are refused. Track a few events and watch the retry delays grow.' },
  '503': { mode: { kind: 'status', status: 503 }, done: 'Collector answers 503: the outbox backs off and retries.' },
  '429': {
    mode: { kind: 'status', status: 429, retryAfter: '5' },
    done: 'Collector answers 429 with Retry-After: 5: the outbox waits 5 s between tries.',
  },
  slow: { mode: { kind: 'slow', ms: 1000 }, done: 'Collector answers 200 after 1 s: watch “In flight”.' },
  '400': {
    mode: { kind: 'status', status: 400 },
    done: 'Collector answers 400: events are refused for good and go to the dead letters, listed below the outbox events.',
  },
};

const ui = {
  modes: $<HTMLFieldSetElement>('#modes'),
  modeStatus: $('#mode-status'),
  url: $('#collector-url'),
  log: $<HTMLTableSectionElement>('#collector-log'),
  caption: $('#collector-caption'),
};

const CAPTION = 'Last 30 requests received, newest first';

function modeKey(mode: Mode): string | undefined {
  return Object.keys(MODES).find((key) => JSON.stringify(MODES[key]!.mode) === JSON.stringify(mode));
}

function render(log: CollectorLog): void {
  for (const dd of document.querySelectorAll<HTMLElement>('[data-collector]')) {
    dd.textContent = count(log[dd.dataset.collector as 'requests' | 'accepted' | 'distinctUuids' | 'duplicates']);
  }
  const rows = log.last.map((entry) => {
    const ok = typeof entry.status === 'number' && entry.status >= 200 && entry.status < 300;
    const status = el('td', {}, el('span', { className: `tag ${ok ? 'tag-delivered' : 'tag-retry'}`, text: String(entry.status) }));
    if (entry.duplicate)
      status.append(' ', el('span', { className: 'tag tag-dup', text: 'duplicate', title: 'this uuid had already been accepted' }));
    const key = entry.key === 'campaign_activated' ? 'impression' : (entry.key ?? '–');
    const row = el(
      'tr',
      {},
      el('td', { className: 'mono', text: clock(entry.at) }),
      status,
      el('td', { text: key }),
      el('td', { className: 'mono uuid', text: entry.uuid ?? '(no uuid)' }),
    );
    if (entry.duplicate) row.className = 'dup';
    return row;
  });
  if (rows.length === 0) rows.push(el('tr', {}, Object.assign(el('td', { className: 'empty', text: 'No requests yet.' }), { colSpan: 4 })));
  ui.log.replaceChildren(...rows);
}

export function startCollectorPanel(collectorUrl: string, onModeChanged: (key: string) => void) {
  let busy = false;
  ui.url.textContent = `POST ${collectorUrl}`;

  async function poll(): Promise<void> {
    try {
      const log = await getJson<CollectorLog>('/api/collector/log');
      render(log);
      // Keep the radios in step with the server (another tab may have switched it).
      const key = modeKey(log.mode);
      if (key && !busy) {
        const radio = ui.modes.querySelector<HTMLInputElement>(`input[value="${key}"]`);
        if (radio && !radio.checked && !ui.modes.contains(document.activeElement)) radio.checked = true;
      }
      ui.caption.textContent = CAPTION;
      ui.modes.disabled = false;
    } catch {
      // Offline, or the demo server was stopped: say so, keep the last table.
      ui.caption.textContent = `${CAPTION} (not updating: cannot reach the demo server)`;
    }
  }

  async function setMode(key: string): Promise<void> {
    const choice = MODES[key];
    if (!choice) return;
    busy = true;
    setStatus(ui.modeStatus, `Switching the collector to “${key}”…`);
    try {
      await getJson('/api/collector/mode', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(choice.mode),
      });
      setStatus(ui.modeStatus, choice.done, 'ok');
      onModeChanged(key);
    } catch (error) {
      setStatus(ui.modeStatus, `Could not switch the collector: ${errorText(error)}`, 'error');
    } finally {
      busy = false;
    }
    void poll();
  }

  ui.modes.addEventListener('change', (event) => {
    const input = event.target as HTMLInputElement;
    if (input.name === 'mode' && input.checked) void setMode(input.value);
  });

  setInterval(() => void poll(), 1000);
  void poll();
}
