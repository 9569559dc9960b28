/**
 * Dead-letter routing (RabbitMQ's dead-letter exchanges): a queue with a `deadLetter` target
 * also publishes a copy of each message that goes dead there, in the same store write as the
 * death. Pure rules shared by every store; the PostgreSQL store mirrors them in SQL
 * (`dead_letter_copy`), and the conformance suite holds both to them.
 *
 * The copy carries the original's body, priority, headers and correlationId, gets a new id,
 * causationId = the dead message's id, the target queue's own maxAttempts and TTL, and these
 * headers (RabbitMQ's `x-death` is the model):
 *
 *   x-death-reason    why it died: max_attempts | permanent_error | expired | rejected | overflow
 *   x-death-attempts  deliveries it had had (a decimal integer)
 *   x-death-last-error the last failure's message (absent when it died without one: expired, overflow)
 *   x-death-queue     the queue it died in
 *   x-death-id        the id of the message that died (it stays in that queue's dead letters)
 *   x-death-path      every queue the lineage died in, oldest first, comma-separated
 *
 * Loops: a message is never dead-lettered out of a queue it was already dead-lettered out of
 * (that queue is in its `x-death-path`): it stays in the queue's dead letters only. So a
 * dead-letter queue whose own target points back ends the cycle after one round, as RabbitMQ
 * drops a message that would cycle.
 */
import type { DeadReason, FailureInfo } from "./message.js";

export type DeadLetterTarget = { queue: string } | { exchange: string; routingKey?: string };

/** The longest x-death-last-error header kept (a header value's limit is 8192 characters). */
const MAX_ERROR_CHARS = 1000;

export interface Death {
  /** The message's id, and the queue it died in. */
  id: string;
  queue: string;
  reason: DeadReason;
  attempts: number;
  lastError: FailureInfo | undefined;
}

/** Whether a message dying in `queue` with `headers` is dead-lettered (the loop rule above). */
export function mayDeadLetter(headers: Record<string, string> | undefined, queue: string): boolean {
  const path = headers?.["x-death-path"];
  return path === undefined || !path.split(",").includes(queue);
}

/** The headers of the dead-letter copy of a message with `headers` that died as `death` says. */
export function deadLetterHeaders(headers: Record<string, string> | undefined, death: Death): Record<string, string> {
  const out: Record<string, string> = { ...headers };
  out["x-death-reason"] = death.reason;
  out["x-death-attempts"] = String(death.attempts);
  if (death.lastError !== undefined) out["x-death-last-error"] = death.lastError.message.slice(0, MAX_ERROR_CHARS);
  else delete out["x-death-last-error"];
  out["x-death-queue"] = death.queue;
  out["x-death-id"] = death.id;
  const path = headers?.["x-death-path"];
  out["x-death-path"] = path === undefined || path === "" ? death.queue : `${path},${death.queue}`;
  return out;
}

/** The routing key a copy is published to an exchange target with: the target's, else the queue it died in. */
export function deadLetterRoutingKey(target: { routingKey?: string }, queue: string): string {
  return target.routingKey ?? queue;
}
