// What a destination is: the origin (scheme, host, port) of an event's URL. Delivery
// keeps its breaker, backoff, probe, concurrency and order per destination, so one
// collector down, slow or throttling never holds another. An origin, not the endpoint
// prefix that matched: health is a property of a server (its connections, its
// `Retry-After`), prefixes of one origin share it, and an outbox without `endpoints`
// has no prefix at all. Shared by the store (which keeps each fresh segment to one
// destination, and the holds) and delivery; imports nothing.

/** The destination of a stored URL (an absolute http(s) href, as the engine stores it). */
export function destinationOf(url: string): string {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url);
  return match ? match[0].toLowerCase() : url;
}

/**
 * At most `share` records of each destination, in their order: a read shared fairly, so
 * that one destination's backlog does not fill a page that another's events wait for.
 */
export function capPerDestination<R extends { url: string }>(records: R[], share: number | undefined): R[] {
  if (share === undefined) return records;
  const taken = new Map<string, number>();
  return records.filter((r) => {
    const key = destinationOf(String(r.url));
    const n = taken.get(key) ?? 0;
    taken.set(key, n + 1);
    return n < share;
  });
}

/** Why a queued event is waiting (delivery sets it, the store keeps it). */
export type Hold = 'offline' | 'network' | 'server';

/** A destination held back by delivery failures, persisted so that a restarted worker keeps it (a `Retry-After` above all). */
export interface DestinationHold {
  /** Nothing is sent to it before this (epoch ms). */
  until: number;
  /** Why: 'server' (a retryable status, `Retry-After`), 'timeout', 'network'. */
  reason: 'network' | 'server' | 'timeout';
  /** Failures in a row: the breaker's backoff grows with it. */
  failures: number;
  /** The status of the last answer (0: no answer). */
  lastStatus: number;
}
