// Helpers for e2e/fallback.spec.ts: browsers without Background Sync, without service
// workers, without IndexedDB, and the measurements the spec prints.
import { type BrowserContext, type CDPSession, type Page, chromium } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchOptions } from '../browser';
import type { Collector } from '../collector.mjs';
import type { App, SwOptions } from '../fixtures';

/**
 * Init script: this browser has no service worker API (Firefox private windows, many
 * in-app web views, HTTP pages). `navigator.serviceWorker` is an accessor on
 * Navigator.prototype; without it, `'serviceWorker' in navigator` is false.
 */
export function removeServiceWorkerApi(): void {
  delete (Navigator.prototype as { serviceWorker?: unknown }).serviceWorker;
}

/**
 * Init script: storage is blocked (Firefox with cookies blocked, some embedded views):
 * `indexedDB.open` throws a SecurityError, as those browsers do.
 */
export function blockIndexedDB(): void {
  IDBFactory.prototype.open = function open(): IDBOpenDBRequest {
    throw new DOMException('The operation is insecure.', 'SecurityError');
  };
}

/**
 * Init script: IndexedDB blocked in the page *and* in every dedicated worker it starts
 * (the page-side outbox runs in one; init scripts reach pages only). Each `new Worker(url)`
 * becomes a same-origin blob worker that applies the same override, then loads `url`.
 * (Serving the worker script with the override in front through `route.fulfill` does
 * not do: Chromium then fails every cross-origin fetch of that worker.)
 */
export function blockIndexedDBEverywhere(): void {
  const block = () => {
    IDBFactory.prototype.open = function open(): IDBOpenDBRequest {
      throw new DOMException('The operation is insecure.', 'SecurityError');
    };
  };
  block();
  const Original = window.Worker;
  window.Worker = class extends Original {
    constructor(url: string | URL, options?: WorkerOptions) {
      const href = JSON.stringify(new URL(String(url), location.href).href);
      const load = options?.type === 'module' ? `await import(${href});` : `importScripts(${href});`;
      super(URL.createObjectURL(new Blob([`(${block})();\n${load}`], { type: 'text/javascript' })), options);
    }
  };
}

/**
 * A browser profile where the user blocked site data ("cookies", in Chromium's content
 * settings): IndexedDB open fails ("The user denied permission to access the database"),
 * service worker registration is refused, Web Locks throw SecurityError. The real thing,
 * not a simulation: what privacy-minded users, some managed browsers and embedded views get.
 */
export function launchWithSiteDataBlocked(profile: string) {
  mkdirSync(join(profile, 'Default'), { recursive: true });
  writeFileSync(join(profile, 'Default', 'Preferences'), JSON.stringify({ profile: { default_content_setting_values: { cookies: 2 } } }));
  return chromium.launchPersistentContext(profile, { ...launchOptions, headless: true });
}

/** A host name that resolves to 127.0.0.1 but is not "potentially trustworthy": http pages on it are not secure contexts. */
export const INSECURE_HOST = 'sw-outbox.test';

/**
 * A browser where INSECURE_HOST resolves to 127.0.0.1: its http pages are not secure
 * contexts, so they have no service worker API, no Web Locks, no crypto.randomUUID and
 * no crypto.subtle (the most common way a real site has no service worker: plain http).
 */
export function launchWithInsecureHost() {
  return chromium.launch({
    ...launchOptions,
    args: [...(launchOptions.args ?? []), `--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`],
  });
}

/** The harness URL whose dispatcher registers `script?<options>` (default /sw.js). */
export function harnessUrl(app: App, script?: string, options?: SwOptions): string {
  return script ? `${app.url(options)}&script=${encodeURIComponent(script)}` : app.url(options);
}

/** What the test worker /sw-nosync.js reports about its own global scope. */
export async function probeWorker(page: Page): Promise<{ syncManager: boolean; registrationSync: boolean; search: string }> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    const channel = new MessageChannel();
    const answer = new Promise<{ syncManager: boolean; registrationSync: boolean; search: string }>((ok) => {
      channel.port1.onmessage = (event) => ok(event.data);
    });
    registration.active!.postMessage({ type: 'e2e/probe' }, [channel.port2]);
    return answer;
  });
}

/** The dispatcher's stats, mode and degraded included. */
export function stats(page: Page) {
  return page.evaluate(() => window.dispatcher!.stats());
}

/** When the collector answered its last 2xx (its own clock, ms since epoch). */
export function lastDeliveryAt(collector: Collector): number {
  const times = collector.log.filter((r) => typeof r.status === 'number' && r.status >= 200 && r.status < 300).map((r) => r.at);
  return times.length ? Math.max(...times) : Number.NaN;
}

/** Duplicate deliveries: 2xx answers beyond the first per uuid. */
export function duplicates(counts: Map<string, number>): number {
  return [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
}

/**
 * Number of events queued in sw-outbox's IndexedDB as the page sees it (opened without
 * upgrading): records of `queue` plus the events still in `fresh` segments.
 */
export function queuedInIndexedDB(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const req = indexedDB.open('sw-outbox');
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const db = req.result;
          const stores = ['queue', 'fresh', 'spent'].filter((name) => db.objectStoreNames.contains(name));
          if (!stores.includes('queue')) {
            db.close();
            resolve(0);
            return;
          }
          const tx = db.transaction(stores);
          const all = (name: string) =>
            new Promise<{ events?: unknown[]; n?: number; gone?: unknown[] }[]>((ok, fail) => {
              if (!stores.includes(name)) return ok([]);
              const r = tx.objectStore(name).getAll();
              r.onsuccess = () => ok(r.result);
              r.onerror = () => fail(r.error);
            });
          Promise.all([all('queue'), all('fresh'), all('spent')]).then(([queue, fresh, spent]) => {
            db.close();
            const gone = spent.reduce((sum, s) => sum + (s.gone?.length ?? 0), 0);
            resolve(queue.length + fresh.reduce((sum, s) => sum + (s.events?.length ?? 0), 0) - gone);
          }, reject);
        };
      }),
  );
}

/**
 * Service-worker control through CDP on a page of the context (a browser-level session
 * lacks the ServiceWorker domain): stop every worker, start one, watch their state.
 */
export async function workerControl(context: BrowserContext, page: Page) {
  const session: CDPSession = await context.newCDPSession(page);
  const versions = new Map<string, { runningStatus: string; scriptURL: string; status: string }>();
  session.on('ServiceWorker.workerVersionUpdated', ({ versions: updated }) => {
    for (const v of updated) versions.set(v.versionId, { runningStatus: v.runningStatus, scriptURL: v.scriptURL, status: v.status });
  });
  await session.send('ServiceWorker.enable');
  return {
    stopAll: () => session.send('ServiceWorker.stopAllWorkers'),
    start: (scopeURL: string) => session.send('ServiceWorker.startWorker', { scopeURL }),
    /** Running status of every activated version seen, e.g. ['stopped']. */
    running: () => [...versions.values()].filter((v) => v.status === 'activated').map((v) => v.runningStatus),
    detach: () => session.detach().catch(() => {}),
  };
}
