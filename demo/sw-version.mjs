// @ts-check
// The demo worker's version id, `sw-outbox-demo@` and 12 hex digits, in the built
// demo/dist/sw.js (demo/worker/sw.ts answers it to GET_VERSION). build.mjs writes a hash
// of the script there; server.mjs's deployWorker() writes another one, so the bytes
// differ and the browser sees a new version. Always the same length: the worker's
// source map stays true.
import { createHash } from 'node:crypto';

export const VERSION_PLACEHOLDER = 'sw-outbox-demo@000000000000';
const VERSION = /sw-outbox-demo@[0-9a-f]{12}/g;

/** `sw-outbox-demo@` and the first 12 hex digits of the SHA-256 of `text`. */
export const versionOf = (/** @type {string} */ text) => `sw-outbox-demo@${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;

/**
 * `script` with its one version id replaced by `version`.
 * @param {string} script @param {string} version
 */
export function withVersion(script, version) {
  const found = script.match(VERSION) ?? [];
  if (found.length !== 1) throw new Error(`demo: expected one worker version id in sw.js, found ${found.length}`);
  return script.replace(VERSION, version);
}
