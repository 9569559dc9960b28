import type { PublishOptions } from "./config/schemas.js";
import type { LeasedStoredMessage } from "./core/message.js";

/** A message as handlers and consumers see it: the body decoded and typed. */
export interface Message<T = unknown> {
  id: string;
  queue: string;
  body: T;
  headers: Record<string, string>;
  priority: number;
  groupKey: string | undefined;
  /** Deliveries so far, this one included. */
  attempt: number;
  maxAttempts: number;
  publishedAt: number;
  availableAt: number;
  expiresAt: number | undefined;
  correlationId: string | undefined;
  causationId: string | undefined;
}

export interface LeasedMessage<T = unknown> extends Message<T> {
  leaseToken: string;
  leaseUntil: number;
}

export type PublishItem<T> = PublishOptions & { body: T };

/** Options of a publish call as a whole, beside each message's own (PublishOptions). */
export interface PublishCallOptions {
  /**
   * The caller's open transaction on the store's database, in the form the store documents (e.g.
   * a PostgreSQL client inside BEGIN): the messages commit or roll back with the caller's other
   * writes. Needs a store with `capabilities.transactionalPublish`; any other store refuses it
   * with `unsupported` (it is never ignored).
   */
  transaction?: unknown;
  /**
   * A queue whose `overflow` is `block` makes a publish wait while it is full: at most this long
   * (ms, default 30 s), then it fails with `queue_full`. Inside a `transaction` it fails at once.
   */
  waitMs?: number;
  /** Aborts a publish waiting for room (overflow `block`): it rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface PublishResult {
  id: string;
  /** A waiting message with the same dedupKey was replaced (same id). */
  replaced: boolean;
  /** The idempotencyKey was seen within the window; nothing new was enqueued. */
  duplicate: boolean;
}

export interface ExchangePublishResult {
  /** How many queues received a copy. */
  routed: number;
  /** One per receiving queue. */
  messages: Array<PublishResult & { queue: string }>;
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Decodes the body in place: the store's object becomes the handler's message (no copy). */
export function decodeLeased<T>(stored: LeasedStoredMessage): LeasedMessage<T> {
  const message = stored as unknown as LeasedMessage<T>;
  message.body = JSON.parse(stored.body) as T;
  if (stored.headers === undefined) message.headers = NO_HEADERS;
  return message;
}
