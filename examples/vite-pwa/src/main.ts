// src/main.ts — the plugin registers the worker and hands its registration to the outbox
import { createDispatcher, type Dispatcher } from 'sw-outbox';
import { registerSW } from 'virtual:pwa-register';

const $ = (id: string) => document.getElementById(id)!;
$('version').textContent = import.meta.env.VITE_APP_VERSION ?? 'dev';

const dispatcher = new Promise<Dispatcher>((resolve) => {
  // Without the service worker API registerSW does nothing, and a failed registration calls
  // onRegisterError: with the script URL, the dispatcher falls back to its page-side outbox.
  const fallBack = () => resolve(createDispatcher({ serviceWorker: '/sw.js' }));
  if (!('serviceWorker' in navigator)) fallBack();
  const updateSW = registerSW({
    immediate: true,
    onRegisteredSW(swUrl, registration) {
      resolve(createDispatcher({ serviceWorker: registration ?? swUrl }));
      // Browsers look for a new worker on navigations; a long-lived page asks too.
      if (registration) setInterval(() => void registration.update(), 60 * 60_000);
    },
    onRegisterError: fallBack,
    // A new version is waiting. Queued events stay in IndexedDB: the new worker sends them.
    onNeedRefresh: () => ($('update').hidden = false),
  });
  $('reload').onclick = () => void updateSW(true); // SKIP_WAITING, then the page reloads
});

$('track').onclick = async () => {
  const event = { uuid: crypto.randomUUID(), name: 'click', at: Date.now() };
  const item = $('log').appendChild(document.createElement('li'));
  item.dataset.uuid = event.uuid;
  try {
    // 202 once the event is stored: it is delivered when the collector can be reached.
    const { statusCode } = await (await dispatcher).send(import.meta.env.VITE_ANALYTICS_URL, event);
    item.textContent = `${event.name} ${event.uuid}: ${statusCode}`;
  } catch (error) {
    item.textContent = `${event.name} ${event.uuid}: ${(error as { code?: string }).code ?? error}`;
  }
};
$('flush').onclick = async () => (await dispatcher).flush();
