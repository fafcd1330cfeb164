// The page of an app that already has a Workbox service worker. It registers the worker
// with workbox-window, as such apps do, and hands that Workbox to createDispatcher. An
// update waits until the page says SKIP_WAITING (Workbox's usual "reload to update" flow).
import { createDispatcher, type Dispatcher } from 'sw-outbox';
import { Workbox } from 'workbox-window';

declare global {
  interface Window {
    compositionApp: {
      wb: Workbox;
      dispatcher: Dispatcher;
      /** How many times a new worker took control (the `controlling` event). */
      takeovers: number;
    };
  }
}

const wb = new Workbox('/sw.js');
const app = { wb, dispatcher: createDispatcher({ serviceWorker: wb, wakeIntervalMs: 1000, ackTimeoutMs: 3000 }), takeovers: 0 };
window.compositionApp = app;
wb.addEventListener('waiting', () => wb.messageSkipWaiting());
wb.addEventListener('controlling', () => void app.takeovers++);
void wb.register({ immediate: true });
