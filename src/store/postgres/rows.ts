/** Rows of the PostgreSQL store's tables as the store contract reports them (core/message.ts). */
import type { DeadLetter, DeadReason, FailureInfo, LeasedStoredMessage, MessageState, MessageStatus, StoredMessage } from "../../core/message.js";

/** A `messages` row; bigint columns arrive as numbers (the store's type parser). */
export interface MessageRow {
  id: string;
  queue: string;
  state: number;
  priority: number;
  ready_at: number;
  seq: number;
  published_at: number;
  available_at: number;
  expires_at: number | null;
  ttl_ms: number | null;
  attempt: number;
  max_attempts: number;
  lease_token: string | null;
  lease_until: number | null;
  body: string;
  headers: Record<string, string> | null;
  group_key: string | null;
  dedup_key: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  last_error: FailureInfo | null;
  dead_reason: DeadReason | null;
  dead_at: number | null;
  dead_seq: number | null;
}

/** A `completed` row. */
export interface CompletedRow {
  id: string;
  queue: string;
  completed_at: number;
  attempt: number;
  max_attempts: number;
  priority: number;
  group_key: string | null;
  published_at: number;
  available_at: number;
  correlation_id: string | null;
  causation_id: string | null;
}

/** The `state` column's values. */
export const STATE = { ready: 0, delayed: 1, leased: 2, groupWaiting: 3, dead: 4 } as const;

const STATE_NAMES: MessageState[] = ["ready", "delayed", "leased", "ready", "dead"];

const orUndefined = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

export function toStored(row: MessageRow): StoredMessage {
  return {
    id: row.id,
    queue: row.queue,
    body: row.body,
    headers: orUndefined(row.headers),
    priority: row.priority,
    groupKey: orUndefined(row.group_key),
    publishedAt: row.published_at,
    availableAt: row.available_at,
    expiresAt: orUndefined(row.expires_at),
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    correlationId: orUndefined(row.correlation_id),
    causationId: orUndefined(row.causation_id),
  };
}

export function toLeased(row: MessageRow): LeasedStoredMessage {
  const message = toStored(row) as LeasedStoredMessage;
  message.leaseToken = row.lease_token as string;
  message.leaseUntil = row.lease_until as number;
  return message;
}

export function toDeadLetter(row: MessageRow): DeadLetter {
  const dead = toStored(row) as DeadLetter;
  dead.reason = row.dead_reason as DeadReason;
  dead.deadAt = row.dead_at as number;
  dead.lastError = orUndefined(row.last_error);
  return dead;
}

export function messageStatus(row: MessageRow): MessageStatus {
  const state = STATE_NAMES[row.state];
  return {
    id: row.id,
    queue: row.queue,
    state,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    groupKey: orUndefined(row.group_key),
    publishedAt: row.published_at,
    availableAt: row.available_at,
    expiresAt: orUndefined(row.expires_at),
    leaseUntil: state === "leased" ? (row.lease_until as number) : undefined,
    completedAt: undefined,
    deadAt: orUndefined(row.dead_at),
    deadReason: orUndefined(row.dead_reason),
    lastError: orUndefined(row.last_error),
    correlationId: orUndefined(row.correlation_id),
    causationId: orUndefined(row.causation_id),
  };
}

export function completedStatus(row: CompletedRow): MessageStatus {
  return {
    id: row.id,
    queue: row.queue,
    state: "completed",
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    groupKey: orUndefined(row.group_key),
    publishedAt: row.published_at,
    availableAt: row.available_at,
    expiresAt: undefined,
    leaseUntil: undefined,
    completedAt: row.completed_at,
    deadAt: undefined,
    deadReason: undefined,
    lastError: undefined,
    correlationId: orUndefined(row.correlation_id),
    causationId: orUndefined(row.causation_id),
  };
}
