// The page of the workbox-background-sync peer: registers bench/workbox-sw.ts (served
// at /wb/sw.js, scope /wb/) and asks it to push requests into its Queue.
export {};

let registration: ServiceWorkerRegistration | undefined;

async function activated(reg: ServiceWorkerRegistration): Promise<ServiceWorker> {
  const worker = reg.installing ?? reg.waiting ?? reg.active;
  if (!worker) throw new Error('the registration has no worker');
  if (worker.state !== 'activated') {
    await new Promise<void>((ok) => worker.addEventListener('statechange', () => worker.state === 'activated' && ok()));
  }
  return worker;
}

function ask<T>(message: unknown): Promise<T> {
  const worker = registration?.active;
  if (!worker) return Promise.reject(new Error('wbBench: no active worker'));
  return new Promise((ok, fail) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => (event.data?.error ? fail(new Error(event.data.error)) : ok(event.data as T));
    worker.postMessage(message, [channel.port2]);
  });
}

const wbBench = {
  async setup(): Promise<{ ok: true }> {
    registration = await navigator.serviceWorker.register('/wb/sw.js', { scope: '/wb/' });
    await activated(registration);
    return { ok: true };
  },
  /** Queue.pushRequest of `n` POSTs at once, timed inside the worker. */
  push(n: number, prefix: string, url: string): Promise<{ ms: number; size: number }> {
    return ask({ type: 'push', n, prefix, url });
  },
  size(): Promise<{ size: number }> {
    return ask({ type: 'size' });
  },
};

declare global {
  interface Window {
    wbBench: typeof wbBench;
  }
}
window.wbBench = wbBench;

// /wb/?auto: register on load (a browser launched with no driver: bench/scenarios.mjs, relaunch).
if (new URLSearchParams(location.search).has('auto')) void wbBench.setup();
