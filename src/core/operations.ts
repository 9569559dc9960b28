/**
 * The vocabulary of queue operations, shared by every layer: what a publish, a lease, an ack and
 * a nack carry and answer, as the library hands them to a store and a store answers them. Types
 * only; the store interface that takes them is store/store.ts.
 */
import type { DeadLetter, FailureInfo, FailureKind } from "./message.js";

export interface PublishInput {
  queue: string;
  /** JSON text; the caller has checked its size. */
  body: string;
  headers?: Record<string, string>;
  priority: number;
  /** Absolute ready time in ms since the epoch; `undefined` = now. */
  availableAt?: number;
  /**
   * Ready this long after the publish, on the store's clock: the store resolves it against the
   * same "now" it stamps as publishedAt, so `availableAt = publishedAt + delayMs` exactly, however
   * long the call took to reach the store. Given instead of `availableAt`, never with it.
   */
  delayMs?: number;
  /** Overrides the queue's ttlMs. */
  ttlMs?: number;
  /** Overrides the queue's maxAttempts. */
  maxAttempts?: number;
  dedupKey?: string;
  idempotencyKey?: string;
  groupKey?: string;
  correlationId?: string;
  causationId?: string;
}

export interface PublishOutcome {
  id: string;
  queue: string;
  /** A waiting message with the same dedupKey was replaced in place (same id). */
  replaced: boolean;
  /** The idempotencyKey was seen within the window: nothing was enqueued; `id` is the original. */
  duplicate: boolean;
}

export interface LeaseRequest {
  /** Most messages to hand out; fewer (or none) may come back. */
  max: number;
  /** Lease length; the queue's leaseMs if unset. */
  leaseMs?: number;
}

export interface AckItem {
  id: string;
  leaseToken: string;
  /** The handler's result as JSON text (at most `STORY_LIMITS.maxResultBytes`), kept with the completed status. */
  result?: string;
}

/** An ack as the library takes it: `result` is any JSON value (encoded and bounded at the boundary). */
export interface AckRequest {
  id: string;
  leaseToken: string;
  /** The handler's result, kept with the completed status (JSON, at most `STORY_LIMITS.maxResultBytes`). */
  result?: unknown;
}

/** What the library takes for `Spool.report`: the values before encoding. */
export interface ReportOptions {
  /** The new progress: a number or a small JSON value (at most `STORY_LIMITS.maxProgressBytes` as JSON). */
  progress?: unknown;
  /** One line or several to add to the message's log. */
  log?: string | string[];
}

/** What a running handler reports about its message (`ctx.progress`, `ctx.log`). */
export interface ProgressReport {
  /** The new progress, as JSON text (at most `STORY_LIMITS.maxProgressBytes`); absent: unchanged. */
  progress?: string;
  /** Lines to add to the message's log (each cut at `STORY_LIMITS.maxLogLineChars`). */
  log?: string[];
}

export interface AckOutcome {
  id: string;
  ok: boolean;
  /** Why an ack failed: `lease_lost` (stale token, or no such message). */
  code?: "lease_lost";
}

export interface NackRequest {
  error?: FailureInfo;
  /** Retry after exactly this long instead of the backoff (a `Retry-After`). */
  delayMs?: number;
  /**
   * Give the message back unhandled (a consumer shutting down): ready again at once, and this
   * delivery does not count as an attempt, so a shutdown never dead-letters a message.
   */
  release?: boolean;
  /** Reject the message: dead at once with reason `rejected`, whatever attempts remain. */
  reject?: boolean;
}

export interface NackOutcome {
  state: "ready" | "delayed" | "dead";
  availableAt: number;
  deadReason?: DeadLetter["reason"];
}


export interface DeadLetterPage {
  items: DeadLetter[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

export type ReplaySelection = { ids: string[] } | { all: true };

export interface NackOptions {
  /** What went wrong: an Error (classified like a handler's throw), a message, or an explicit kind. */
  error?: Error | string | { message: string; kind?: FailureKind };
  /** Retry after exactly this long, overriding the backoff (e.g. from a Retry-After). */
  delayMs?: number;
  /** Give the message back unhandled: ready at once, and the delivery does not count as an attempt. */
  release?: boolean;
  /** Reject it: dead at once with reason `rejected` (and dead-lettered where the queue says). Not with `release`. */
  reject?: boolean;
}
