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
 * `not_found`, `lease_lost`, `queue_full`, `conflict` as documented per method, `unsupported` for
 * a use of a capability the store does not declare.
 *
 * Time has one owner, and `capabilities.sharedClock` says which:
 *
 * - The process (`sharedClock: false`: memory, journal). `clock` is the process's own clock, the
 *   one the store was given (a `ManualClock` in tests), and no other process uses the data (the
 *   journal's lock file refuses a second opener; the memory store's data lives in one heap). One
 *   process, one clock: every deadline is set and checked on it.
 * - The store (`sharedClock: true`: PostgreSQL, where many processes share one database). The
 *   database's clock is the only "now". The store stamps every deadline it keeps (publishedAt,
 *   availableAt = publishedAt + delayMs, leaseUntil, expiresAt, rate windows, retention,
 *   idempotency windows) with the database's now inside the statement that writes it, and decides
 *   what is due against that same now inside the statement that reads it (`available_at <= now()`):
 *   no process's clock decides anything. `clock.now()` is the store's now as this process knows
 *   it: the process clock plus the offset to the database's clock, measured at `open` and
 *   refreshed on later round trips. The engine's and the workers' timers (`clock.setTimer`: wake
 *   at a due time, heartbeat, handler timeout, circuit open period) run in this process and are
 *   only hints: firing early or late moves when a process asks, never what the store answers,
 *   and `watch` still signals what falls due.
 *
 * Either way the library reads time only through `clock`, never `Date.now()`, and passes delays as
 * durations (`PublishInput.delayMs`), which the store resolves against its own now.
 */
import type { QueueInfo, QueueOptions } from "../config/schemas.js";
import type { BrowsedMessage, BrowseState, DeadReason, LeasedStoredMessage, MessageContent, MessageStatus, QueueStats } from "../core/message.js";
import type {
  AckItem,
  AckOutcome,
  DeadLetterPage,
  LeaseRequest,
  NackOutcome,
  NackRequest,
  ProgressReport,
  PublishInput,
  PublishOutcome,
  ReplaySelection,
} from "../core/operations.js";
import type { ExchangeInfo, ExchangeType } from "../routing/route.js";
import type { FireResult, ScheduleDefinition, ScheduleRecord } from "../core/schedule.js";
import type { Clock } from "../util/clock.js";
import type { QueueEventSink } from "../core/queue-events.js";

/**
 * What a store can do, where the stores differ. Declared, never sniffed: the library refuses a use
 * of a capability the store lacks with `unsupported` before the store is reached (or the store
 * refuses it, where only the store can tell), and never ignores it. The conformance suite runs,
 * for a store without a capability, the test that its use is refused.
 */
export interface StoreCapabilities {
  /**
   * The store's clock can be replaced by a `ManualClock`, so tests move time instead of waiting.
   * False for a store whose time is kept by a server (see `sharedClock`); the conformance suite
   * then runs on the system clock only.
   */
  manualClock: boolean;
  /** `snapshot()` writes the whole state now and compacts what it makes unnecessary (the journal). */
  snapshots: boolean;
  /**
   * Time is owned by the store, one clock for every process that shares the data (PostgreSQL:
   * the database's now), not by this process (see "Time has one owner" above). False: the
   * process owns time, and the store refuses a second process on its data (the journal's lock).
   */
  sharedClock: boolean;
  /**
   * Publishing inside the caller's own open database transaction (`publish(…, { transaction })`):
   * the messages commit or roll back with the caller's other writes (PostgreSQL). Without it the
   * `transaction` option is refused.
   */
  transactionalPublish: boolean;
  /**
   * A lease may be settled (ack, nack, extend) through any process or connection on the store,
   * not only the one that took it: a consumer may lease through one server and ack through
   * another behind a load balancer (PostgreSQL: the token is a column). True for a single-process
   * store (memory, journal), where every handle is in the one process that holds the data. False
   * (RabbitMQ: an ack belongs to the channel that delivered): a settle through another connection
   * is refused with `unsupported`, never answered `lease_lost` or done elsewhere.
   */
  settleFromAnyProcess: boolean;
  /**
   * `listDead` pages with cursors that stay valid across deletes and replays. Without it the
   * store answers only the first page (the oldest `limit`) without `nextCursor`, and a `cursor`
   * is refused.
   */
  deadLetterPaging: boolean;
  /**
   * A publish with a `dedupKey` replaces a waiting message with that key in place: same id, same
   * place in line, new body. Without it (a broker cannot rewrite a queued message) a `dedupKey`
   * is refused.
   */
  replaceInPlace: boolean;
  /**
   * Ordering groups: messages with one `groupKey` are handed out one at a time, in publish order.
   * Without it a `groupKey` is refused.
   */
  orderingGroups: boolean;
}

/** How a publish is written, beyond its messages. */
export interface StorePublishOptions {
  /**
   * The caller's open transaction, in the form the store documents (PostgreSQL: a client inside
   * BEGIN): the publish is one more statement in it. Only with `capabilities.transactionalPublish`.
   */
  transaction?: unknown;
}

export interface Store {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /**
   * "Now" for everything about this store, and the timers that wait for it: the process's clock,
   * or the store's time as this process knows it (`capabilities.sharedClock`; see "Time has one
   * owner" above). Every timestamp the store reports is on it.
   */
  readonly clock: Clock;

  /**
   * How many lease calls a worker may keep in flight on one queue at once (default 1). A store
   * whose lease is a network round trip says 2: each call asks for its share of the free slots,
   * so the next batch is on its way while the last one is being handled.
   */
  readonly leasesInFlight?: number;

  /** Why writes fail right now (a disk fault, a lost connection), if the store knows; readiness reports it. */
  readonly writeFault?: Error | undefined;

  /**
   * Present on a store that talks to a server (PostgreSQL): one cheap round trip that resolves
   * when the server answers within `timeoutMs` and rejects with `unavailable` when it does not.
   * Readiness asks it because `writeFault` only learns of an outage from a statement that failed,
   * and an idle process runs none. A store in this process (memory, journal) leaves it out: its
   * `writeFault` says all.
   */
  ping?(timeoutMs: number): Promise<void>;

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
   * Outcomes are in input order. With `options.transaction` the publish is part of the caller's
   * transaction (`capabilities.transactionalPublish`; without it: `unsupported`).
   */
  publish(inputs: PublishInput[], options?: StorePublishOptions): Promise<PublishOutcome[]>;
  /**
   * Hands out up to `max` leasable messages, highest priority first and FIFO within one,
   * at most one in flight per ordering group, within the queue's rate limit; never waits.
   * Each carries a fresh lease token and counts as an attempt. Nothing for a paused queue.
   */
  lease(queue: string, request: LeaseRequest): Promise<LeasedStoredMessage[]>;
  /**
   * Completes the message. `lease_lost` if the token is not the current lease. Settling (ack,
   * ackMany, nack, extend) works from any process on the store with `settleFromAnyProcess`.
   */
  ack(id: string, leaseToken: string, result?: string): Promise<void>;
  /**
   * Completes many in one durable write; a stale token fails only its own item. An item's
   * `result` (JSON text, checked by the caller) is kept with the completed status, for as long
   * as the status is kept, and shown by `status`.
   */
  ackMany(items: AckItem[]): Promise<AckOutcome[]>;
  /**
   * Records what a running handler reports on its leased message: the new progress (replacing
   * the last) and log lines (appended, the oldest dropped past `STORY_LIMITS.maxLogLines`;
   * core/story.ts appendLog), both shown by `status` while it runs and after. Inputs arrive
   * checked. `lease_lost` if the token is not the current lease. Durable like an ack.
   */
  report(id: string, leaseToken: string, report: ProgressReport): Promise<void>;
  /**
   * Records a failed delivery and applies the retry policy (`reject`: dead at once, reason
   * `rejected`). `lease_lost` on a stale token.
   *
   * Every death (a nack, an expired lease or TTL, an overflow) of a message in a queue with a
   * `deadLetter` target also publishes its copies there (core/dead-letter.ts), in the same
   * atomic write as the death, routed by the target exchange's bindings as they are then.
   */
  nack(id: string, leaseToken: string, request: NackRequest): Promise<NackOutcome>;
  /** Moves the lease's end to now + leaseMs. `lease_lost` on a stale token. */
  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }>;
  /** Where a message is; completed ones are kept for the queue's completedRetentionMs. */
  status(id: string): Promise<MessageStatus | undefined>;
  /**
   * Up to `limit` messages of `queue` in `state` past the first `offset`, in handling order (ready: lease order; delayed:
   * due time; leased: lease end; completed: newest first, within the retention), with their
   * bodies while kept. `not_found` for an unknown queue. For people looking, not a hot path.
   */
  browse(queue: string, request: { state: BrowseState; limit: number; offset: number }): Promise<BrowsedMessage[]>;
  /** A message's body and headers while the store keeps them (waiting, leased, dead); undefined once acked or unknown. */
  content(id: string): Promise<MessageContent | undefined>;
  /**
   * The id a publish to `queue` with this `idempotencyKey` would be answered as a duplicate of,
   * or undefined (never seen, its window passed, or no such queue). Reads only: remembers nothing.
   */
  idempotentId(queue: string, key: string): Promise<string | undefined>;

  // ── dead letters ──────────────────────────────────────────────────────────────────────
  /** Oldest first. `cursor` comes from a previous page (`capabilities.deadLetterPaging`). */
  /** `reason`: only the dead letters that died for it (the cursor pages within them). */
  listDead(queue: string, page: { cursor?: string; limit: number; reason?: DeadReason }): Promise<DeadLetterPage>;
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

  // ── schedules (decided in core/schedule.ts; kept and fired where the data lives) ─────────
  /**
   * Creates or replaces a schedule: core's `defineSchedule` at the store's now (the same timing
   * keeps its place and counters, a new one is anchored now). Returns the record now kept.
   */
  putSchedule(definition: ScheduleDefinition): Promise<ScheduleRecord>;
  getSchedule(name: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule, by name. */
  listSchedules(): Promise<ScheduleRecord[]>;
  /** Pauses or resumes (core's `pauseSchedule`: resume plans from now). `not_found` for an unknown schedule. */
  setSchedulePaused(name: string, paused: boolean): Promise<ScheduleRecord>;
  removeSchedule(name: string): Promise<boolean>;
  /**
   * Fires what is due at the store's now (core's `planDue`): per due schedule, the slot's message
   * is published (idempotency key from name and slot) and nextRunAt moves on in the same atomic,
   * durable write, so a slot fires once across crashes, restarts and processes (PostgreSQL: the
   * schedule's row is taken FOR UPDATE SKIP LOCKED; a row another process is firing is left to
   * it). Returns the slots fired and the earliest next run of the active schedules.
   */
  fireDueSchedules(): Promise<FireResult>;

  // ── wake-ups ──────────────────────────────────────────────────────────────────────────
  /**
   * Calls `listener` whenever `queue` may have become leasable: a publish, a delay or backoff
   * falling due, a lease expiring, a group's turn passing on, a rate-limit window reopening,
   * a resume or a replay. Spurious calls are allowed; missed ones are not. Returns an unsubscribe.
   */
  watch(queue: string, listener: () => void): () => void;

  // ── queue events (core/queue-events.ts) ─────────────────────────────────────────────────
  /**
   * Sends `sink` every change of a message's state from now on, made by this process or (where
   * processes share the store) another: in order per message, only once the change is durable,
   * never from inside the store's own call (a sink may call back into the store). A store makes
   * no events while nobody listens. Returns an unsubscribe.
   */
  onEvents(sink: QueueEventSink): () => void;

  /** Present when `capabilities.snapshots`: resolves once a snapshot is durably written. */
  snapshot?(): Promise<void>;

  /** Flushes and releases everything. Idempotent. Calls after close reject with `unavailable`. */
  close(): Promise<void>;
}
