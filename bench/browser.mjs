// @ts-check
// Headless Chromium on an on-disk profile (a fresh temporary user-data dir per context),
// with the launch settings the end-to-end tests use (e2e/chromium.mjs).
import { chromium } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumArgs, executablePath } from '../e2e/chromium.mjs';

/**
 * @param {string} [dir] the profile (a fresh temporary one by default); one given is not removed on close
 * @returns {Promise<{context: import('@playwright/test').BrowserContext, page: import('@playwright/test').Page, close(): Promise<void>}>}
 */
export async function openContext(dir) {
  const own = dir === undefined;
  dir ??= mkdtempSync(join(tmpdir(), 'sw-outbox-bench-profile-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath,
    args: chromiumArgs,
    headless: true,
    serviceWorkers: 'allow',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      if (own) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The same Chromium on the profile `dir`, opening `url`, with no driver and no debugger
 * attached (what a user's browser is: Playwright's instrumentation costs every request).
 * @param {string} dir @param {string} url
 * @returns {{stop(): Promise<void>}}
 */
export function launchPlain(dir, url) {
  // In a process group of its own: stop() kills every process of this browser at once.
  const child = spawn(String(executablePath), [...chromiumArgs, '--headless=new', `--user-data-dir=${dir}`, '--no-first-run', url], {
    stdio: 'ignore',
    detached: true,
  });
  const exited = new Promise((ok) => child.once('exit', ok));
  return {
    async stop() {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await Promise.race([exited, sleep(5000)]);
    },
  };
}

/** @param {import('@playwright/test').BrowserContext} context */
export async function browserVersion(context) {
  return context.browser()?.version() ?? 'unknown';
}

/**
 * A CDP session on a service-worker target (a browser-level session, attached with
 * flatten: false, commands relayed through Target.sendMessageToTarget: Playwright's
 * sessions cannot address a flattened child session).
 * @param {import('@playwright/test').BrowserContext} context
 * @param {string} scriptUrlPrefix the worker's script URL starts with this
 */
export async function workerSession(context, scriptUrlPrefix) {
  const browser = context.browser();
  if (!browser) throw new Error('workerSession: the context has no browser');
  const root = await browser.newBrowserCDPSession();
  const { targetInfos } = await root.send('Target.getTargets');
  const target = targetInfos.find((t) => t.type === 'service_worker' && t.url.startsWith(scriptUrlPrefix));
  if (!target)
    throw new Error(
      `workerSession: no service-worker target for ${scriptUrlPrefix} (${targetInfos.map((t) => `${t.type} ${t.url}`).join(', ')})`,
    );
  const { sessionId } = await root.send('Target.attachToTarget', { targetId: target.targetId, flatten: false });
  let nextId = 0;
  let detached = false;
  /** @type {Map<number, {ok: (v: any) => void, fail: (e: Error) => void}>} */
  const pending = new Map();
  /** @type {Map<string, (params: any) => void>} */
  const listeners = new Map();
  root.on('Target.receivedMessageFromTarget', (event) => {
    if (event.sessionId !== sessionId) return;
    const message = JSON.parse(event.message);
    if (message.method) {
      listeners.get(message.method)?.(message.params);
      return;
    }
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.fail(new Error(`${message.error.message} (${message.error.code})`));
    else waiter.ok(message.result);
  });
  root.on('Target.detachedFromTarget', (event) => {
    if (event.sessionId !== sessionId) return;
    detached = true;
    for (const waiter of pending.values()) waiter.fail(new Error('the service worker target went away (worker stopped or restarted)'));
    pending.clear();
  });
  return {
    get detached() {
      return detached;
    },
    /** @param {string} method @param {Record<string, unknown>} [params] @returns {Promise<any>} */
    send(method, params = {}) {
      if (detached) return Promise.reject(new Error('the service worker target went away (worker stopped or restarted)'));
      const id = ++nextId;
      return new Promise((ok, fail) => {
        pending.set(id, { ok, fail });
        root.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(fail);
      });
    },
    /** One listener per CDP event of the worker (e.g. HeapProfiler.addHeapSnapshotChunk). @param {string} method @param {(params: any) => void} fn */
    on(method, fn) {
      listeners.set(method, fn);
    },
    async detach() {
      if (!detached) await root.send('Target.detachFromTarget', { sessionId }).catch(() => {});
      await root.detach().catch(() => {});
    },
  };
}
