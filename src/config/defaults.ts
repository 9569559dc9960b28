import type { ResolvedCircuitBreakerOptions, ResolvedHostCircuitOptions, ResolvedQueueOptions } from "./schemas.js";

/** Every default in one place. */
export const defaults = {
  queue: {
    maxAttempts: 5,
    backoff: { type: "exponential", baseMs: 1000, factor: 2, incrementMs: 1000, maxMs: 300_000, jitter: "full" },
    leaseMs: 30_000,
    maxLength: undefined,
    overflow: "reject",
    ttlMs: undefined,
    rateLimit: undefined,
    idempotencyWindowMs: 24 * 3_600_000,
    completedRetentionMs: 24 * 3_600_000,
    completedRetentionCount: 100_000,
    timeoutMs: undefined,
    delayMs: undefined,
    deadLetter: undefined,
  } satisfies ResolvedQueueOptions as ResolvedQueueOptions,
  circuitBreaker: { sampleSize: 10, failureThreshold: 0.5, openMs: 30_000 } satisfies ResolvedCircuitBreakerOptions,
  hostCircuit: { failureThreshold: 0.5, windowMs: 20_000, minimumCalls: 30, openMs: 30_000, halfOpenTrials: 5 } satisfies ResolvedHostCircuitOptions,
  worker: { concurrency: 1, closeTimeoutMs: 10_000 },
  /** A publish to a full queue with overflow `block` (docs/configuration.md). */
  publish: { blockWaitMs: 30_000 },
  /** The embedded journal (docs/configuration.md, journal.*). */
  journal: { fsync: "always", fsyncIntervalMs: 1000, segmentMaxBytes: 64 * 1024 * 1024, snapshotEveryOps: 100_000, snapshotEveryMs: 60_000 },
  /** Schedules (README, docs/http-api.md): a shared store is looked at for due schedules at least this often. */
  schedules: { pollMs: 1_000, catchUp: "one" as const },
  /** The PostgreSQL store (docs/postgres.md). */
  postgres: { schema: "spool", poolSize: 10, statementTimeoutMs: 30_000, connectTimeoutMs: 10_000, migrate: true, sweepIntervalMs: 1_000 },
  /** Batch delivery (docs/batch-delivery.md, docs/configuration.md delivery.*). */
  delivery: {
    concurrency: { webhook: 32, mock: 256, websocket: 32 },
    webhookTimeoutMs: 10_000,
    expandChunkSize: 2_000,
    /** A chunk waits until the channel's queue holds at most this many jobs. */
    maxQueuedJobs: 20_000,
    retentionMs: 7 * 86_400_000,
    deadJobCheckMs: 1_000,
    progressIntervalMs: 250,
    snapshotEveryRecords: 200_000,
    ackTimeoutMs: 30_000,
    heartbeatMs: 30_000,
    maxUnackedPerRecipient: 1000,
    closeGraceMs: 2_000,
    recipientTokenTtlMs: 3_600_000,
  },
  client: { timeoutMs: 30_000 },
  /** How long readiness waits for a store with a server (PostgreSQL) to answer its ping. */
  readinessTimeoutMs: 2_000,
  maxBodyBytes: 256 * 1024,
} as const;
