/**
 * Helpers shared by the consume-side conformance areas (leasing, lease expiry, retries, dead
 * letters, workers, the model-based run). Everything goes through the public API; the general
 * ones (spoolError, counts, deferred, letWakeUpsRun…) live in publish-helpers.ts.
 */
import { expect } from "vitest";
import type { LeasedMessage, MessageStatus, Queue, Spool } from "../../../src/index.js";
import { counts } from "./publish-helpers.js";

/** Tracks whether a promise has settled, without awaiting it (for "still waiting" checks). */
export function track<T>(promise: Promise<T>): { readonly settled: boolean; readonly value: T | undefined; promise: Promise<T> } {
  const state = { settled: false, value: undefined as T | undefined, promise };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

/** The status of a message that must exist. */
export async function statusOf(spool: Spool, id: string): Promise<MessageStatus> {
  const status = await spool.status(id);
  expect(status, `status of ${id}`).toBeDefined();
  return status as MessageStatus;
}

/** Stats counts plus the message's status: what "nothing changed" compares for one message. */
export async function snapshot<T>(spool: Spool, queue: Queue<T>, id: string): Promise<unknown> {
  return { stats: counts(await queue.stats()), status: await spool.status(id) };
}

/** Leases exactly one message (failing the test when none is leasable). */
export async function leaseOne<T>(queue: Queue<T>, leaseMs?: number): Promise<LeasedMessage<T>> {
  const leased = await queue.lease({ max: 1, leaseMs });
  expect(leased, `one message leasable from "${queue.name}"`).toHaveLength(1);
  return leased[0];
}

/** Publishes `count` messages (bodies 0..count-1) and sends each one dead with a permanent error, in order. */
export async function makeDead(queue: Queue<number>, count: number, order: "publish" | "reverse" = "publish"): Promise<string[]> {
  const published = await queue.publishMany(Array.from({ length: count }, (_, body) => ({ body })));
  const leased: LeasedMessage<number>[] = [];
  for (;;) {
    const batch = await queue.lease({ max: 1000 });
    if (batch.length === 0) break;
    leased.push(...batch);
  }
  expect(leased.map((m) => m.id).sort()).toEqual(published.map((p) => p.id).sort());
  const byBody = [...leased].sort((a, b) => a.body - b.body);
  if (order === "reverse") byBody.reverse();
  for (const message of byBody) {
    const outcome = await queue.nack(message.id, message.leaseToken, { error: { message: `dead ${message.body}`, kind: "permanent" } });
    expect(outcome.state).toBe("dead");
  }
  return byBody.map((m) => m.id);
}
