import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** Small statistics and timing helpers for the scenarios. */

/** The p-th percentile (0–100) of `sorted` (ascending), nearest-rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function sortedNumbers(values: Iterable<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** Messages per second for `count` messages in `ms` milliseconds. */
export function ratePerSec(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : Infinity;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * For peers that announce nothing (pg-boss completes jobs without an event): asks `condition`
 * every `intervalMs` until it holds, and fails naming `what` after `timeoutMs` instead of hanging.
 */
export async function pollUntil(condition: () => Promise<boolean>, what: string, { intervalMs = 5, timeoutMs = 60_000 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** Rejects with a message naming `what` when `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Collects garbage between measured runs, so one run's (or one system's) leftovers are not
 * charged to the next. Uses --expose-gc's gc() when present, and otherwise turns the flag on
 * at run time (a known V8 idiom) rather than asking every caller for NODE_OPTIONS.
 */
let gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  setFlagsFromString("--expose-gc");
  gc = runInNewContext("gc") as () => void;
}
const runGc = gc;

export function collectGarbage(): void {
  runGc();
  runGc();
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
