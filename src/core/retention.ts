/**
 * Decides how long what is finished stays visible: a completed message's status (for
 * `status(id)`) is kept for `completedRetentionMs` and at most `completedRetentionCount` per
 * queue, oldest forgotten first; an idempotency key is remembered for `idempotencyWindowMs`.
 */
export interface CompletedRetention {
  completedRetentionMs: number;
  completedRetentionCount: number;
}

/** Whether a completed message keeps a status entry at all. */
export function keepsCompletedStatus(options: CompletedRetention): boolean {
  return options.completedRetentionMs > 0 && options.completedRetentionCount > 0;
}

/** Whether the status of a message completed at `completedAt` is still answered at `now`. */
export function completedStatusVisible(completedAt: number, now: number, options: CompletedRetention): boolean {
  return completedAt + options.completedRetentionMs > now;
}

/** Whether the oldest kept completed status must go: it aged out, or more than the count are kept. */
export function forgetsOldestCompleted(oldestCompletedAt: number, kept: number, now: number, options: CompletedRetention): boolean {
  return !completedStatusVisible(oldestCompletedAt, now, options) || kept > options.completedRetentionCount;
}

/** Until when an idempotency key seen at `now` answers with the original id. */
export function idempotencyExpiresAt(now: number, windowMs: number): number {
  return now + windowMs;
}

/** Whether a remembered idempotency key still holds at `now`. */
export function idempotencyKeyHolds(expiresAt: number, now: number): boolean {
  return expiresAt > now;
}
