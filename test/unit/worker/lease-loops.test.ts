import { describe, expect, it } from "vitest";
import type { LeasedMessage } from "../../../src/message-types.js";
import { systemClock } from "../../../src/util/clock.js";
import { Worker } from "../../../src/worker/worker.js";
import type { WorkerSource } from "../../../src/worker/worker-source.js";

/**
 * A source that allows two lease calls in flight (as the PostgreSQL store does) and answers each
 * only when told: the test decides what a call sees, as a database would by when it ran.
 */
function twoLoopSource() {
  const calls: Array<{ max: number; answer: (messages: LeasedMessage<unknown>[]) => void }> = [];
  let wake: (() => void) | undefined;
  const source: WorkerSource = {
    clock: systemClock,
    longPoll: false,
    leasesInFlight: 2,
    queueDefaults: () => Promise.resolve({ leaseMs: 30_000, timeoutMs: undefined }),
    lease: (_queue, request) => new Promise((resolve) => calls.push({ max: request.max, answer: resolve })),
    watch: (_queue, listener) => {
      wake = listener;
      return () => (wake = undefined);
    },
    ack: () => Promise.resolve(),
    nack: () => Promise.resolve({ state: "ready", availableAt: 0 }),
    extend: () => Promise.resolve({ leaseUntil: 0 }),
    publish: () => Promise.reject(new Error("not used")),
    registerWorker: () => {},
    report: () => Promise.resolve(),
  };
  return { source, calls, wake: () => wake?.() };
}

function message(id: string): LeasedMessage<unknown> {
  return { id, queue: "q", body: id, headers: {}, priority: 0, attempt: 1, publishedAt: 0, leaseToken: `t-${id}`, leaseUntil: Date.now() + 30_000 } as unknown as LeasedMessage<unknown>;
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

describe("a worker with two lease calls in flight", () => {
  it("a wake-up while its only slot is reserved by a call in flight is not lost: the call looks again", async () => {
    const { source, calls, wake } = twoLoopSource();
    const handled: string[] = [];
    const worker = new Worker(source, "q", (m) => void handled.push(m.id as string), { concurrency: 1 });
    await until(() => calls.length === 1);
    expect(calls[0].max).toBe(1);
    // A message is published while that call is on its way, and it ran too early to see it.
    wake();
    await until(() => true);
    calls[0].answer([]);
    // The call that answered empty asks again, and this time the message is there.
    await until(() => calls.length === 2);
    calls[1].answer([message("late")]);
    await until(() => handled.length === 1);
    expect(handled).toEqual(["late"]);
    const closed = worker.close();
    for (const call of calls.slice(2)) call.answer([]);
    await closed;
  });
});
