import { defaults } from "./defaults.js";
import type { CircuitBreakerOptions, HostCircuitOptions, QueueOptions, ResolvedCircuitBreakerOptions, ResolvedHostCircuitOptions, ResolvedQueueOptions } from "./schemas.js";

/** Applies `options` over `base` (defaults, or a queue's current options when updating). */
export function resolveQueueOptions(options: QueueOptions = {}, base: ResolvedQueueOptions = defaults.queue): ResolvedQueueOptions {
  return {
    maxAttempts: options.maxAttempts ?? base.maxAttempts,
    // Defaults first: options kept by an older version lack the fields added since (incrementMs).
    backoff: { ...defaults.queue.backoff, ...base.backoff, ...options.backoff },
    leaseMs: options.leaseMs ?? base.leaseMs,
    maxLength: options.maxLength ?? base.maxLength,
    overflow: options.overflow ?? base.overflow,
    ttlMs: options.ttlMs ?? base.ttlMs,
    rateLimit: options.rateLimit ?? base.rateLimit,
    idempotencyWindowMs: options.idempotencyWindowMs ?? base.idempotencyWindowMs,
    completedRetentionMs: options.completedRetentionMs ?? base.completedRetentionMs,
    completedRetentionCount: options.completedRetentionCount ?? base.completedRetentionCount,
    timeoutMs: options.timeoutMs ?? base.timeoutMs,
    delayMs: options.delayMs ?? base.delayMs,
    // null removes the target; undefined keeps the current one.
    deadLetter: options.deadLetter === null ? undefined : (options.deadLetter ?? base.deadLetter),
  };
}

export function resolveCircuitBreakerOptions(options: CircuitBreakerOptions = {}): ResolvedCircuitBreakerOptions {
  return { ...defaults.circuitBreaker, ...options };
}

/** `sampleSize`, the setting's name when the host circuit counted the last N outcomes, still sets `minimumCalls`. */
export function resolveHostCircuitOptions(options: HostCircuitOptions = {}): ResolvedHostCircuitOptions {
  const base = defaults.hostCircuit;
  return {
    failureThreshold: options.failureThreshold ?? base.failureThreshold,
    windowMs: options.windowMs ?? base.windowMs,
    minimumCalls: options.minimumCalls ?? options.sampleSize ?? base.minimumCalls,
    openMs: options.openMs ?? base.openMs,
    halfOpenTrials: options.halfOpenTrials ?? base.halfOpenTrials,
  };
}
