// The protocol's answers: one message in (protocol.ts), one reply out.
// - A message that is not ours (Workbox's SKIP_WAITING, an app's own) is left alone; one
//   of another protocol version is refused (`protocol-mismatch`: reload the page).
// - Every failure becomes an error reply `{code, message}` (never an Error object across
//   postMessage); the reply goes on the message's port, else to its source as a
//   ReplyEnvelope for its `rid`, and a page that is gone leaves the work done regardless.
// - Any message is a wake-up: after the reply, a flusher pass.
import { OutboxError } from '../errors.js';
import { MESSAGE_PREFIX, PROTOCOL_VERSION, type WorkerReply } from '../protocol.js';
import type { EngineContext } from './context.js';
import { deadLetters, discardDeadLetters, retryDeadLetters } from './dead-letters.js';
import { asOutboxError, enqueue } from './enqueue.js';

/** Answers one protocol message (already known to be ours). Throws an OutboxError. */
export async function handle(ctx: EngineContext, data: Record<string, unknown>): Promise<WorkerReply> {
  const v = PROTOCOL_VERSION;
  if (data.v !== PROTOCOL_VERSION) {
    throw new OutboxError(
      'protocol-mismatch',
      `message speaks protocol version ${String(data.v)}, this worker speaks ${PROTOCOL_VERSION}; reload the page`,
    );
  }
  switch (data.type) {
    case 'sw-outbox/enqueue': {
      const results = await enqueue(ctx, data.events, data.rewrite, data.base, data.maxBodyBytes);
      // The compact reply, for pages that ask for it: the refused events only.
      if (data.failedOnly === true) {
        const failed = results.flatMap((r, i) => (r.ok ? [] : [{ i, code: r.code, message: r.message }]));
        return { type: 'sw-outbox/enqueued', v, failed };
      }
      return { type: 'sw-outbox/enqueued', v, results };
    }
    case 'sw-outbox/flush':
      await ctx.reconnected(['offline', 'network']);
      await ctx.flusher.kick();
      return { type: 'sw-outbox/done', v };
    case 'sw-outbox/online':
      await ctx.reconnected(['offline', 'network']);
      return { type: 'sw-outbox/done', v };
    case 'sw-outbox/wake':
    case 'sw-outbox/stats':
      return { type: 'sw-outbox/stats', v, stats: await ctx.stats() };
    case 'sw-outbox/clear':
      await ctx.store.clear();
      ctx.statsChanged();
      return { type: 'sw-outbox/done', v };
    case 'sw-outbox/dead-letters':
      return { type: 'sw-outbox/result', v, result: await deadLetters(ctx, data.arg) };
    // (answer() kicks the flusher after every message: the requeued letters go at once.)
    case 'sw-outbox/retry-dead-letters':
      return { type: 'sw-outbox/result', v, result: await retryDeadLetters(ctx, data.arg) };
    case 'sw-outbox/discard-dead-letters':
      return { type: 'sw-outbox/result', v, result: await discardDeadLetters(ctx, data.arg) };
    default:
      throw new OutboxError('invalid-message', `unknown message type ${JSON.stringify(String(data.type)).slice(0, 80)}`);
  }
}

/**
 * Answers a message event's data if it is ours (then resolves after the reply and a
 * flusher pass); undefined if it is not ours.
 */
export function answer(
  ctx: EngineContext,
  data: unknown,
  port: MessagePort | undefined,
  source?: { postMessage(message: unknown): void } | null,
): Promise<void> | undefined {
  // Not ours (Workbox's SKIP_WAITING, an app's own messages): leave it alone.
  const type = (data as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !type.startsWith(MESSAGE_PREFIX)) return undefined;
  const reply = replier(data, port, source);
  return handle(ctx, data as Record<string, unknown>)
    .then(reply, (error: unknown) => {
      const err = asOutboxError(error, 'storage-error');
      reply({ type: 'sw-outbox/error', v: PROTOCOL_VERSION, code: err.code, message: err.message });
    })
    .then(() => ctx.flusher.kick())
    .catch(() => {});
}

/**
 * How to answer a message: on its port if it came with one, else to `source` (the page)
 * as a ReplyEnvelope for the message's request id. Never throws: a page that is gone
 * leaves the work done regardless.
 */
export function replier(
  data: unknown,
  port: MessagePort | undefined,
  source?: { postMessage(message: unknown): void } | null,
): (reply: WorkerReply) => void {
  const rid = (data as { rid?: unknown } | null)?.rid;
  return (reply) => {
    try {
      if (port) port.postMessage(reply);
      else if (typeof rid === 'number') source?.postMessage({ type: 'sw-outbox/reply', rid, reply });
    } catch {
      // The page is gone.
    }
  };
}
