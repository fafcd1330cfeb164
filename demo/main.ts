// The demo page: the Optimizely SDK with sw-outbox as its eventDispatcher, and panels
// that show what the outbox and the collector are doing.
//
// In an app the import is `from 'sw-outbox'`; here it names the source so that
// `tsc -p tsconfig.json` checks it without a build, and demo/build.mjs bundles the built
// package (dist/index.js) in its place.
import type { EventDispatcherResponse } from '@optimizely/optimizely-sdk';
import { Workbox, messageSW } from 'workbox-window';
import { type Dispatcher, createDispatcher } from '../src/index';
import { startCollectorPanel } from './collector-panel';
import { startDeadLettersPanel } from './dead-letters-panel';
import { $, count, el, errorText, getJson, setStatus } from './dom';
import { EVENT_KEY, FLAG_KEY, createOptimizely } from './optimizely';
import { type Backoff, startOutboxPanel } from './outbox-panel';

interface Config {
  collectorUrl: string;
  collectorOrigin: string;
}

const BURST = 250;
const CONFIG_KEY = 'sw-outbox-demo:config';
const DECISION_KEY = 'sw-outbox-demo:decision';

const ui = {
  form: $<HTMLFormElement>('#decide-form'),
  userId: $<HTMLInputElement>('#user-id'),
  decide: $<HTMLButtonElement>('#decide'),
  decision: $('#decision'),
  track: $<HTMLButtonElement>('#track'),
  burst: $<HTMLButtonElement>('#burst'),
  flush: $<HTMLButtonElement>('#flush'),
  status: $('#status'),
  handed: $('#handed'),
  accepted: $('#accepted'),
  net: $('#net'),
  swState: $('#sw-state'),
  swVersion: $('#sw-version'),
  update: $('#update'),
  updateReload: $<HTMLButtonElement>('#update-reload'),
  offlineReady: $('#offline-ready'),
  install: $<HTMLButtonElement>('#install'),
};

/**
 * The collector's address comes from the demo server. Offline (a reload served from the
 * precache), the copy kept from the last visit is used.
 */
async function loadConfig(): Promise<Config> {
  try {
    const config = await getJson<Config>('/api/config');
    localStorage.setItem(CONFIG_KEY, JSON.stringify(config));
    return config;
  } catch (error) {
    const saved = localStorage.getItem(CONFIG_KEY);
    if (saved) return JSON.parse(saved) as Config;
    throw error;
  }
}

/** Backoff for the worker: 1 s doubling to 20 s, or `?baseMs=…&maxMs=…` on the page URL. */
function backoffFromQuery(search: string): Backoff {
  const query = new URLSearchParams(search);
  const int = (name: string, fallback: number) => {
    const value = Number(query.get(name) ?? fallback);
    return Number.isInteger(value) && value > 0 ? value : fallback;
  };
  const baseMs = int('baseMs', 1000);
  return { baseMs, maxMs: Math.max(baseMs, int('maxMs', 20_000)) };
}

// --- header badges -------------------------------------------------------------------
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
  const show = async () => {
    const controller = navigator.serviceWorker.controller;
    ui.swState.textContent = controller ? 'Service worker: active' : 'Service worker: installing…';
    ui.swState.dataset.tone = controller ? 'ok' : 'info';
    // Workbox names its precache "workbox-precache-v2-<scope>".
    const cached = 'caches' in self && (await caches.keys()).some((name) => name.startsWith('workbox-precache'));
    ui.offlineReady.textContent = cached ? 'Works offline' : 'App shell: not cached yet';
    ui.offlineReady.dataset.tone = cached ? 'ok' : 'info';
    // Which version of the worker runs this page (demo/worker/sw.ts answers GET_VERSION).
    const version: unknown = controller && (await messageSW(controller, { type: 'GET_VERSION' }).catch(() => undefined));
    ui.swVersion.hidden = typeof version !== 'string';
    if (typeof version === 'string') ui.swVersion.textContent = `Worker ${version.replace(/^sw-outbox-demo@/, '')}`;
  };
  void show();
  navigator.serviceWorker.addEventListener('controllerchange', () => void show());
  await navigator.serviceWorker.ready;
  await show();
}

/**
 * The update flow of a workbox-window app. The demo's worker does not call skipWaiting()
 * on its own, so a new version waits while this tab runs the old one (which keeps
 * delivering: both share the IndexedDB queue). The banner offers to switch: the waiting
 * worker is told to skipWaiting(), and the page reloads once the new one controls it,
 * so page code and worker match again.
 */
function offerUpdate(wb: Workbox, dispatcher: Dispatcher): void {
  const show = () => void (ui.update.hidden = false);
  // workbox-window's signal: a new version installed and still waiting 200 ms later.
  wb.addEventListener('waiting', show);
  ui.updateReload.addEventListener('click', async () => {
    ui.updateReload.disabled = true;
    const waiting = (await navigator.serviceWorker.getRegistration())?.waiting;
    // Activated meanwhile from another tab: this one only needs the reload.
    if (!waiting) return location.reload();
    // Chromium activates a worker that called skipWaiting() only once the old one has no
    // event in progress (or after 5 minutes), and this page messages the old one every
    // second (stats, wake-ups): that moment may not come on a busy machine. The page is
    // about to reload: close the dispatcher (what was handed over is acknowledged first,
    // so committed), and the old worker goes quiet.
    await dispatcher.close();
    // Before the message: `controlling` fires once the new worker has claimed this page.
    wb.addEventListener('controlling', () => location.reload());
    wb.messageSkipWaiting();
  });
  // A tab left open learns of a new version when it is looked at again.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void wb.update();
  });
}

/**
 * Once registered: look for a new version now. The browser checks by itself after a
 * navigation, but Chromium waits for a second in which the worker gets no event, and
 * this page messages it every second (stats): that check may never come.
 * What `waiting` misses is watched here too. workbox-window listens from register() on,
 * and Chromium's register() of a known script checks for an update and may resolve only
 * once the new version has installed; `updatefound` can then come after it, when
 * `installing` is already empty. So: any worker of the registration that is `installed`
 * (that is, waiting) while this page has a controller shows the banner, looked at on
 * every `updatefound` and state change.
 */
function checkForUpdate(wb: Workbox, registration: ServiceWorkerRegistration): void {
  const watched = new WeakSet<ServiceWorker>();
  const check = () => {
    for (const worker of [registration.installing, registration.waiting]) {
      if (!worker) continue;
      if (!watched.has(worker)) worker.addEventListener('statechange', check);
      watched.add(worker);
      if (worker.state === 'installed' && navigator.serviceWorker.controller) ui.update.hidden = false;
    }
  };
  registration.addEventListener('updatefound', check);
  check();
  void wb.update();
}

// "Install app", where the browser offers it (Chromium's beforeinstallprompt).
interface BeforeInstallPromptEvent extends Event {
  prompt(): Promise<void>;
}
function offerInstall(): void {
  let deferred: BeforeInstallPromptEvent | undefined;
  window.addEventListener('beforeinstallprompt', (event) => {
    event.preventDefault();
    deferred = event as BeforeInstallPromptEvent;
    ui.install.hidden = false;
  });
  ui.install.addEventListener('click', () => {
    ui.install.hidden = true;
    void deferred?.prompt();
    deferred = undefined;
  });
}

// --- the decision ---------------------------------------------------------------------
interface Decision {
  userId: string;
  variationKey: string | null;
  enabled: boolean;
  ruleKey: string | null;
  variables: Record<string, unknown>;
}

/** Shows a decision, and keeps it for the session so a reload shows it again. */
function renderDecision(d: Decision): void {
  try {
    const { userId, variationKey, enabled, ruleKey, variables } = d;
    sessionStorage.setItem(DECISION_KEY, JSON.stringify({ userId, variationKey, enabled, ruleKey, variables }));
  } catch {
    // Storage disabled: nothing to restore after a reload, that's all.
  }
  const label = String(d.variables.button_label ?? 'Checkout');
  const row = (term: string, value: Node | string) =>
    el('div', {}, el('dt', { className: 'fact-term', text: term }), el('dd', { className: 'fact-value' }, value));
  ui.decision.replaceChildren(
    el(
      'dl',
      { className: 'facts' },
      row('User', el('code', { text: d.userId })),
      row('Flag', el('code', { text: FLAG_KEY })),
      row('Enabled', el('span', { className: `pill ${d.enabled ? 'pill-on' : 'pill-off'}`, text: d.enabled ? 'on' : 'off' })),
      row('Variation', el('code', { text: d.variationKey ?? '–' })),
      row('Rule', el('code', { text: d.ruleKey ?? '–' })),
    ),
    el('p', { className: 'preview' }, 'Their checkout button: ', el('span', { className: 'fake-button', text: label })),
  );
}

function savedDecision(): Decision | undefined {
  try {
    const saved = JSON.parse(sessionStorage.getItem(DECISION_KEY) ?? 'null') as Decision | null;
    return saved && typeof saved.userId === 'string' ? saved : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  renderNet();
  window.addEventListener('online', renderNet);
  window.addEventListener('offline', renderNet);
  offerInstall();

  const config = await loadConfig();
  const backoff = backoffFromQuery(location.search);

  // The demo's own service worker (precache + installOutbox), with the outbox's options
  // in its URL: the collector's origin is only known when the demo server starts.
  // Registered with workbox-window, as a PWA with a worker of its own does, and that
  // Workbox handed to the dispatcher. (`new Workbox` throws where there is no service
  // worker API: there the dispatcher gets the URL, and runs its fallback.)
  const swUrl = `/sw.js?${new URLSearchParams({ endpoints: config.collectorOrigin, baseMs: String(backoff.baseMs), maxMs: String(backoff.maxMs) })}`;
  const wb = 'serviceWorker' in navigator ? new Workbox(swUrl) : undefined;
  const dispatcher = createDispatcher({
    serviceWorker: wb ?? swUrl,
    // Where no service worker runs, the same options (from a Workbox, the dispatcher
    // cannot read them off the script URL).
    fallback: { endpoints: [config.collectorOrigin], backoff },
  });
  if (wb) {
    offerUpdate(wb, dispatcher);
    wb.register().then(
      (registration) => registration && checkForUpdate(wb, registration),
      (error: unknown) => {
        ui.swState.textContent = `Service worker: not registered (${errorText(error)})`;
        ui.swState.dataset.tone = 'error';
      },
    );
  }
  void watchWorker();

  const outbox = startOutboxPanel(dispatcher, backoff);
  startDeadLettersPanel(dispatcher, () => void outbox.poll());
  startCollectorPanel(config.collectorUrl, (mode) => {
    if (mode === 'up') void outbox.poll();
  });
  window.addEventListener('online', () => outbox.resetStreak());

  // Counters of what the SDK handed to the outbox and what the outbox accepted; and the
  // outcomes of the events handed over during one SDK call (the SDK dispatches
  // synchronously inside decide() and trackEvent()).
  let handed = 0;
  let accepted = 0;
  let collecting: Promise<EventDispatcherResponse>[] | undefined;
  const renderCounts = () => {
    ui.handed.textContent = count(handed);
    ui.accepted.textContent = count(accepted);
  };
  const onDispatch = (outcome: Promise<EventDispatcherResponse>) => {
    handed++;
    collecting?.push(outcome);
    renderCounts();
    outcome.then(
      ({ statusCode }) => {
        if (statusCode === 202) accepted++;
        renderCounts();
      },
      () => {},
    );
  };

  const optimizely = createOptimizely(dispatcher, config.collectorUrl, onDispatch);
  await optimizely.onReady();

  const user = () => {
    const id = ui.userId.value.trim();
    ui.userId.setAttribute('aria-invalid', String(id === ''));
    if (id === '') {
      setStatus(ui.status, 'Enter a user id first.', 'error');
      ui.userId.focus();
      return undefined;
    }
    return optimizely.createUserContext(id);
  };

  /** Runs an SDK call and reports, once the outbox has answered, what it accepted. */
  const run = async (what: string, call: () => void) => {
    const started = performance.now();
    const outcomes: Promise<EventDispatcherResponse>[] = (collecting = []);
    try {
      call();
    } finally {
      collecting = undefined;
    }
    const results = await Promise.allSettled(outcomes);
    const ms = Math.round(performance.now() - started);
    const ok = results.filter((r) => r.status === 'fulfilled' && r.value.statusCode === 202).length;
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (refused) setStatus(ui.status, `${what}: ${ok} of ${results.length} accepted; refused: ${errorText(refused.reason)}`, 'error');
    else if (results.length === 0) setStatus(ui.status, `${what}: the SDK sent no event.`, 'warn');
    else setStatus(ui.status, `${what}: ${ok === 1 ? 'event' : `${ok} events`} accepted by the outbox (202) in ${ms} ms.`, 'ok');
    void outbox.poll();
  };

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const context = user();
    if (!context) return;
    void run('Impression', () => renderDecision({ ...context.decide(FLAG_KEY), userId: context.getUserId() }));
  });

  ui.track.addEventListener('click', () => {
    const context = user();
    if (!context) return;
    void run(`Conversion “${EVENT_KEY}”`, () => context.trackEvent(EVENT_KEY, { revenue: 4200 }));
  });

  ui.burst.addEventListener('click', () => {
    const context = user();
    if (!context) return;
    // All in one task: the dispatcher hands them to the worker in one message.
    void run(`Burst of ${BURST} conversions`, () => {
      for (let i = 0; i < BURST; i++) context.trackEvent(EVENT_KEY, { revenue: 100 + i });
    });
  });

  ui.flush.addEventListener('click', async () => {
    ui.flush.disabled = true;
    setStatus(ui.status, 'Flushing…');
    const started = performance.now();
    outbox.resetStreak();
    try {
      await dispatcher.flush();
      setStatus(ui.status, `Delivery attempt finished in ${Math.round(performance.now() - started)} ms.`, 'ok');
    } catch (error) {
      setStatus(ui.status, `Flush failed: ${errorText(error)}`, 'error');
    } finally {
      ui.flush.disabled = false;
    }
    void outbox.poll();
  });

  const saved = savedDecision();
  if (saved) {
    renderDecision(saved);
    ui.userId.value = saved.userId;
  }

  for (const button of [ui.decide, ui.track, ui.burst, ui.flush]) button.disabled = false;
  setStatus(
    ui.status,
    navigator.onLine
      ? 'Ready. Decide the flag for a user, then track a conversion.'
      : 'Ready, offline: events are kept until the network is back.',
    'info',
  );
}

main().catch((error: unknown) => {
  setStatus(ui.status, `The demo could not start: ${errorText(error)}`, 'error');
});
