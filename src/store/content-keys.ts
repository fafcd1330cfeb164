// Content keys: what identifies a dispatched event's content, for de-duplication (the
// store indexes them; the engine computes them before it enqueues, since the digest is
// async and an IndexedDB transaction must not wait on it). Owned by the store: a schema
// upgrade rewrites old keys with `urlTag`. Pure but the digest.
import { eventUuids, parseOptimizely } from '../optimizely-body.js';

/**
 * What identifies a dispatched event's content, for de-duplication: for an Optimizely
 * body carrying event uuids, one key per uuid (with the URL) — the SDK re-batches the
 * events it re-sends from its store, so a re-send is recognised event by event, whatever
 * its grouping; for anything else, one key for the URL and the exact body (a SHA-256
 * prefix when long; none where SubtleCrypto is missing, outside secure contexts).
 */
export async function contentKeys(url: string, body: string): Promise<string[]> {
  const parsed = parseOptimizely(body);
  const uuids = parsed ? eventUuids(parsed) : [];
  if (uuids.length > 0) {
    // Short (the store indexes every key, at a cost that grows with its length): the URL
    // as a 32-bit tag; the same uuid sent to two endpoints needs their tags to collide too.
    const tag = urlTag(url);
    return uuids.map((uuid) => `${tag}:${uuid}`);
  }
  const identity = `${url}\nbody:${body}`;
  if (identity.length <= 200) return [identity];
  return globalThis.crypto?.subtle ? [`sha256:${await digestKey(identity)}`] : [];
}

/** The URL of an Optimizely event as the 8 hex digits of its FNV-1a hash (sync: also used by a schema upgrade). */
export function urlTag(url: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < url.length; i++) h = Math.imul(h ^ url.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** A 128-bit hex SHA-256 prefix of `text`. */
export async function digestKey(text: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  let hex = '';
  for (let i = 0; i < 16; i++) hex += hash[i]!.toString(16).padStart(2, '0');
  return hex;
}
