/**
 * Small helpers shared by the publish-side conformance areas (publishing, priorities, delays,
 * ttl, dedup/idempotency, groups, rate limits, backpressure, queue admin, routing).
 * Everything goes through the public API.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import { SpoolError, type ErrorCode, type LeasedMessage, type Queue, type QueueStats } from "../../../src/index.js";
import type { ManualClock } from "../../../src/util/clock.js";
import type { SuiteContext, SuiteRun } from "../suite.js";

/**
 * Runs `action` (sync or async) and returns the `SpoolError` it throws or rejects with. Fails the
 * test when it succeeds, throws something that is not a `SpoolError`, or carries another code.
 */
export async function spoolError(action: () => unknown, code?: ErrorCode): Promise<SpoolError> {
  let thrown: unknown;
  let threw = false;
  try {
    await action();
  } catch (error) {
    thrown = error;
    threw = true;
  }
  if (!threw) expect.fail(`expected a SpoolError${code ? ` with code "${code}"` : ""}, but the call succeeded`);
  expect(thrown).toBeInstanceOf(SpoolError);
  if (code !== undefined) expect((thrown as SpoolError).code).toBe(code);
  return thrown as SpoolError;
}

/** The paths named by an error's details. */
export function detailPaths(error: SpoolError): string[] {
  return error.details.map((d) => d.path);
}

/** The store's ManualClock; throws (failing the test) if the suite opened a real clock. */
export function manualClock(ctx: SuiteContext): ManualClock {
  if (!ctx.clock) throw new Error("this test needs a ManualClock: give it as the manual body of itOnClock / onClock");
  return ctx.clock;
}

/**
 * The body for the run's clock mode: `manual` on a ManualClock (exact instants, no waiting);
 * `real` on the system clock, which checks the same semantic with short real durations and
 * `pollUntil` (looser: it cannot pin an exact millisecond, so it asserts orderings and states).
 */
export function onClock(suite: SuiteRun, manual: () => Promise<void>, real: () => Promise<void>): () => Promise<void> {
  return suite.clockMode === "manual" ? manual : real;
}

/** Registers one test, with the body for the run's clock mode (see `onClock`). Nothing is ever skipped. */
export function itOnClock(suite: SuiteRun, name: string, manual: () => Promise<void>, real: () => Promise<void>): void {
  it(name, onClock(suite, manual, real));
}

/** Counts and totals of a queue's stats: what "nothing changed" compares. */
export function counts(stats: QueueStats): Pick<QueueStats, "ready" | "delayed" | "leased" | "dead" | "totals"> {
  return { ready: stats.ready, delayed: stats.delayed, leased: stats.leased, dead: stats.dead, totals: { ...stats.totals } };
}

/** Leases one message at a time until none is leasable; returns them in lease order. */
export async function leaseOneByOne<T>(queue: Queue<T>, limit = 10_000): Promise<LeasedMessage<T>[]> {
  const out: LeasedMessage<T>[] = [];
  while (out.length < limit) {
    const [message] = await queue.lease({ max: 1 });
    if (!message) break;
    out.push(message);
  }
  return out;
}

/** Leases (in batches) until none is leasable; returns everything in lease order. */
export async function leaseAll<T>(queue: Queue<T>): Promise<LeasedMessage<T>[]> {
  const out: LeasedMessage<T>[] = [];
  for (;;) {
    const batch = await queue.lease({ max: 1000 });
    if (batch.length === 0) return out;
    out.push(...batch);
  }
}

/**
 * Lets every already-queued callback, wake-up and promise chain run (a few macrotask turns).
 * Not a wait on time: used only to show that something did NOT happen after a wake-up had
 * every chance to be delivered.
 */
export async function letWakeUpsRun(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A promise with its resolve handle, for handlers that hold until the test lets them go. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
