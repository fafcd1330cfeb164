// The flusher's tests' harness: a flusher on a store of its own (fake-indexeddb), an
// injected wall clock and random source (0.5), a scripted sender (by event id, else by
// origin, else a fallback answer) that records what each request carried, and the events
// emitted. `useFlusherTimers()` fakes only the flusher's timers (fake-indexeddb schedules
// with setImmediate) and stops every flusher after each test.
import { afterEach, beforeEach, vi } from 'vitest';
import type { DeadLetterDetail, DeliveredDetail, DroppedDetail, RetryDetail } from '../protocol.js';
import { type EnqueueLimits, type NewRecord, type QueuedRecord, type Store, openStore } from '../store/store.js';
import type { DestinationHold } from '../destination.js';
import type { Dest, FlusherOptions } from './context.js';
import { type BlockReason, type Flusher, createContext, createFlusher } from './flusher.js';
import type { SendResult } from './policy.js';
import { type Sendable, wholeBody } from './send.js';

export const T0 = 1_700_000_000_000;
export const URL_ = 'https://collector.example/v1/events';
export const ROOMY: EnqueueLimits = { maxQueueSize: 100_000, overflow: 'drop-oldest' };
export const OK: SendResult = { kind: 'response', status: 200, retryAfter: null };
export const status = (s: number, retryAfter: string | null = null): SendResult => ({ kind: 'response', status: s, retryAfter });

export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A few IndexedDB round trips: lets background work of the flusher (arming its timer) finish. */
export async function idle(store: Store) {
  for (let i = 0; i < 3; i++) await store.counters();
}

const cleanups: (() => void)[] = [];

/** Runs `stop` after the test (with useFlusherTimers): a flusher and store set up by hand. */
export function cleanUp(stop: () => void): void {
  cleanups.push(stop);
}

/** Fakes setTimeout/clearTimeout for each test of the file; stops the flushers and stores set up. */
export function useFlusherTimers(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
    vi.clearAllTimers();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
}

type Answer = SendResult | (() => SendResult | Promise<SendResult>);

export interface SetupOptions {
  refuse?: (record: QueuedRecord) => string | undefined;
  /** @default 1 */
  concurrency?: number;
  /** @default 50 */
  pageSize?: number;
  maxAgeMs?: number;
  maxDeadLetters?: number;
  batch?: { maxVisitors: number; maxBytes: number };
  /** The store's name: another flusher on the same store (a restarted worker). */
  name?: string;
  /** The wall clock, shared with another setup. */
  clock?: { now: number };
}

let dbCounter = 0;

export function setup(options: SetupOptions = {}) {
  const clock = options.clock ?? { now: T0 };
  const net = { offline: false };
  const name = options.name ?? `flusher-test-${++dbCounter}-${Math.random().toString(36).slice(2)}`;
  const store: Store = openStore({
    name,
    now: () => clock.now,
    ...(options.maxDeadLetters !== undefined ? { maxDeadLetters: options.maxDeadLetters } : {}),
  });
  /** What each request carried, its body whole. */
  const sent: (Sendable & { body: string })[] = [];
  /** Scripted answers: by id, else by origin, else the fallback. */
  const script = new Map<string, Answer>();
  const byOrigin = new Map<string, Answer>();
  let fallback: SendResult = OK;
  const send = vi.fn(async (event: Sendable): Promise<SendResult> => {
    sent.push({ id: event.id, url: event.url, body: wholeBody(event) });
    const answer = script.get(event.id) ?? byOrigin.get(new URL(event.url).origin);
    if (typeof answer === 'function') return answer();
    return answer ?? fallback;
  });
  const held: BlockReason[] = [];
  const events = {
    delivered: [] as DeliveredDetail[],
    retry: [] as RetryDetail[],
    deadLetter: [] as DeadLetterDetail[],
    dropped: [] as DroppedDetail[],
    changed: 0,
  };
  const readDue = vi.spyOn(store, 'readDue');
  const flusher: Flusher = createFlusher({
    store,
    send,
    backoff: { baseMs: 1000, maxMs: 60_000 },
    maxAgeMs: options.maxAgeMs ?? 7 * 24 * 3600_000,
    concurrency: options.concurrency ?? 1,
    pageSize: options.pageSize ?? 50,
    now: () => clock.now,
    random: () => 0.5,
    isOffline: () => net.offline,
    ...(options.refuse ? { refuse: options.refuse } : {}),
    ...(options.batch ? { batch: options.batch } : {}),
    onHeld: (reason) => held.push(reason),
    emit: {
      delivered: (d) => events.delivered.push(d),
      retry: (d) => events.retry.push(d),
      deadLetter: (d) => events.deadLetter.push(d),
      dropped: (d) => events.dropped.push(d),
      changed: () => events.changed++,
    },
  });
  cleanups.push(() => {
    flusher.stop();
    store.close();
  });

  /** Events `ids` for `url`, bodies `{"id": …}`. */
  const enqueueTo = async (url: string, ...ids: string[]) => {
    const records: NewRecord[] = ids.map((id) => ({ id, url, body: JSON.stringify({ id }) }));
    await store.enqueue(records, ROOMY);
  };
  /** Holds the request of event `id` open: `started` once it is sent, `gate.resolve(answer)` answers it. */
  const holdSend = (id: string) => {
    const started = deferred();
    const gate = deferred<SendResult>();
    script.set(id, () => {
      started.resolve();
      return gate.promise;
    });
    return { started, gate };
  };
  const queued = async (): Promise<QueuedRecord[]> => store.readDue(Number.MAX_SAFE_INTEGER, 100_000);
  return {
    clock,
    net,
    name,
    store,
    flusher,
    send,
    sent,
    sentIds: () => sent.map((e) => e.id),
    /** Ids sent to a destination (an origin, or a URL prefix). */
    sentTo: (prefix: string) => sent.filter((e) => e.url.startsWith(prefix)).map((e) => e.id),
    script,
    byOrigin,
    setFallback: (r: SendResult) => {
      fallback = r;
    },
    held,
    events,
    readDue,
    enqueue: (...ids: string[]) => enqueueTo(URL_, ...ids),
    enqueueTo,
    holdSend,
    queued,
    queuedById: async (id: string) => (await queued()).find((r) => r.id === id),
  };
}

export type Setup = ReturnType<typeof setup>;

/** A stored record as the store reads it (seq `seq`, due at T0, never tried). */
export const queuedRecord = (seq: number, id: string, extra: Partial<QueuedRecord> = {}): QueuedRecord => ({
  seq,
  id,
  url: URL_,
  body: JSON.stringify({ id }),
  createdAt: T0,
  nextAttemptAt: T0,
  attempts: 0,
  tries: 0,
  ...extra,
});

/**
 * A flusher's context alone, for the pieces' own tests: no flusher loop runs. Its store
 * records the holds saved and has nothing scheduled; backoff {baseMs 1000, maxMs 60 s},
 * random 0.5, concurrency 4, pageSize 50.
 */
export function bareContext(options: Partial<FlusherOptions> = {}) {
  const clock = { now: T0 };
  const saved: Record<string, DestinationHold>[] = [];
  const held: BlockReason[] = [];
  const store = {
    saveDestinationHolds: vi.fn(async (holds: Record<string, DestinationHold>) => {
      saved.push(holds);
    }),
    nextAttemptAt: vi.fn(async () => undefined),
  } as Partial<Store> as Store;
  const ctx = createContext({
    store,
    send: vi.fn(async () => OK),
    backoff: { baseMs: 1000, maxMs: 60_000 },
    maxAgeMs: 7 * 24 * 3600_000,
    concurrency: 4,
    pageSize: 50,
    now: () => clock.now,
    random: () => 0.5,
    isOffline: () => false,
    onHeld: (reason) => held.push(reason),
    emit: { delivered: () => {}, retry: () => {}, deadLetter: () => {}, dropped: () => {}, changed: () => {} },
    ...options,
  });
  /** A unit of one record in `d`'s feed, read (in hand). */
  const feed = (d: Dest, ...records: QueuedRecord[]) => {
    for (const rec of records) {
      ctx.unsettled.add(rec.seq);
      d.feed.push({ records: [rec], url: rec.url, body: rec.body });
    }
  };
  return { ctx, clock, saved, held, feed };
}
