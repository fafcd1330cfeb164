// The shape of an Optimizely event body (`{visitors: [...]}`), as far as the outbox reads
// it: shared by the store's content keys (de-duplication) and delivery's batching. Pure.

/** The parts of an Optimizely event body the outbox reads. */
export interface OptimizelyBody {
  visitors: unknown[];
  [field: string]: unknown;
}

/** Parses a body that looks like an Optimizely event batch (`{visitors: [...]}`), or undefined. */
export function parseOptimizely(body: string): OptimizelyBody | undefined {
  if (body.charCodeAt(0) !== 123 /* { */) return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as OptimizelyBody).visitors)) {
      return parsed as OptimizelyBody;
    }
  } catch {
    // Not JSON after all: no content identity, never batched.
  }
  return undefined;
}

/** Every `visitors[].snapshots[].events[].uuid`, in order. */
export function eventUuids(body: OptimizelyBody): string[] {
  const uuids: string[] = [];
  for (const visitor of body.visitors) {
    const snapshots = (visitor as { snapshots?: unknown })?.snapshots;
    if (!Array.isArray(snapshots)) continue;
    for (const snapshot of snapshots) {
      const events = (snapshot as { events?: unknown })?.events;
      if (!Array.isArray(events)) continue;
      for (const event of events) {
        const uuid = (event as { uuid?: unknown })?.uuid;
        if (typeof uuid === 'string') uuids.push(uuid);
      }
    }
  }
  return uuids;
}
