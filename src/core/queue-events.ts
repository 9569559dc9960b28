/**
 * Queue events: what happened to a message, as it happens (docs/events.md). A store reports
 * every change of a message's state it makes or, where processes share it, that another process
 * makes; `Spool.on` and `GET /v1/events` pass them on. Events are live notifications, not a
 * durable log: a listener that was not listening does not get them later (`status(id)` tells
 * where a message is now). Per message they arrive in the order the changes were made.
 */
import type { DeadReason, FailureInfo } from "./message.js";

interface EventBase {
  queue: string;
  id: string;
  /** When the change was made, in the store's clock (ms since the epoch). */
  at: number;
}

/** Published (also a dead-letter copy and a schedule's fire); `availableAt` later than `at` = delayed. */
export interface PublishedEvent extends EventBase {
  type: "published";
  availableAt: number;
}
/** Leased by a worker: attempt `attempt` has begun. */
export interface ActiveEvent extends EventBase {
  type: "active";
  attempt: number;
  leaseUntil: number;
}
/** A running handler reported progress (`ctx.progress`): the value, decoded. */
export interface ProgressEvent extends EventBase {
  type: "progress";
  progress: unknown;
}
export interface CompletedEvent extends EventBase {
  type: "completed";
  attempt: number;
}
/** An attempt failed: the handler threw or timed out, it was nacked, or its lease expired. A `retry` or `dead` follows. */
export interface FailedEvent extends EventBase {
  type: "failed";
  attempt: number;
  error: FailureInfo;
}
/** Waiting again after a failed attempt, until `availableAt`. */
export interface RetryEvent extends EventBase {
  type: "retry";
  attempt: number;
  availableAt: number;
}
/** Handed back unfailed (`nack({ release: true })`): waiting again until `availableAt`. */
export interface ReleasedEvent extends EventBase {
  type: "released";
  availableAt: number;
}
/** Moved to the dead letters. */
export interface DeadEvent extends EventBase {
  type: "dead";
  reason: DeadReason;
  attempt: number;
}
/** A dead letter replayed: ready again with its attempts reset. */
export interface ReplayedEvent extends EventBase {
  type: "replayed";
}

export type QueueEvent = PublishedEvent | ActiveEvent | ProgressEvent | CompletedEvent | FailedEvent | RetryEvent | ReleasedEvent | DeadEvent | ReplayedEvent;
export type QueueEventType = QueueEvent["type"];
export type QueueEventOf<K extends QueueEventType> = Extract<QueueEvent, { type: K }>;

export const QUEUE_EVENT_TYPES: readonly QueueEventType[] = ["published", "active", "progress", "completed", "failed", "retry", "released", "dead", "replayed"];

export function isQueueEventType(value: string): value is QueueEventType {
  return (QUEUE_EVENT_TYPES as readonly string[]).includes(value);
}

/** Where a store sends its events: in order, a batch at a time (one operation's changes, one commit's). */
export type QueueEventSink = (events: readonly QueueEvent[]) => void;
