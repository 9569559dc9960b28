import type { ResolvedCircuitBreakerOptions, ResolvedHostCircuitOptions, ResolvedQueueOptions } from "./schemas.js";

/** Every default in one place. */
export const defaults = {
  queue: {
    maxAttempts: 5,
    backoff: { type: "exponential", baseMs: 1000, factor: 2, maxMs: 300_000, jitter: "full" },
    leaseMs: 30_000,
    maxLength: undefined,
    overflow: "reject",
    ttlMs: undefined,
    rateLimit: undefined,
    idempotencyWindowMs: 24 * 3_600_000,
    completedRetentionMs: 24 * 3_600_000,
    completedRetentionCount: 100_000,
  } satisfies ResolvedQueueOptions as ResolvedQueueOptions,
  circuitBreaker: { sampleSize: 10, failureThreshold: 0.5, openMs: 30_000 } satisfies ResolvedCircuitBreakerOptions,
  hostCircuit: { failureThreshold: 0.5, windowMs: 20_000, minimumCalls: 30, openMs: 30_000, halfOpenTrials: 5 } satisfies ResolvedHostCircuitOptions,
  worker: { concurrency: 1, closeTimeoutMs: 10_000 },
  maxBodyBytes: 256 * 1024,
} as const;
