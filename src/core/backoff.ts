/** Retry delays: pure, so every store computes exactly the same schedule. */
export interface BackoffPolicy {
  type: "fixed" | "exponential" | "linear";
  baseMs: number;
  factor: number;
  /** Linear: added per attempt after the first. */
  incrementMs: number;
  maxMs: number;
  jitter: "full" | "none";
}

/**
 * The delay before the retry that follows failed delivery number `attempt` (1-based), capped at
 * maxMs. Fixed: baseMs. Exponential: baseMs × factor^(attempt−1). Linear (MassTransit's
 * "incremental"): baseMs + incrementMs × (attempt−1). Full jitter draws uniformly from
 * [0, delay] (the AWS "full jitter" scheme), which spreads retries of a burst apart.
 */
export function nextAttemptDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const steps = Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxMs, rawDelay(steps, policy));
  return Math.round(policy.jitter === "full" ? random() * capped : capped);
}

function rawDelay(steps: number, policy: BackoffPolicy): number {
  switch (policy.type) {
    case "fixed":
      return policy.baseMs;
    case "linear":
      return policy.baseMs + policy.incrementMs * steps;
    case "exponential":
      // baseMs 0 stays 0 (0 × Infinity, once factor^steps overflows, would be NaN).
      return policy.baseMs === 0 ? 0 : policy.baseMs * Math.pow(policy.factor, steps);
  }
}

