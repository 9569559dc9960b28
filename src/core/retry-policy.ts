import { nextAttemptDelay, type BackoffPolicy } from "./backoff.js";
import { TransientError } from "./errors.js";
import type { DeadReason, FailureKind } from "./message.js";

/** How a handler's error is classified. Pure: a store applies the decision, never re-derives it. */
export function classifyError(error: unknown): FailureKind {
  if (error !== null && typeof error === "object") {
    const retryable = (error as { retryable?: unknown }).retryable;
    if (retryable === false) return "permanent";
    if (error instanceof TransientError) return "transient";
  }
  return "error";
}

export type FailureDecision =
  | { action: "retry"; delayMs: number }
  | { action: "dead"; reason: DeadReason };

export interface FailureInput {
  /** Deliveries so far, including the one that just failed. */
  attempt: number;
  maxAttempts: number;
  kind: FailureKind;
  /** An explicit delay from the nack (a `Retry-After`): overrides the backoff. */
  delayMs?: number;
  backoff: BackoffPolicy;
  /** An explicit reject (`nack` with `reject`): dead at once, reason `rejected`. */
  reject?: boolean;
}

/** What happens to a message after a failed delivery. */
export function decideFailure(input: FailureInput, random: () => number = Math.random): FailureDecision {
  if (input.reject === true) return { action: "dead", reason: "rejected" };
  if (input.kind === "permanent") return { action: "dead", reason: "permanent_error" };
  if (input.attempt >= input.maxAttempts) return { action: "dead", reason: "max_attempts" };
  if (input.delayMs !== undefined) return { action: "retry", delayMs: input.delayMs };
  if (input.kind === "transient") return { action: "retry", delayMs: 0 };
  return { action: "retry", delayMs: nextAttemptDelay(input.attempt, input.backoff, random) };
}
