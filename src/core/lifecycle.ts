/**
 * Decides what happens to a message at each step of its life: where a publish puts it, what a
 * publish with a dedup or idempotency key does, what an expired lease, a release and a replay do
 * to it, when its TTL has run out, and when its group's turn passes on. Pure functions: the
 * in-memory engine applies them to its structures, and a store that keeps messages elsewhere (a
 * database) applies or mirrors the same rules. The legal moves are drawn in message.ts.
 */
import type { DeadReason } from "./message.js";

/** What a publish does, given what its keys already point at in the queue. */
export type PublishDecision = "duplicate" | "replace" | "new";

export interface PublishKeys {
  /** The id an `idempotencyKey` remembered within its window, if any. */
  duplicateOf: string | undefined;
  /** Where the message holding the `dedupKey` is: waiting (ready or delayed), leased, or none. */
  dedupHolder: "waiting" | "leased" | "none";
}

/**
 * Idempotency wins (drop: nothing changes, the original id answers); then a dedup key held by a
 * waiting message replaces it in place; a leased holder (or none) means a new message.
 */
export function decidePublish(keys: PublishKeys): PublishDecision {
  if (keys.duplicateOf !== undefined) return "duplicate";
  return keys.dedupHolder === "waiting" ? "replace" : "new";
}

/**
 * When a new message becomes available: `delayMs` after the store's own now (measured where the
 * message is stamped, so a slow call cannot shorten it), else an absolute time in the future, else now.
 */
export function availableAtFor(availableAt: number | undefined, delayMs: number | undefined, now: number): number {
  if (delayMs !== undefined) return now + delayMs;
  return availableAt !== undefined && availableAt > now ? availableAt : now;
}

/** When a message's TTL runs out (undefined: never). The message's own TTL wins over the queue's. */
export function expiresAtFor(ttlMs: number | undefined, queueTtlMs: number | undefined, now: number): number | undefined {
  const ttl = ttlMs ?? queueTtlMs;
  return ttl === undefined ? undefined : now + ttl;
}

/** A waiting message whose TTL has run out goes dead (`expired`); a leased one finishes its lease first. */
export function isExpired(expiresAt: number | undefined, now: number): boolean {
  return expiresAt !== undefined && expiresAt <= now;
}

export type LeaseExpiryDecision = { action: "retry" } | { action: "dead"; reason: DeadReason };

/** An expired lease counts as a failed attempt: ready again at once, or dead once attempts are used up. */
export function decideLeaseExpiry(attempt: number, maxAttempts: number): LeaseExpiryDecision {
  return attempt >= maxAttempts ? { action: "dead", reason: "max_attempts" } : { action: "retry" };
}

/** A lease given back unhandled (`nack` with `release`): the attempt is not counted; due now or after `delayMs`. */
export function decideRelease(attempt: number, delayMs: number | undefined, now: number): { attempt: number; availableAt: number } {
  return { attempt: Math.max(0, attempt - 1), availableAt: now + (delayMs ?? 0) };
}

/** A dead letter replayed: attempts start over, ready now, with a fresh TTL from its own `ttlMs`. */
export function replayed(ttlMs: number | undefined, now: number): { attempt: 0; availableAt: number; expiresAt: number | undefined } {
  return { attempt: 0, availableAt: now, expiresAt: ttlMs === undefined ? undefined : now + ttlMs };
}

/**
 * What ends a group's turn: the active message completed or went dead. A retry (delayed or not)
 * and a release keep the turn, so the group's order holds through failures.
 */
export function passesGroupTurn(outcome: "completed" | "dead" | "retried" | "released"): boolean {
  return outcome === "completed" || outcome === "dead";
}
