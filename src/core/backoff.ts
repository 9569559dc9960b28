/** Retry delays: pure, so every store computes exactly the same schedule. */
export interface BackoffPolicy {
  type: "fixed" | "exponential";
  baseMs: number;
  factor: number;
  maxMs: number;
  jitter: "full" | "none";
}

/**
 * The delay before the retry that follows failed delivery number `attempt` (1-based).
 * Exponential: baseMs × factor^(attempt−1), capped at maxMs. Full jitter draws uniformly
 * from [0, delay] (the AWS "full jitter" scheme), which spreads retries of a burst apart.
 */
export function nextAttemptDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  // baseMs 0 stays 0 (0 × Infinity, once factor^exponent overflows, would be NaN).
  const raw = policy.type === "fixed" || policy.baseMs === 0 ? policy.baseMs : policy.baseMs * Math.pow(policy.factor, exponent);
  const capped = Math.min(policy.maxMs, raw);
  return Math.round(policy.jitter === "full" ? random() * capped : capped);
}
