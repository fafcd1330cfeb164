// The message batcher, on a faked page clock: performance.now and setTimeout advance only
// when the test says (vi.advanceTimersByTime), so no assertion waits on real time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_WAIT_MS, QUIET_MS, createBatcher } from './batcher.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A batcher of numbers that records every batch it sends. */
function recording(max = 1000) {
  const sent: number[][] = [];
  const batcher = createBatcher<number>((batch) => sent.push(batch), max);
  return { sent, batcher };
}

describe('createBatcher', () => {
  it('sends a burst as one batch once QUIET_MS pass without an item', () => {
    const { sent, batcher } = recording();
    batcher.add(1, false);
    vi.advanceTimersByTime(QUIET_MS - 2);
    batcher.add(2, false);
    vi.advanceTimersByTime(QUIET_MS - 2);
    batcher.add(3, false);
    vi.advanceTimersByTime(QUIET_MS - 1);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([[1, 2, 3]]);
    // The next item starts a batch of its own.
    batcher.add(4, false);
    vi.advanceTimersByTime(QUIET_MS);
    expect(sent).toEqual([[1, 2, 3], [4]]);
  });

  it('sends MAX_WAIT_MS after the first item even while items keep coming', () => {
    const sentAt: number[] = [];
    const sent: number[][] = [];
    const start = performance.now();
    const batcher = createBatcher<number>((batch) => {
      sent.push(batch);
      sentAt.push(performance.now() - start);
    }, 1000);
    const gap = QUIET_MS - 1;
    let n = 0;
    for (let t = 0; t < 3 * MAX_WAIT_MS; t += gap) {
      batcher.add(++n, false);
      vi.advanceTimersByTime(gap);
    }
    vi.advanceTimersByTime(MAX_WAIT_MS);
    // Never quiet, yet each batch went once it was MAX_WAIT_MS old (the check runs every
    // few ms: at most QUIET_MS later).
    expect(sent.length).toBeGreaterThanOrEqual(3);
    expect(sentAt[0]).toBeGreaterThanOrEqual(MAX_WAIT_MS);
    expect(sentAt[0]).toBeLessThan(MAX_WAIT_MS + QUIET_MS);
    // Every item sent once, in order.
    expect(sent.flat()).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });

  it('sends a full batch at once, synchronously', () => {
    const { sent, batcher } = recording(3);
    batcher.add(1, false);
    batcher.add(2, false);
    expect(sent).toEqual([]);
    batcher.add(3, false);
    expect(sent).toEqual([[1, 2, 3]]);
    batcher.add(4, false);
    vi.advanceTimersByTime(QUIET_MS);
    expect(sent).toEqual([[1, 2, 3], [4]]);
  });

  it('as the page hides (atTaskEnd), sends at the end of the task, without a timer', async () => {
    const { sent, batcher } = recording();
    batcher.add(1, true);
    batcher.add(2, true);
    expect(sent).toEqual([]);
    await Promise.resolve();
    expect(sent).toEqual([[1, 2]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('flush() sends what waits now, and nothing when nothing waits', () => {
    const { sent, batcher } = recording();
    batcher.flush();
    expect(sent).toEqual([]);
    batcher.add(1, false);
    batcher.flush();
    expect(sent).toEqual([[1]]);
    // The timer the first item armed finds nothing left to send.
    vi.advanceTimersByTime(MAX_WAIT_MS);
    expect(sent).toEqual([[1]]);
  });
});
