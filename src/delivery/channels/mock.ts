/**
 * The mock channel, for demos and benchmarks: waits `latencyMs` (default 0, abortable), then
 * fails with probability `failureRate` (default 0; a retryable failure, like a flaky endpoint)
 * or succeeds. Nothing leaves the process.
 */
import type { SendOutcome } from "./channel.js";

export interface MockSettings {
  latencyMs?: number;
  failureRate?: number;
}

const SENT: SendOutcome = Object.freeze({ ok: true });

export async function sendMock(settings: MockSettings | undefined, signal: AbortSignal | undefined, random: () => number = Math.random): Promise<SendOutcome> {
  const latencyMs = settings?.latencyMs ?? 0;
  if (latencyMs > 0) await delay(latencyMs, signal);
  const failureRate = settings?.failureRate ?? 0;
  if (failureRate > 0 && random() < failureRate) return { ok: false, retryable: true, error: "mock channel: simulated failure" };
  return SENT;
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
