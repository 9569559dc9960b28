import { describe, expect, it } from "vitest";
import type { LeasedMessage } from "../../../src/message-types.js";
import { systemClock } from "../../../src/util/clock.js";
import { Worker } from "../../../src/worker/worker.js";
import type { WorkerSource } from "../../../src/worker/worker-source.js";

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A source whose acks share one promise per "group", as the journal's group commit does: the
 * worker must settle each message of a shared promise exactly once, whichever way it ends.
 */
function groupSource(count: number) {
  const groups: Deferred[] = [deferred()];
  const acked: string[] = [];
  let handedOut = false;
  let wake: (() => void) | undefined;
  const source: WorkerSource = {
    clock: systemClock,
    longPoll: false,
    queueDefaults: () => Promise.resolve({ leaseMs: 30_000, timeoutMs: undefined }),
    lease: (queue, request) => {
      if (handedOut) return Promise.resolve([]);
      handedOut = true;
      const messages: LeasedMessage<unknown>[] = [];
      for (let i = 0; i < Math.min(count, request.max); i++) {
        messages.push({ id: `m${i}`, queue, body: i, headers: {}, priority: 0, attempt: 1, publishedAt: 0, leaseToken: `t${i}`, leaseUntil: 0 } as unknown as LeasedMessage<unknown>);
      }
      return Promise.resolve(messages);
    },
    watch: (_queue, listener) => {
      wake = listener;
      return () => (wake = undefined);
    },
    ack: (id) => {
      acked.push(id);
      return groups[groups.length - 1].promise;
    },
    nack: () => Promise.resolve({ outcome: "retry" } as never),
    extend: () => Promise.resolve({ leaseUntil: 0 }),
    publish: () => Promise.reject(new Error("not used")),
    registerWorker: () => {},
    report: () => Promise.resolve(),
  };
  return { source, groups, acked, wake: () => wake?.() };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

describe("Worker acks that share the source's promise", () => {
  it("completes every message of a group once, when the shared promise resolves", async () => {
    const { source, groups, acked } = groupSource(5);
    const worker = new Worker(source, "q", () => {}, { concurrency: 8 });
    const completed: string[] = [];
    worker.on("message:completed", ({ id }) => completed.push(id));
    await until(() => acked.length === 5);
    expect(completed).toEqual([]);
    groups[0].resolve();
    await until(() => completed.length === 5);
    expect(completed.sort()).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    await worker.close();
    expect(completed.length).toBe(5);
  });

  it("reports a refused group once per message, and close() waits for it", async () => {
    const { source, groups, acked } = groupSource(3);
    const worker = new Worker(source, "q", () => {}, { concurrency: 8 });
    const errors: unknown[] = [];
    const completed: string[] = [];
    worker.on("worker:error", ({ error }) => errors.push(error));
    worker.on("message:completed", ({ id }) => completed.push(id));
    await until(() => acked.length === 3);
    let closed = false;
    const closing = worker.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false); // the acks are not settled yet
    const refusal = new Error("disk on fire");
    groups[0].reject(refusal);
    await closing;
    expect(errors).toEqual([refusal, refusal, refusal]);
    expect(completed).toEqual([]);
  });
});
