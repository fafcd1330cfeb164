// The message batcher: events travel together, one message until QUIET_MS pass without an
// event, or MAX_WAIT_MS after the first (a burst spread over tasks costs the main thread a
// message or two, not one per QUIET_MS: each message and its reply cost the page far more
// than an event). A full message (`max` events) goes at once; as the page hides, the
// message goes at the end of the current task, since a timer may not run again.
// Pure but for the page's clock and timers (see createBatcher).

/** A message goes once no event came for QUIET_MS... */
export const QUIET_MS = 5;
/** ...or MAX_WAIT_MS after its first event. */
export const MAX_WAIT_MS = 50;

export interface Batcher<T> {
  /** Adds an item to the next message; `atTaskEnd`: it goes at the end of this task (the page is hiding). */
  add(item: T, atTaskEnd: boolean): void;
  /** Sends what waits, now (nothing when nothing waits). */
  flush(): void;
}

/**
 * Batches items into calls of `send`, each of 1 to `max` items, in the order they came.
 * Its clock is the page's (`performance.now`, `setTimeout`, `queueMicrotask`): an injected
 * one cost the page entry bytes it cannot spare; batcher.test.ts fakes those three.
 */
export function createBatcher<T>(send: (batch: T[]) => void, max: number): Batcher<T> {
  let waiting: T[] = [];
  let firstAt = 0;
  let lastAt = 0;

  const flush = (): void => {
    const batch = waiting;
    waiting = [];
    if (batch.length) send(batch);
  };

  // The timer armed by the first item: again until the batch is quiet or old enough.
  const sendSoon = (): void => {
    const at = performance.now();
    const quiet = at - lastAt;
    if (waiting.length && quiet < QUIET_MS && at - firstAt < MAX_WAIT_MS) setTimeout(sendSoon, QUIET_MS - quiet);
    else flush();
  };

  return {
    add(item, atTaskEnd) {
      lastAt = performance.now();
      if (!waiting.length) {
        firstAt = lastAt;
        atTaskEnd ? queueMicrotask(flush) : setTimeout(sendSoon, QUIET_MS);
      }
      waiting.push(item);
      if (waiting.length === max) flush();
    },
    flush,
  };
}
