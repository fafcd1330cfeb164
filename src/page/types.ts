// The page's public types: the event an SDK hands over, the response it gets, and the
// Dispatcher createDispatcher returns (dispatcher.ts builds it). Types only: no code.
import type { DeadLetterPage, DeadLettersQuery, DiscardResult, OutboxEventName, OutboxEvents, RequeueResult, Stats } from '../protocol.js';

/** The Optimizely SDK's event shape: `{url, httpVerb, params}`. */
export interface OutboxEvent {
  url: string;
  httpVerb?: 'POST' | string;
  params: unknown;
}

export interface DispatchResponse {
  statusCode: number;
}

export interface Dispatcher {
  /**
   * Stores the event durably and resolves `{statusCode: 202}` once it is committed.
   * Serves Optimizely SDK v6 (promise) and v3–v5 (callback) alike. Bad input rejects
   * with an OutboxError, and the callback gets a 4xx status.
   */
  dispatchEvent(event: OutboxEvent, callback?: (response: DispatchResponse) => void): Promise<DispatchResponse>;
  /** The same for any JSON beacon: POST `JSON.stringify(body)` to `url`. */
  send(url: string, body: unknown): Promise<DispatchResponse>;
  /** Asks for delivery now; resolves when that attempt is over. */
  flush(): Promise<void>;
  /** Counts, where events are kept (`mode`, `degraded`), and the origin's storage (`persisted`, `storage`). */
  stats(): Promise<Stats>;
  /**
   * Asks the browser to keep this origin's storage until the user deletes it
   * (`navigator.storage.persist()`, which only a page may call). Resolves `true` when it
   * is persistent now, `false` when the browser refused or has no Storage API.
   */
  persistStorage(): Promise<boolean>;
  on<K extends OutboxEventName>(name: K, handler: (detail: OutboxEvents[K]) => void): () => void;
  /** Empties the queue and the dead-letter store (for sign-out). */
  clear(): Promise<void>;
  /** One page of dead letters, newest first; pass its `next` as `before` for the following page. */
  deadLetters(query?: DeadLettersQuery): Promise<DeadLetterPage>;
  /** Puts these dead letters (all when omitted) back in the queue, due now, with the same ids. */
  retryDeadLetters(ids?: string[]): Promise<RequeueResult>;
  /** Deletes these dead letters (all when omitted) for good. */
  discardDeadLetters(ids?: string[]): Promise<DiscardResult>;
  /** Later calls reject with `closed`. Resolves when pending events are acknowledged; then stops listening. */
  close(): Promise<void>;
}
