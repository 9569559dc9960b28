/**
 * The message model shared by every layer. States and their legal moves:
 *
 *   delayed ──due──▶ ready ──lease──▶ leased ──ack──▶ completed (status kept for a retention)
 *      ▲               ▲                 │
 *      └──retry(delay)─┴──retry(now) / lease expired
 *                                        └──▶ dead (max_attempts | permanent_error | rejected)
 *   delayed / ready ──ttl──▶ dead(expired);  ready ──maxLength drop-oldest──▶ dead(overflow)
 *   dead ──replay──▶ ready (attempts reset)
 */
import type { MessageLogEntry } from "./story.js";

export type MessageState = "delayed" | "ready" | "leased" | "completed" | "dead";

export type DeadReason = "max_attempts" | "permanent_error" | "expired" | "rejected" | "overflow";

/** How a failed delivery is classified (see core/retry-policy.ts). */
export type FailureKind = "permanent" | "transient" | "error";

export interface FailureInfo {
  message: string;
  kind: FailureKind;
}

/** A message as a store holds it: the body stays encoded JSON text until a handler needs it. */
export interface StoredMessage {
  id: string;
  queue: string;
  /** The body as JSON text. */
  body: string;
  headers: Record<string, string> | undefined;
  priority: number;
  groupKey: string | undefined;
  publishedAt: number;
  availableAt: number;
  expiresAt: number | undefined;
  /** Deliveries so far, this one included when leased. */
  attempt: number;
  maxAttempts: number;
  correlationId: string | undefined;
  causationId: string | undefined;
}

export interface LeasedStoredMessage extends StoredMessage {
  leaseToken: string;
  leaseUntil: number;
}

/** What `status(id)` answers: where a message is in its life, and why. */
export interface MessageStatus {
  id: string;
  queue: string;
  state: MessageState;
  attempt: number;
  maxAttempts: number;
  priority: number;
  groupKey: string | undefined;
  publishedAt: number;
  availableAt: number;
  expiresAt: number | undefined;
  leaseUntil: number | undefined;
  completedAt: number | undefined;
  deadAt: number | undefined;
  deadReason: DeadReason | undefined;
  lastError: FailureInfo | undefined;
  correlationId: string | undefined;
  causationId: string | undefined;
  /** The last value a handler reported (`ctx.progress`) while the message ran; absent if none. */
  progress?: unknown;
  /** A completed message's handler result (its return value, or the ack's `result`); absent if none. */
  result?: unknown;
  /** The message's log (`ctx.log`), oldest first, at most `STORY_LIMITS.maxLogLines`; absent if empty. */
  log?: MessageLogEntry[];
}

/** Which messages of a queue `browse` lists: waiting (ready, delayed), running (leased), or recently completed. */
export type BrowseState = "ready" | "delayed" | "leased" | "completed";

/** One message as `browse` lists it: its status and, while the store keeps them, its body (JSON text) and headers. */
export interface BrowsedMessage extends MessageStatus {
  /** Absent once completed: a store keeps no body after the ack. */
  body: string | undefined;
  headers: Record<string, string> | undefined;
}

/** A message's body (JSON text) and headers while the store keeps them: waiting, leased or dead. */
export interface MessageContent {
  id: string;
  queue: string;
  body: string;
  headers: Record<string, string> | undefined;
}

export interface DeadLetter extends StoredMessage {
  reason: DeadReason;
  deadAt: number;
  lastError: FailureInfo | undefined;
}

export interface QueueCounts {
  /** Leasable now, plus messages waiting their turn behind an earlier one of their ordering group. */
  ready: number;
  delayed: number;
  leased: number;
  dead: number;
}

export interface QueueTotals {
  published: number;
  completed: number;
  retried: number;
  dead: number;
}

export interface QueueStats extends QueueCounts {
  name: string;
  paused: boolean;
  totals: QueueTotals;
  /** Age of the oldest leasable message, in ms; 0 when none is ready. */
  oldestReadyAgeMs: number;
  /**
   * Leasable messages by priority, index = priority (0–9): `ready` without those waiting behind
   * their ordering group's active message.
   */
  readyByPriority: number[];
}
