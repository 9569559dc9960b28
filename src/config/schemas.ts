/**
 * One schema per option set: the TypeBox schema gives the TypeScript type (`Static`), validates
 * library calls (and later HTTP bodies, config files and CLI flags), and carries the defaults.
 * Input types have every field optional; `Resolved…` types are what remains after defaults.
 */
import { Type, type Static } from "@sinclair/typebox";
import type { DeadLetterTarget } from "../core/dead-letter.js";
import { limits } from "./limits.js";

const Int = (opts: { minimum?: number; maximum?: number; description?: string } = {}) => Type.Integer(opts);

export const BackoffOptionsSchema = Type.Object(
  {
    type: Type.Optional(Type.Union([Type.Literal("fixed"), Type.Literal("exponential"), Type.Literal("linear")], { description: "Delay shape between retries" })),
    baseMs: Type.Optional(Int({ minimum: 0, maximum: 86_400_000, description: "First retry delay (ms)" })),
    factor: Type.Optional(Type.Number({ minimum: 1, maximum: 100, description: "Growth per attempt (exponential)" })),
    incrementMs: Type.Optional(Int({ minimum: 0, maximum: 86_400_000, description: "Added per attempt after the first (linear), ms" })),
    maxMs: Type.Optional(Int({ minimum: 0, maximum: 7 * 86_400_000, description: "Cap on any retry delay (ms)" })),
    jitter: Type.Optional(Type.Union([Type.Literal("full"), Type.Literal("none")], { description: "full: uniform in [0, delay]" })),
  },
  { additionalProperties: false },
);

export const RateLimitSchema = Type.Object(
  {
    max: Int({ minimum: 1, maximum: 1_000_000_000, description: "Leases allowed per interval" }),
    intervalMs: Int({ minimum: 1, maximum: 86_400_000, description: "Sliding window length (ms)" }),
  },
  { additionalProperties: false },
);

/** Where a queue's dead messages are also published (core/dead-letter.ts); `null` removes the target. */
export const DeadLetterTargetSchema = Type.Union(
  [
    Type.Object({ queue: Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9_.:-]+$", description: "Publish the copy to this queue" }) }, { additionalProperties: false }),
    Type.Object(
      {
        exchange: Type.String({ maxLength: 200, pattern: "^[A-Za-z0-9_.:-]*$", description: "Publish the copy to this exchange, routed by its bindings at the moment of death" }),
        routingKey: Type.Optional(Type.String({ maxLength: 255, description: "Routing key of the copy (default: the name of the queue it died in)" })),
      },
      { additionalProperties: false },
    ),
  ],
  { description: "Also publish each message that goes dead to {queue} or {exchange, routingKey?}, atomically with its death, with x-death-* headers" },
);

export const QueueOptionsSchema = Type.Object(
  {
    maxAttempts: Type.Optional(Int({ minimum: 1, maximum: 1_000_000, description: "Deliveries before a message goes dead" })),
    backoff: Type.Optional(BackoffOptionsSchema),
    leaseMs: Type.Optional(Int({ minimum: 1, maximum: limits.maxLeaseMs, description: "Default lease (visibility timeout), ms" })),
    maxLength: Type.Optional(Int({ minimum: 1, description: "Most waiting (ready + delayed) messages" })),
    overflow: Type.Optional(Type.Union([Type.Literal("reject"), Type.Literal("block"), Type.Literal("drop-oldest")], { description: "At maxLength: reject with queue_full, block (a library publish waits for room; HTTP answers 429 with Retry-After), or dead-letter the oldest ready message" })),
    ttlMs: Type.Optional(Int({ minimum: 1, description: "Default time to live of a message, ms" })),
    rateLimit: Type.Optional(RateLimitSchema),
    idempotencyWindowMs: Type.Optional(Int({ minimum: 1, maximum: 30 * 86_400_000, description: "How long an idempotencyKey is remembered, ms" })),
    completedRetentionMs: Type.Optional(Int({ minimum: 0, maximum: 30 * 86_400_000, description: "How long a completed message's status stays queryable, ms" })),
    completedRetentionCount: Type.Optional(Int({ minimum: 0, maximum: 100_000_000, description: "Most completed statuses kept per queue (oldest forgotten first)" })),
    timeoutMs: Type.Optional(Int({ minimum: 1, maximum: limits.maxLeaseMs, description: "Default handler timeout of the queue's workers, ms (a worker's own timeoutMs wins)" })),
    delayMs: Type.Optional(Int({ minimum: 0, maximum: limits.maxDelayMs, description: "Default delay of a publish that gives neither delayMs nor availableAt, ms" })),
    deadLetter: Type.Optional(Type.Union([DeadLetterTargetSchema, Type.Null()], { description: "Dead-letter routing: also publish each message that goes dead to {queue} or {exchange, routingKey?} with x-death-* headers (null removes it)" })),
  },
  { additionalProperties: false },
);

export type BackoffOptions = Static<typeof BackoffOptionsSchema>;
export type RateLimit = Static<typeof RateLimitSchema>;
export type QueueOptions = Static<typeof QueueOptionsSchema>;

export interface ResolvedQueueOptions {
  maxAttempts: number;
  backoff: Required<BackoffOptions>;
  leaseMs: number;
  maxLength: number | undefined;
  overflow: "reject" | "block" | "drop-oldest";
  ttlMs: number | undefined;
  rateLimit: RateLimit | undefined;
  idempotencyWindowMs: number;
  completedRetentionMs: number;
  completedRetentionCount: number;
  timeoutMs: number | undefined;
  delayMs: number | undefined;
  deadLetter: DeadLetterTarget | undefined;
}

const HeadersSchema = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 8192 }));

export const PublishOptionsSchema = Type.Object(
  {
    priority: Type.Optional(Int({ minimum: 0, maximum: 9, description: "0–9, higher first" })),
    delayMs: Type.Optional(Int({ minimum: 0, maximum: limits.maxDelayMs, description: "Wait this long before the message is ready" })),
    availableAt: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0 }), Type.String({ format: "date-time" }), Type.Date()], {
        description: "Absolute time the message becomes ready (ms epoch, ISO string or Date)",
        errorMessage: "must be epoch ms (an integer >= 0), an ISO 8601 date-time with a zone (Z or ±hh:mm), or a Date",
      }),
    ),
    ttlMs: Type.Optional(Int({ minimum: 1, description: "Dead-letter (expired) if not delivered in time" })),
    maxAttempts: Type.Optional(Int({ minimum: 1, maximum: 1_000_000 })),
    dedupKey: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "Replace a waiting message with the same key" })),
    idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "Drop a publish seen within the window" })),
    groupKey: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "Deliver one at a time, in order, per group" })),
    headers: Type.Optional(HeadersSchema),
    correlationId: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    causationId: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type PublishOptions = Static<typeof PublishOptionsSchema>;

export const CircuitBreakerOptionsSchema = Type.Object(
  {
    sampleSize: Type.Optional(Int({ minimum: 1, maximum: 10_000, description: "Outcomes in the sliding window" })),
    failureThreshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: "Failure ratio that opens the circuit" })),
    openMs: Type.Optional(Int({ minimum: 1, maximum: 86_400_000, description: "How long the circuit stays open before a trial" })),
  },
  { additionalProperties: false },
);
export type CircuitBreakerOptions = Static<typeof CircuitBreakerOptionsSchema>;
export type ResolvedCircuitBreakerOptions = Required<CircuitBreakerOptions>;

/** Batch delivery's per-host webhook circuit (src/delivery/channels/host-circuit.ts): a failure rate over a time window. */
export const HostCircuitOptionsSchema = Type.Object(
  {
    failureThreshold: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: "Share of host faults among the window's calls that opens the circuit" })),
    windowMs: Type.Optional(Int({ minimum: 1_000, maximum: 3_600_000, description: "How far back the failure rate looks" })),
    minimumCalls: Type.Optional(Int({ minimum: 1, maximum: 100_000, description: "Fewest outcomes in the window before the failure rate is judged" })),
    openMs: Type.Optional(Int({ minimum: 1, maximum: 86_400_000, description: "How long the circuit stays open before it lets trials through" })),
    halfOpenTrials: Type.Optional(Int({ minimum: 1, maximum: 1_000, description: "Trial requests a half-open circuit lets through; their failure rate decides" })),
    sampleSize: Type.Optional(Int({ minimum: 1, maximum: 100_000, description: "Former name of minimumCalls, read as it when minimumCalls is not given" })),
  },
  { additionalProperties: false },
);
export type HostCircuitOptions = Static<typeof HostCircuitOptionsSchema>;
export type ResolvedHostCircuitOptions = Required<Omit<HostCircuitOptions, "sampleSize">>;

export const WorkerOptionsSchema = Type.Object(
  {
    concurrency: Type.Optional(Int({ minimum: 1, maximum: 10_000, description: "Handlers running at once" })),
    timeoutMs: Type.Optional(Int({ minimum: 1, maximum: limits.maxLeaseMs, description: "Abort ctx.signal and fail the attempt after this long" })),
    leaseMs: Type.Optional(Int({ minimum: 1, maximum: limits.maxLeaseMs, description: "Lease per message; the queue's leaseMs if unset" })),
    circuitBreaker: Type.Optional(Type.Union([CircuitBreakerOptionsSchema, Type.Literal(false)])),
    closeTimeoutMs: Type.Optional(Int({ minimum: 0, maximum: 3_600_000, description: "How long close() waits for in-flight handlers before aborting them" })),
  },
  { additionalProperties: false },
);
export type WorkerOptions = Static<typeof WorkerOptionsSchema>;

export const QueueNameSchema = Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9_.:-]+$" });
export const ExchangeNameSchema = Type.String({ maxLength: 200, pattern: "^[A-Za-z0-9_.:-]*$" });
export const ExchangeTypeSchema = Type.Union([Type.Literal("direct"), Type.Literal("fanout"), Type.Literal("topic")]);

/**
 * The embedded journal's settings (library `journal` options and the server's `journal` key);
 * defaults in defaults.ts. Function-valued library options (clock, fs, hooks) are checked apart.
 */
export const JournalOptionsSchema = Type.Object(
  {
    fsync: Type.Optional(Type.Union([Type.Literal("always"), Type.Literal("interval"), Type.Literal("never")], { description: "When a write counts as durable" })),
    fsyncIntervalMs: Type.Optional(Int({ minimum: 1, maximum: 60_000, description: "With fsync interval: the longest a write waits for its fdatasync, ms" })),
    segmentMaxBytes: Type.Optional(Int({ minimum: 1, maximum: 1024 ** 3, description: "Log segment size before it rotates (a flight never splits, so a tiny size rotates at every write)" })),
    snapshotEveryOps: Type.Optional(Int({ minimum: 1, description: "Take a snapshot after this many logged operations" })),
    snapshotEveryMs: Type.Optional(Int({ minimum: 1, description: "…or this long after the last snapshot, ms" })),
    repair: Type.Optional(Type.Boolean({ description: "Open a log with corruption in the middle by cutting it there" })),
  },
  { additionalProperties: false },
);

export type JournalOptions = Static<typeof JournalOptionsSchema>;

/** The PostgreSQL store's options (library `postgresStore`, server config `store`); defaults in defaults.ts. */
export const PostgresStoreOptionsSchema = Type.Object(
  {
    connectionString: Type.String({ minLength: 1, pattern: "^postgres(ql)?://", description: "postgres://user@host:port/database" }),
    schema: Type.Optional(Type.String({ pattern: "^[a-z_][a-z0-9_]{0,47}$", description: "Schema holding Spool's tables" })),
    poolSize: Type.Optional(Int({ minimum: 1, maximum: 1000, description: "Most connections in the pool" })),
    statementTimeoutMs: Type.Optional(Int({ minimum: 1, maximum: 3_600_000, description: "A statement running longer is cancelled (unavailable), ms" })),
    connectTimeoutMs: Type.Optional(Int({ minimum: 1, maximum: 600_000, description: "Longest wait for a new connection, ms" })),
    migrate: Type.Optional(Type.Boolean({ description: "Create or upgrade the schema at open (else it must be current: spool migrate)" })),
    sweepIntervalMs: Type.Optional(Int({ minimum: 10, maximum: 600_000, description: "How often each process applies what fell due and forgets what retention lets go, ms" })),
  },
  { additionalProperties: false },
);

export type PostgresStoreSettings = Static<typeof PostgresStoreOptionsSchema>;

/** A queue as a store reports it: its name, the options in force (defaults applied), and whether it is paused. */
export interface QueueInfo {
  name: string;
  options: ResolvedQueueOptions;
  paused: boolean;
}

/** A lease request's options: the library's `queue.lease` and `POST /v1/queues/:q/lease` alike. */
export const LeaseOptionsSchema = Type.Object(
  {
    max: Type.Optional(Int({ minimum: 1, maximum: limits.maxLeaseBatch, description: "Most messages to lease (default 1)" })),
    leaseMs: Type.Optional(Int({ minimum: 1, maximum: limits.maxLeaseMs, description: "Lease length; the queue's leaseMs if unset" })),
    waitMs: Type.Optional(Int({ minimum: 0, maximum: limits.maxWaitMs, description: "Long-poll: wait this long for a message (default 0)" })),
  },
  { additionalProperties: false },
);

/** A lease length (a lease request's, an extension's): 1 ms to the 12-hour cap. */
export const LeaseMsSchema = Int({ minimum: 1, maximum: limits.maxLeaseMs, description: "Lease length, ms" });

/** What a nack may ask besides its error: the library's `nack` options and the HTTP nack body alike. */
export const NackSettingsSchema = Type.Object(
  {
    delayMs: Type.Optional(Int({ minimum: 0, maximum: limits.maxDelayMs, description: "Retry after exactly this long" })),
    release: Type.Optional(Type.Boolean({ description: "Give the message back without using up an attempt" })),
    reject: Type.Optional(Type.Boolean({ description: "Reject the message: dead at once with reason rejected (not with release)" })),
  },
  { additionalProperties: false },
);

/** A message id as a caller may name one (server ids are ULIDs; the pattern keeps paths and logs safe). */
export const MessageIdSchema = Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-]+$" });

/** Which dead letters to replay: some ids, or all of them (the library's `replayDead` and HTTP alike). */
export const ReplaySelectionSchema = Type.Union([
  Type.Object({ ids: Type.Array(MessageIdSchema, { minItems: 1, maxItems: limits.maxPublishBatch }) }, { additionalProperties: false }),
  Type.Object({ all: Type.Literal(true) }, { additionalProperties: false }),
]);
