/**
 * The storage interface every backend implements: memory and journal (one in-memory engine,
 * with or without a log), PostgreSQL and RabbitMQ. It is shaped by what all of them can do well:
 *
 * - Writes batch. `publish` and `ackMany` take arrays and are one atomic, durable write each
 *   (one fdatasync in the journal, one transaction in PostgreSQL, one confirm window in RabbitMQ).
 * - Idle consumers block on a wake-up, not a poll: `watch` delivers a signal whenever a queue
 *   may have become leasable (engine event, LISTEN/NOTIFY, a consumer delivery).
 * - Lease tokens fence stale consumers: ack / nack / extend compare the token and change
 *   nothing on mismatch.
 *
 * Semantics (backoff, error classification, topic matching, validation) are decided in `core`
 * and `config`; a store only applies them where the data lives. Inputs arrive validated, with
 * bodies already encoded as JSON text.
 *
 * Every method rejects with a `SpoolError`: `unavailable` when the medium fails (disk, network),
 * `not_found`, `lease_lost`, `queue_full`, `conflict` as documented per method.
 */
import type { QueueOptions, ResolvedQueueOptions } from "../config/schemas.js";
import type { DeadLetter, FailureInfo, LeasedStoredMessage, MessageStatus, QueueStats } from "../core/message.js";
import type { ExchangeInfo, ExchangeType } from "../routing/route.js";
import type { Clock } from "../util/clock.js";

/** Features a backend may lack; the conformance suite gates tests on these, never on `skip`. */
export interface StoreCapabilities {
  /** Publishing inside the caller's own database transaction (PostgreSQL). */
  transactionalPublish: boolean;
  /** The store's clock can be replaced by a `ManualClock` (false for servers that keep time). */
  manualClock: boolean;
}

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
}

export interface NackOutcome {
  state: "ready" | "delayed" | "dead";
  availableAt: number;
  deadReason?: DeadLetter["reason"];
}

export interface QueueInfo {
  name: string;
  options: ResolvedQueueOptions;
  paused: boolean;
}

export interface DeadLetterPage {
  items: DeadLetter[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

export type ReplaySelection = { ids: string[] } | { all: true };

export interface Store {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /** The time source every timestamp and timer in this store uses. */
  readonly clock: Clock;

  /** Why writes fail right now (a disk fault, a lost connection), if the store knows; readiness reports it. */
  readonly writeFault?: Error | undefined;

  /** Opens connections / files. Called once by `Spool.open` before anything else. */
  open(): Promise<void>;

  // ── queues ────────────────────────────────────────────────────────────────────────────
  /** Creates the queue, or merges `options` into its current ones. Returns what is now in force. */
  ensureQueue(name: string, options?: QueueOptions): Promise<QueueInfo>;
  getQueue(name: string): Promise<QueueInfo | undefined>;
  listQueues(): Promise<QueueInfo[]>;
  /** Removes the queue with its messages and dead letters. Later acks of its leases get `lease_lost`. */
  deleteQueue(name: string): Promise<boolean>;
  /** A paused queue accepts publishes but leases nothing. `not_found` for an unknown queue. */
  setPaused(name: string, paused: boolean): Promise<void>;
  /** Removes every waiting (ready or delayed) message; leased ones finish normally. Returns the count. */
  purgeQueue(name: string): Promise<number>;
  /** `not_found` for an unknown queue. */
  stats(name: string): Promise<QueueStats>;

  // ── messages ──────────────────────────────────────────────────────────────────────────
  /**
   * Enqueues every input atomically: either all are durable (under the store's durability
   * policy) when the promise resolves, or none is enqueued and it rejects (`queue_full`,
   * `unavailable`). Unknown queues are created with default options. Applies dedupKey (replace),
   * idempotencyKey (drop within the window), maxLength / overflow, TTL and groups.
   * Outcomes are in input order.
   */
  publish(inputs: PublishInput[]): Promise<PublishOutcome[]>;
  /**
   * Hands out up to `max` leasable messages, highest priority first and FIFO within one,
   * at most one in flight per ordering group, within the queue's rate limit; never waits.
   * Each carries a fresh lease token and counts as an attempt. Nothing for a paused queue.
   */
  lease(queue: string, request: LeaseRequest): Promise<LeasedStoredMessage[]>;
  /** Completes the message. `lease_lost` if the token is not the current lease. */
  ack(id: string, leaseToken: string): Promise<void>;
  /** Completes many in one durable write; a stale token fails only its own item. */
  ackMany(items: AckItem[]): Promise<AckOutcome[]>;
  /** Records a failed delivery and applies the retry policy. `lease_lost` on a stale token. */
  nack(id: string, leaseToken: string, request: NackRequest): Promise<NackOutcome>;
  /** Moves the lease's end to now + leaseMs. `lease_lost` on a stale token. */
  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }>;
  /** Where a message is; completed ones are kept for the queue's completedRetentionMs. */
  status(id: string): Promise<MessageStatus | undefined>;

  // ── dead letters ──────────────────────────────────────────────────────────────────────
  /** Oldest first. `cursor` comes from a previous page. */
  listDead(queue: string, page: { cursor?: string; limit: number }): Promise<DeadLetterPage>;
  /** Back to ready with attempts reset, keeping their ids. Returns how many moved. */
  replayDead(queue: string, selection: ReplaySelection): Promise<number>;
  deleteDead(queue: string, id: string): Promise<boolean>;
  purgeDead(queue: string): Promise<number>;

  // ── routing topology (routing decisions are made above the store) ────────────────────
  /** Creates an exchange; `conflict` if it exists with another type. */
  declareExchange(name: string, type: ExchangeType): Promise<void>;
  deleteExchange(name: string): Promise<boolean>;
  /** Idempotent. `not_found` for an unknown exchange. */
  bind(exchange: string, queue: string, bindingKey: string): Promise<void>;
  unbind(exchange: string, queue: string, bindingKey: string): Promise<boolean>;
  getExchange(name: string): Promise<ExchangeInfo | undefined>;
  listExchanges(): Promise<ExchangeInfo[]>;

  // ── wake-ups ──────────────────────────────────────────────────────────────────────────
  /**
   * Calls `listener` whenever `queue` may have become leasable: a publish, a delay or backoff
   * falling due, a lease expiring, a group's turn passing on, a rate-limit window reopening,
   * a resume or a replay. Spurious calls are allowed; missed ones are not. Returns an unsubscribe.
   */
  watch(queue: string, listener: () => void): () => void;

  /** Flushes and releases everything. Idempotent. Calls after close reject with `unavailable`. */
  close(): Promise<void>;
}
