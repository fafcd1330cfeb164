export type MixChoice = 'ok' | 's500' | 's502' | 's503' | 'r429' | 'r503date' | 'hang' | 'reset' | 'resetHeaders' | 'slow' | 'refuse';
export type MixWeights = Partial<Record<MixChoice, number>>;
export type Mode =
  | { kind: 'up' }
  | { kind: 'down' }
  | { kind: 'hang' }
  /** Per request: a TCP reset as soon as the request arrives, no response. */
  | { kind: 'refuse' }
  /**
   * Mid-response reset. `after: 'status-line'` (default): a partial head, then a TCP RST
   * (the client sees a network error). `after: 'headers'`: the full head with `status`
   * (default 200) and part of the body, then a TCP RST (the client has the status).
   */
  | { kind: 'reset'; after?: 'status-line' | 'headers'; status?: number }
  | { kind: 'slow'; ms: number }
  | { kind: 'status'; status: number; retryAfter?: string }
  /** A seeded random choice per request; the same seed gives the same sequence. `slowMs`: [min, max] of 'slow'. */
  | { kind: 'mix'; seed: number; weights?: MixWeights; slowMs?: [number, number] };
export interface Reply {
  status?: number;
  retryAfter?: string;
  /** Send `Retry-After` as an HTTP date this many ms after the answer. */
  retryAfterDateInMs?: number;
  delayMs?: number;
  hang?: boolean;
  /** true: partial head then reset; 'headers': full head (`status`) and part of the body, then reset. */
  reset?: boolean | 'headers';
  /** Reset the socket as soon as the request arrives. */
  refuse?: boolean;
  /** A label logged with the request. */
  fault?: string;
}
export interface LoggedRequest {
  at: number;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** A number when a status line was sent in full (even if the body was then cut). */
  status: number | 'hang' | 'reset' | 'refused';
  cookie: string | undefined;
  /** Which fault produced this answer (a mix choice, or 'hang' | 'reset' | 'resetHeaders' | 'slow' | 'refuse'). */
  fault?: string;
  /** When the response was finished (handed to the OS in full). */
  answeredAt?: number;
  /** The connection closed before the response was finished: the client cannot know the outcome. */
  aborted?: boolean;
}
/** What a scenario received: POSTs answered 2xx and the events (uuids) they carried. */
export interface ScenarioCounts {
  requests: number;
  preflights: number;
  /** Events received, duplicates included. */
  events: number;
  /** Distinct event uuids. */
  unique: number;
  duplicates: number;
  /** 2xx POSTs whose body was not JSON. */
  badBodies: number;
  /** performance.now() of the first and latest counted POST. */
  firstAt: number | undefined;
  lastAt: number | undefined;
}
export interface Collector {
  port: number;
  origin: string;
  /** The collecting endpoint (`${origin}/v1/events`), outside any scenario. */
  url: string;
  /** The URL events of scenario `id` are sent to; mode 'hang': never answered. */
  scenarioUrl(id: string, mode?: 'ok' | 'hang'): string;
  counts(id: string): ScenarioCounts;
  /** Holds scenario `id`'s POSTs unread (not counted) until `release(id)`. */
  hold(id: string): void;
  holding(id: string): number;
  /** Reads and answers the held POSTs and every later one; returns performance.now(). */
  release(id: string): number;
  /** Resolves with performance.now() once scenario `id` has `count` distinct events; rejects after `timeoutMs`. */
  waitFor(id: string, count: number, timeoutMs: number): Promise<number>;
  /** Every POST received, in order (empty with `log: false`). */
  log: LoggedRequest[];
  setMode(mode: Mode): Promise<void>;
  script(replies: Reply[]): void;
  delivered(): string[];
  /** POSTs received whose response is neither finished nor abandoned, now. */
  pending(): number;
  reset(): Promise<void>;
  close(): Promise<void>;
}
export const MIX_DEFAULT_WEIGHTS: Readonly<Record<MixChoice, number>>;
/** A small deterministic PRNG: uniform numbers in [0, 1); the same seed gives the same sequence. */
export function mulberry32(seed: number): () => number;
/** The mix as a pure sequence: the n-th call gives the n-th request's reply. */
export function mixSequence(seed: number, weights?: MixWeights, slowMs?: [number, number]): () => Reply & { fault: MixChoice };
/**
 * `log: false`: no request log at all (counts only; the benchmark's 100,000 events).
 * `keepAliveMs`: how long an idle connection stays open (Node's default unless given).
 */
export function startCollector(options?: { host?: string; port?: number; log?: boolean; keepAliveMs?: number }): Promise<Collector>;
