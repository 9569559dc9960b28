/**
 * Workers (`queue.work`): concurrency and scale(), per-handler timeouts, automatic heartbeats
 * and ctx.extendLease, chaining with ctx.publish, the circuit breaker, lost leases, and the
 * two-phase close (drain up to a deadline, then abort ctx.signal and release the message).
 *
 * Handlers here are probes the test holds and lets go; waits are on observable conditions
 * (pollUntil, worker events). On the system clock, where a test needs time to pass (a timeout,
 * heartbeats past a lease's end, an open circuit), it waits for the store's clock to get there
 * and holds what happened to the times the store and the worker reported, never to a sleep.
 */
import { expect } from "vitest";
import { afterEach, it } from "../registry.js";
import {
  HandlerTimeoutError,
  Spool,
  SpoolError,
  WorkerClosedError,
  type CircuitState,
  type HandlerContext,
  type LeasedMessage,
  type Queue,
  type Store,
  type Worker,
  type WorkerEvents,
} from "../../../src/index.js";
import { ManualClock, systemClock, type Clock } from "../../../src/util/clock.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import { storeProxy, type AreaDefinition, type SuiteContext } from "../suite.js";
import { statusOf, track } from "./consume-helpers.js";
import { counts, deferred, itOnClock, letWakeUpsRun, manualClock, spoolError } from "./publish-helpers.js";
import { expectSetDuring, TIMER_SLACK_MS, timed, waitForClock } from "./time-helpers.js";

type Mode = "hold" | "succeed" | "fail";

/** Every probe of the running test: released after it, so a failed test cannot hang the cleanup. */
const probes = new Set<{ mode: Mode; releaseAll(): void }>();

/**
 * A handler the test controls. New calls follow `mode`: "hold" waits until released (or until
 * ctx.signal aborts, like a well-behaved handler), "succeed" returns, "fail" throws.
 */
class Probe<T> {
  mode: Mode;
  readonly calls: LeasedMessage<T>[] = [];
  readonly contexts: HandlerContext[] = [];
  active = 0;
  maxActive = 0;
  readonly #held: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];

  constructor(mode: Mode = "hold") {
    this.mode = mode;
    probes.add(this);
  }

  readonly handler = async (message: LeasedMessage<T>, ctx: HandlerContext): Promise<void> => {
    this.calls.push(message);
    this.contexts.push(ctx);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.mode === "fail") throw new Error(`handler failed on ${message.id}`);
      if (this.mode === "hold") {
        await new Promise<void>((resolve, reject) => {
          const entry = { resolve, reject };
          this.#held.push(entry);
          ctx.signal.addEventListener(
            "abort",
            () => {
              this.#held.splice(this.#held.indexOf(entry) >>> 0, 1);
              reject(ctx.signal.reason);
            },
            { once: true },
          );
        });
      }
    } finally {
      this.active--;
    }
  };

  get held(): number {
    return this.#held.length;
  }

  /** Lets the `count` longest-held calls return successfully. */
  release(count = 1): void {
    for (const call of this.#held.splice(0, count)) call.resolve();
  }

  /** Makes the `count` longest-held calls throw. */
  fail(count = 1, error: unknown = new Error("held call failed")): void {
    for (const call of this.#held.splice(0, count)) call.reject(error);
  }

  releaseAll(): void {
    this.release(this.#held.length);
  }
}

/** Everything a worker reports, in order, and when (on `clock`, the store's) failures and circuit changes were heard. */
function record<T>(worker: Worker<T>, clock: Clock = systemClock) {
  const seen = {
    completed: [] as WorkerEvents["message:completed"][0][],
    failed: [] as WorkerEvents["message:failed"][0][],
    failedAt: [] as number[],
    circuit: [] as CircuitState[],
    circuitAt: [] as number[],
    errors: [] as unknown[],
  };
  worker.on("message:completed", (event) => seen.completed.push(event));
  worker.on("message:failed", (event) => {
    seen.failed.push(event);
    seen.failedAt.push(clock.now());
  });
  worker.on("worker:circuit", (event) => {
    seen.circuit.push(event.state);
    seen.circuitAt.push(clock.now());
  });
  worker.on("worker:error", (event) => seen.errors.push(event.error));
  return seen;
}

/** The lease length the tests give workers whose lease must not run out while they watch: no heartbeat within a test. */
const LONG_LEASE_MS = 600_000;

/** When a message of a worker with `leaseMs: LONG_LEASE_MS` was leased (store time). */
function leasedAt(message: LeasedMessage<unknown>): number {
  return message.leaseUntil - LONG_LEASE_MS;
}

function codeOf(error: unknown): string | undefined {
  return error instanceof SpoolError ? error.code : undefined;
}

export const workers: AreaDefinition = (suite, open) => {
  afterEach(() => {
    for (const probe of probes) {
      probe.mode = "succeed";
      probe.releaseAll();
    }
    probes.clear();
  });

  it("never runs more than `concurrency` handlers at once, and keeps that many busy", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("workers"));
    await queue.publishMany(Array.from({ length: 10 }, (_, body) => ({ body })));
    const probe = new Probe<number>();
    const worker = queue.work(probe.handler, { concurrency: 3 });
    const seen = record(worker);

    await pollUntil(() => probe.active === 3, { what: "3 handlers running" });
    await letWakeUpsRun();
    expect(probe.active).toBe(3);
    expect(worker.running).toBe(3);
    expect(counts(await queue.stats())).toMatchObject({ leased: 3, ready: 7 });

    for (let done = 1; done <= 10; done++) {
      probe.release(1);
      const expected = Math.min(3, 10 - done);
      await pollUntil(() => seen.completed.length === done && probe.active === expected, { what: `${done} completed, ${expected} running` });
    }
    await letWakeUpsRun();
    expect(probe.maxActive).toBe(3);
    expect(probe.calls.map((m) => m.body).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect((await queue.stats()).totals.completed).toBe(10);
    await worker.close();
  });

  it("scale(n) raises and lowers concurrency at run time; lowering lets running handlers finish", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("workers"));
    await queue.publishMany(Array.from({ length: 8 }, (_, body) => ({ body })));
    const probe = new Probe<number>();
    const worker = queue.work(probe.handler, { concurrency: 1 });
    const seen = record(worker);

    await pollUntil(() => probe.active === 1, { what: "1 handler running" });
    await letWakeUpsRun();
    expect(probe.active).toBe(1);

    worker.scale(4);
    expect(worker.concurrency).toBe(4);
    await pollUntil(() => probe.active === 4, { what: "4 handlers running after scale(4)" });
    await letWakeUpsRun();
    expect(probe.maxActive).toBe(4);

    worker.scale(2);
    expect(probe.active).toBe(4); // nothing is interrupted
    probe.release(1);
    await pollUntil(() => seen.completed.length === 1, { what: "one handler to finish" });
    await letWakeUpsRun();
    expect(probe.active).toBe(3); // no refill above the new limit
    probe.release(2);
    await pollUntil(() => seen.completed.length === 3, { what: "two more to finish" });
    await pollUntil(() => probe.active === 2, { what: "refilled to the new limit of 2" });
    await letWakeUpsRun();
    expect(probe.active).toBe(2);
    expect(probe.maxActive).toBe(4);

    await spoolError(() => worker.scale(0), "validation_failed");
    await spoolError(() => worker.scale(1.5), "validation_failed");
    probe.mode = "succeed";
    probe.releaseAll();
    await pollUntil(() => seen.completed.length === 8, { what: "all 8 to complete" });
    await worker.close();
  });

  itOnClock(
    suite,
    "timeoutMs aborts ctx.signal and fails the attempt: retried with backoff, then dead",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("workers"), { maxAttempts: 2, backoff: { type: "fixed", baseMs: 5_000, jitter: "none" } });
      const { id } = await queue.publish("slow");
      const probe = new Probe<string>();
      const worker = queue.work(probe.handler, { timeoutMs: 1_000 });
      const seen = record(worker);

      await pollUntil(() => probe.calls.length === 1, { what: "the handler to start" });
      clock.advance(999);
      await letWakeUpsRun();
      expect(probe.contexts[0].signal.aborted).toBe(false);
      expect(seen.failed).toHaveLength(0);

      clock.advance(1);
      await pollUntil(() => seen.failed.length === 1, { what: "the timed-out attempt to fail" });
      expect(probe.contexts[0].signal.aborted).toBe(true);
      expect(probe.contexts[0].signal.reason).toBeInstanceOf(HandlerTimeoutError);
      expect(seen.failed[0].outcome).toEqual({ state: "delayed", availableAt: clock.now() + 5_000 });
      const status = await statusOf(ctx.spool, id);
      expect(status).toMatchObject({ state: "delayed", attempt: 1 });
      expect(status.lastError?.kind).toBe("error");

      clock.advance(5_000);
      await pollUntil(() => probe.calls.length === 2, { what: "the retry to start" });
      expect(probe.calls[1].attempt).toBe(2);
      clock.advance(1_000);
      await pollUntil(() => seen.failed.length === 2, { what: "the second timeout" });
      expect(seen.failed[1].outcome).toMatchObject({ state: "dead", deadReason: "max_attempts" });
      expect(seen.completed).toHaveLength(0);
      await worker.close();
    },
    async () => {
      const ctx = await open();
      // The backoff outlasts the status read below on a loaded machine, so the retry has not started yet.
      const backoffMs = 250;
      const queue = ctx.spool.queue<string>(uniqueQueueName("workers"), { maxAttempts: 2, backoff: { type: "fixed", baseMs: backoffMs, jitter: "none" } });
      const { id } = await queue.publish("slow");
      const probe = new Probe<string>();
      const worker = queue.work(probe.handler, { timeoutMs: 60, leaseMs: LONG_LEASE_MS });
      const seen = record(worker, ctx.store.clock);

      await pollUntil(() => seen.failed.length === 1, { what: "the timed-out attempt to fail" });
      expect(probe.contexts[0].signal.aborted).toBe(true);
      expect(probe.contexts[0].signal.reason).toBeInstanceOf(HandlerTimeoutError);
      const outcome = seen.failed[0].outcome;
      expect(outcome?.state).toBe("delayed");
      // The attempt failed no earlier than timeoutMs after its lease, and retries backoffMs after that.
      const failedAt = (outcome?.availableAt ?? NaN) - backoffMs;
      expect(failedAt - leasedAt(probe.calls[0]), "timed out before timeoutMs").toBeGreaterThanOrEqual(60 - TIMER_SLACK_MS);
      expect(failedAt).toBeLessThanOrEqual(seen.failedAt[0]);
      const status = await statusOf(ctx.spool, id);
      expect(status.attempt).toBe(1);
      expect(status.lastError?.kind).toBe("error");

      await pollUntil(() => seen.failed.length === 2, { what: "the second timeout" });
      expect(probe.calls[1].attempt).toBe(2);
      expect(leasedAt(probe.calls[1]), "retried before the backoff").toBeGreaterThanOrEqual(outcome?.availableAt ?? NaN);
      expect(seen.failed[1].outcome).toMatchObject({ state: "dead", deadReason: "max_attempts" });
      expect(seen.completed).toHaveLength(0);
      await worker.close();
    },
  );

  itOnClock(
    suite,
    "timeoutMs fails the attempt even when the handler ignores ctx.signal",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const { id, worker, seen, started } = await stuckHandler(ctx, 500);
      await pollUntil(() => started() === 1, { what: "the handler to start" });
      clock.advance(500);
      await pollUntil(() => seen.failed.length === 1, { what: "the attempt to fail" });
      expect(await statusOf(ctx.spool, id)).toMatchObject({ state: "dead", deadReason: "max_attempts" });
      expect(worker.running).toBe(0);
      await worker.close();
    },
    async () => {
      const ctx = await open();
      const { id, worker, seen } = await stuckHandler(ctx, 50);
      await pollUntil(() => seen.failed.length === 1, { what: "the attempt to fail" });
      expect(await statusOf(ctx.spool, id)).toMatchObject({ state: "dead", deadReason: "max_attempts" });
      expect(worker.running).toBe(0);
      await worker.close();
    },
  );

  itOnClock(
    suite,
    "a queue's timeoutMs times out its workers' handlers; a worker's own timeoutMs wins",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const { id, worker, seen, started } = await stuckHandler(ctx, undefined, 500);
      await pollUntil(() => started() === 1, { what: "the handler to start" });
      clock.advance(499);
      await letWakeUpsRun();
      expect(seen.failed).toHaveLength(0);
      clock.advance(1);
      await pollUntil(() => seen.failed.length === 1, { what: "the attempt to fail" });
      expect(await statusOf(ctx.spool, id)).toMatchObject({ state: "dead", lastError: { message: "handler timed out after 500 ms" } });
      await worker.close();
      const own = await stuckHandler(ctx, 200, 60_000);
      await pollUntil(() => own.started() === 1, { what: "the handler to start" });
      clock.advance(200);
      await pollUntil(() => own.seen.failed.length === 1, { what: "the worker's own timeout" });
      await own.worker.close();
    },
    async () => {
      const ctx = await open();
      const { id, worker, seen } = await stuckHandler(ctx, undefined, 50);
      await pollUntil(() => seen.failed.length === 1, { what: "the attempt to fail" });
      expect(await statusOf(ctx.spool, id)).toMatchObject({ state: "dead", lastError: { message: "handler timed out after 50 ms" } });
      await worker.close();
      const own = await stuckHandler(ctx, 50, 60_000);
      await pollUntil(() => own.seen.failed.length === 1, { what: "the worker's own timeout" });
      await own.worker.close();
    },
  );

  /**
   * A worker whose handler never settles and ignores ctx.signal, on a queue of one message with
   * one attempt; `timeoutMs` is the worker's, `queueTimeoutMs` the queue's.
   */
  async function stuckHandler(ctx: SuiteContext, timeoutMs: number | undefined, queueTimeoutMs?: number) {
    const queue = ctx.spool.queue<string>(uniqueQueueName("workers"), queueTimeoutMs === undefined ? { maxAttempts: 1 } : { maxAttempts: 1, timeoutMs: queueTimeoutMs });
    const { id } = await queue.publish("stuck");
    let started = 0;
    const worker = queue.work(
      () => {
        started++;
        return new Promise(() => {}); // never settles
      },
      timeoutMs === undefined ? {} : { timeoutMs },
    );
    return { id, worker, seen: record(worker), started: () => started };
  }

  itOnClock(
    suite,
    "heartbeats keep a long handler's lease alive far past leaseMs: the message is never redelivered",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("workers"), { leaseMs: 3_000 });
      const { id } = await queue.publish("long");
      const probe = new Probe<string>();
      const worker = queue.work(probe.handler, { concurrency: 2 });
      const seen = record(worker);
      await pollUntil(() => probe.calls.length === 1, { what: "the handler to start" });

      for (let elapsed = 0; elapsed < 12_000; elapsed += 500) {
        clock.advance(500);
        await letWakeUpsRun();
      }
      await expectStillLeased(ctx, queue, id, probe);

      probe.release();
      await pollUntil(() => seen.completed.length === 1, { what: "the handler to complete" });
      expect(await statusOf(ctx.spool, id)).toMatchObject({ state: "completed", attempt: 1 });
      expect(seen.errors).toEqual([]);
      await worker.close();
    },
    async () => {
      // A 900 ms lease: heartbeats every 300 ms, each with at least 300 ms to spare on a loaded machine.
      const ctx = await open();
      const queue = ctx.spool.queue<string>(uniqueQueueName("workers"), { leaseMs: 900 });
      const { id } = await queue.publish("long");
      const probe = new Probe<string>();
      const worker = queue.work(probe.handler, { concurrency: 2 });
      const seen = record(worker);
      await pollUntil(() => probe.calls.length === 1, { what: "the handler to start" });

      await waitForClock(ctx.store, probe.calls[0].leaseUntil + 300, "a heartbeat past the first lease's end");
      await expectStillLeased(ctx, queue, id, probe);

      probe.release();
      await pollUntil(() => seen.completed.length === 1, { what: "the handler to complete" });
      expect(await statusOf(ctx.spool, id)).toMatchObject({ state: "completed", attempt: 1 });
      expect(seen.errors).toEqual([]);
      await worker.close();
    },
  );

  /** The one message `probe` holds is still leased, in its first attempt, never redelivered. */
  async function expectStillLeased(ctx: SuiteContext, queue: Queue<string>, id: string, probe: Probe<string>): Promise<void> {
    const checked = await timed(ctx.store, () => statusOf(ctx.spool, id));
    expect(checked.value).toMatchObject({ state: "leased", attempt: 1 });
    expect(checked.value.leaseUntil).toBeGreaterThan(checked.from);
    expect((await queue.stats()).totals.retried).toBe(0);
    expect(probe.calls).toHaveLength(1);
    expect(probe.contexts[0].signal.aborted).toBe(false);
  }

  itOnClock(
    suite,
    "heartbeats go on while close() drains a long handler",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("workers"), { leaseMs: 3_000 });
      const { id } = await queue.publish("long");
      const probe = new Probe<string>();
      const worker = queue.work(probe.handler);
      const seen = record(worker);
      await pollUntil(() => probe.calls.length === 1, { what: "the handler to start" });

      const closing = track(worker.close({ timeoutMs: 60_000 }));
      for (let elapsed = 0; elapsed < 12_000; elapsed += 500) {
        clock.advance(500);
        await letWakeUpsRun();
      }
      expect(closing.settled).toBe(false);
      expect(await statusOf(ctx.spool, id)).toMatchObject({ state: "leased", attempt: 1 });
      expect((await queue.stats()).totals.retried).toBe(0);

      probe.release();
      await pollUntil(() => closing.settled, { what: "close() to finish" });
      expect(seen.completed.map((c) => c.id)).toEqual([id]);
      expect((await statusOf(ctx.spool, id)).state).toBe("completed");
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<string>(uniqueQueueName("workers"), { leaseMs: 900 });
      const { id } = await queue.publish("long");
      const probe = new Probe<string>();
      const worker = queue.work(probe.handler);
      const seen = record(worker);
      await pollUntil(() => probe.calls.length === 1, { what: "the handler to start" });

      const closing = track(worker.close({ timeoutMs: 60_000 }));
      await waitForClock(ctx.store, probe.calls[0].leaseUntil + 300, "a heartbeat past the first lease's end");
      expect(closing.settled).toBe(false);
      await expectStillLeased(ctx, queue, id, probe);

      probe.release();
      await pollUntil(() => closing.settled, { what: "close() to finish" });
      expect(seen.completed.map((c) => c.id)).toEqual([id]);
      expect((await statusOf(ctx.spool, id)).state).toBe("completed");
    },
  );

  it("ctx.extendLease moves the lease's end to now + ms", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<string>(uniqueQueueName("workers"), { leaseMs: 3_000 });
    const { id } = await queue.publish("x");
    const probe = new Probe<string>();
    const worker = queue.work(probe.handler);
    const seen = record(worker);
    await pollUntil(() => probe.calls.length === 1, { what: "the handler to start" });

    ctx.clock?.advance(700);
    const extended = await timed(ctx.store, () => probe.contexts[0].extendLease(120_000));
    expectSetDuring((await statusOf(ctx.spool, id)).leaseUntil, extended, 120_000, "the extended lease's end");
    probe.release();
    await pollUntil(() => seen.completed.length === 1, { what: "the handler to complete" });
    await worker.close();
  });

  it("a lost lease aborts ctx.signal with lease_lost, and the worker neither acks nor nacks", async () => {
    const ctx = await open();
    // Heartbeats every leaseMs / 3: 1000 ms moved on a ManualClock, 100 ms passing on the system clock.
    const queue = ctx.spool.queue<string>(uniqueQueueName("workers"), { leaseMs: ctx.clock ? 3_000 : 300 });
    await queue.publish("x");
    const probe = new Probe<string>();
    const worker = queue.work(probe.handler);
    const seen = record(worker);
    await pollUntil(() => probe.calls.length === 1, { what: "the handler to start" });

    // Deleting the queue takes the message away: its lease is gone, the next heartbeat says so.
    await queue.delete();
    ctx.clock?.advance(1_000);
    await pollUntil(() => probe.contexts[0].signal.aborted, { what: "ctx.signal to abort" });
    expect(codeOf(probe.contexts[0].signal.reason)).toBe("lease_lost");
    await pollUntil(() => probe.active === 0 && worker.running === 0, { what: "the delivery to end" });
    expect(seen.completed).toEqual([]);
    expect(seen.failed).toEqual([]);
    expect(seen.errors.map(codeOf)).toContain("lease_lost");
    await spoolError(() => probe.contexts[0].extendLease(1_000), "lease_lost");
    await worker.close();
  });

  it("chaining: ctx.publish passes the correlationId on (or starts it with the root's id) and sets causationId", async () => {
    const { spool } = await open();
    const a = spool.queue<string>(uniqueQueueName("chain-a"));
    const b = spool.queue<string>(uniqueQueueName("chain-b"));
    const c = spool.queue<string>(uniqueQueueName("chain-c"));
    const seenB: LeasedMessage<string>[] = [];
    const workerA = a.work(async (message, ctx) => {
      await ctx.publish(b.name, `${message.body}>b`);
    });
    const workerB = b.work(async (message, ctx) => {
      seenB.push(message);
      await ctx.publish(c.name, `${message.body}>c`);
    });

    const root = await a.publish("root");
    const correlated = await a.publish("order", { correlationId: "order-42" });
    // Lease rather than read stats: stats count a publish the engine holds before it is durable
    // (and leasable), so "ready === 2" could come while the second ctx.publish is in flight.
    const leaves: LeasedMessage<string>[] = [];
    await pollUntil(async () => (leaves.push(...(await c.lease({ max: 2 - leaves.length }))), leaves.length === 2), { what: "both chains to reach c" });
    const byBody = new Map(leaves.map((m) => [m.body, m]));
    const middleOf = (body: string) => seenB.find((m) => m.body === body) as LeasedMessage<string>;

    const rootB = middleOf("root>b");
    expect(rootB).toMatchObject({ correlationId: root.id, causationId: root.id });
    expect(byBody.get("root>b>c")).toMatchObject({ correlationId: root.id, causationId: rootB.id });

    const orderB = middleOf("order>b");
    expect(orderB).toMatchObject({ correlationId: "order-42", causationId: correlated.id });
    expect(byBody.get("order>b>c")).toMatchObject({ correlationId: "order-42", causationId: orderB.id });
    await Promise.all([workerA.close(), workerB.close()]);
  });

  /**
   * A worker whose circuit opens after 4 failures; the failed messages retry far in the future.
   * On a ManualClock the circuit stays open 10 s of moved time; on the system clock 500 ms (time
   * enough, on a loaded machine, to check that nothing is leased while it is open).
   */
  async function openCircuit(ctx: SuiteContext) {
    const openMs = ctx.clock ? 10_000 : 500;
    const leaseMs = ctx.clock ? 3_000 : 300; // heartbeats every leaseMs / 3
    const queue = ctx.spool.queue<number>(uniqueQueueName("circuit"), { backoff: { type: "fixed", baseMs: 3_600_000, jitter: "none" } });
    const probe = new Probe<number>("fail");
    const worker = queue.work(probe.handler, { concurrency: 3, leaseMs, circuitBreaker: { sampleSize: 4, failureThreshold: 0.5, openMs } });
    const seen = record(worker, ctx.store.clock);

    await queue.publishMany([0, 1, 2].map((body) => ({ body })));
    await pollUntil(() => seen.failed.length === 3, { what: "3 failures" });
    await letWakeUpsRun();
    expect(worker.circuitState).toBe("closed"); // the window is not full yet
    expect((await queue.stats()).circuits).toEqual(["closed"]);

    await queue.publish(3);
    await pollUntil(() => seen.circuit.length === 1, { what: "the circuit to open" });
    expect(seen.circuit).toEqual(["open"]);
    expect(worker.circuitState).toBe("open");
    expect((await queue.stats()).circuits).toEqual(["open"]);

    // While open, nothing is leased: new messages wait, with no attempt used.
    probe.mode = "hold";
    const waiting = await queue.publishMany([10, 11, 12].map((body) => ({ body })));
    // The circuit opens as the 4th failure is seen; its nack lands a round trip later on a store behind a network.
    await pollUntil(async () => (await queue.stats()).leased === 0, { what: "the 4th failure's nack" });
    await letWakeUpsRun();
    expect(probe.calls).toHaveLength(4);
    expect(counts(await queue.stats())).toMatchObject({ ready: 3, leased: 0 });
    for (const { id } of waiting) expect((await statusOf(ctx.spool, id)).attempt).toBe(0);
    return { queue, probe, worker, seen, waiting, openMs };
  }

  /**
   * Lets the open circuit's openMs run out: a ManualClock moves to 1 ms before it (still open,
   * nothing leased) and then onto it; on the system clock time passes by itself, and the trial's
   * start is held to openMs after the circuit opened (`expectOpenFor`).
   */
  async function passOpenMs(ctx: SuiteContext, openCircuit: { probe: Probe<number>; worker: Worker<number>; openMs: number }): Promise<void> {
    if (!ctx.clock) return;
    const calls = openCircuit.probe.calls.length;
    ctx.clock.advance(openCircuit.openMs - 1);
    await letWakeUpsRun();
    expect(openCircuit.probe.calls).toHaveLength(calls);
    expect(openCircuit.worker.circuitState).toBe("open");
    ctx.clock.advance(1);
  }

  /**
   * The circuit's `index`th change (to half-open) came openMs after the one before it (to open).
   * Within `toleranceMs` on the system clock (TIMER_SLACK_MS: the open period is a timer).
   */
  function expectOpenFor(seen: ReturnType<typeof record>, index: number, openMs: number, toleranceMs: number): void {
    expect(seen.circuit[index - 1]).toBe("open");
    expect(seen.circuit[index]).toBe("half-open");
    expect(seen.circuitAt[index] - seen.circuitAt[index - 1], "half-open before openMs had passed").toBeGreaterThanOrEqual(openMs - toleranceMs);
  }

  it("circuit breaker: opens at the failure ratio, leases nothing while open, half-opens for one trial, closes on success", async () => {
    const ctx = await open();
    const circuit = await openCircuit(ctx);
    const { queue, probe, worker, seen, waiting, openMs } = circuit;

    await passOpenMs(ctx, circuit);
    await pollUntil(() => probe.calls.length === 5, { what: "the half-open trial" });
    await letWakeUpsRun();
    expect(seen.circuit).toEqual(["open", "half-open"]);
    expectOpenFor(seen, 1, openMs, ctx.clock ? 0 : TIMER_SLACK_MS);
    expect((await queue.stats()).circuits).toEqual(["half-open"]);
    expect(probe.active).toBe(1); // one trial only, though concurrency is 3
    expect(counts(await queue.stats())).toMatchObject({ ready: 2, leased: 1 });

    probe.mode = "succeed";
    probe.release();
    await pollUntil(() => seen.completed.length === 3, { what: "the trial and the rest to complete" });
    expect(seen.circuit).toEqual(["open", "half-open", "closed"]);
    expect((await queue.stats()).circuits).toEqual(["closed"]);
    for (const { id } of waiting) expect(await statusOf(ctx.spool, id)).toMatchObject({ state: "completed", attempt: 1 });
    await worker.close();
  });

  it("circuit breaker: a failed trial re-opens the circuit for another openMs", async () => {
    const ctx = await open();
    const circuit = await openCircuit(ctx);
    const { queue, probe, worker, seen, openMs } = circuit;

    await passOpenMs(ctx, circuit);
    await pollUntil(() => probe.calls.length === 5, { what: "the half-open trial" });
    probe.fail();
    await pollUntil(() => seen.circuit.length === 3, { what: "the circuit to re-open" });
    expect(seen.circuit).toEqual(["open", "half-open", "open"]);
    // The circuit re-opens as the trial fails; its nack lands a round trip later on a store behind a network.
    await pollUntil(async () => (await queue.stats()).leased === 0, { what: "the failed trial's nack" });
    await letWakeUpsRun();
    expect(probe.calls).toHaveLength(5);
    expect(counts(await queue.stats())).toMatchObject({ ready: 2, leased: 0 });

    await passOpenMs(ctx, circuit);
    await pollUntil(() => probe.calls.length === 6, { what: "the next trial" });
    expect(seen.circuit).toEqual(["open", "half-open", "open", "half-open"]);
    expectOpenFor(seen, 3, openMs, ctx.clock ? 0 : TIMER_SLACK_MS);
    probe.mode = "succeed";
    probe.release();
    await pollUntil(() => seen.completed.length === 2, { what: "the rest to complete" });
    expect(seen.circuit.at(-1)).toBe("closed");
    await worker.close();
  });

  it("circuit breaker: a half-open trial whose lease is lost does not leave the circuit stuck", async () => {
    const ctx = await open();
    const circuit = await openCircuit(ctx);
    const { queue, probe, worker, seen } = circuit;

    await passOpenMs(ctx, circuit);
    await pollUntil(() => probe.calls.length === 5, { what: "the half-open trial" });
    const trial = probe.calls[4];
    // Someone else settles the trial's message (its token leaked to another consumer): the
    // worker's next heartbeat finds the lease gone and aborts the handler.
    await queue.nack(trial.id, trial.leaseToken, { error: { message: "taken over", kind: "transient" } });
    ctx.clock?.advance(1_000); // the worker's leaseMs / 3: a heartbeat (on the system clock, 100 ms pass by themselves)
    await pollUntil(() => probe.contexts[4].signal.aborted, { what: "the trial to be aborted" });

    // No verdict came from that trial: another one is let through.
    await pollUntil(() => probe.calls.length === 6, { what: "a new trial" });
    expect(seen.circuit).toEqual(["open", "half-open"]);
    probe.mode = "succeed";
    probe.release();
    await pollUntil(() => seen.circuit.at(-1) === "closed", { what: "the circuit to close" });
    await pollUntil(() => seen.completed.length === 3, { what: "the rest to complete" });
    await worker.close();
  });

  it("close() stops leasing: messages published afterwards stay ready", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("workers"));
    const probe = new Probe<number>("succeed");
    const worker = queue.work(probe.handler);
    await queue.publish(1);
    await pollUntil(() => probe.calls.length === 1, { what: "the first message to be handled" });
    const closed = worker.close();
    expect(worker.close()).toBe(closed); // idempotent
    await closed;
    expect(worker.closed).toBe(true);

    await queue.publish(2);
    await letWakeUpsRun();
    expect(probe.calls).toHaveLength(1);
    expect(counts(await queue.stats())).toMatchObject({ ready: 1, leased: 0 });
  });

  it("close() waits for in-flight handlers to finish, leasing nothing new meanwhile", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("workers"));
    const probe = new Probe<number>();
    // Concurrency 1: with a free slot, a lease call issued just before close() (a late wake-up)
    // may still bring message 2, which close() then rightly waits for (the test below).
    const worker = queue.work(probe.handler, { concurrency: 1 });
    const seen = record(worker);
    const [first] = await queue.publishMany([{ body: 1 }]);
    await pollUntil(() => probe.calls.length === 1, { what: "the handler to start" });

    const closing = track(worker.close({ timeoutMs: 60_000 }));
    await queue.publish(2);
    await letWakeUpsRun();
    expect(closing.settled).toBe(false);
    expect(probe.contexts[0].signal.aborted).toBe(false);
    expect(probe.calls).toHaveLength(1);

    probe.release();
    await pollUntil(() => closing.settled, { what: "close() to finish" });
    expect(seen.completed.map((c) => c.id)).toEqual([first.id]);
    expect((await statusOf(spool, first.id)).state).toBe("completed");
    expect(counts(await queue.stats())).toMatchObject({ ready: 1, leased: 0 });
  });

  it("close() past its deadline aborts ctx.signal and releases the message, which becomes leasable again", async () => {
    const { spool } = await open();
    // maxAttempts 1: a shutdown must not use up the message's last attempt.
    const queue = spool.queue<string>(uniqueQueueName("workers"), { maxAttempts: 1 });
    const { id } = await queue.publish("x");
    const probe = new Probe<string>();
    const worker = queue.work(probe.handler);
    const seen = record(worker);
    await pollUntil(() => probe.calls.length === 1, { what: "the handler to start" });

    await worker.close({ timeoutMs: 0 });
    expect(probe.contexts[0].signal.aborted).toBe(true);
    expect(probe.contexts[0].signal.reason).toBeInstanceOf(WorkerClosedError);
    expect(seen.completed).toEqual([]);
    expect(seen.errors).toEqual([]);
    expect((await statusOf(spool, id)).state).toBe("ready");
    const [again] = await queue.lease();
    expect(again).toMatchObject({ id, attempt: 1 });
  });

  it("close() past its deadline returns even when the handler ignores ctx.signal", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("workers"));
    const { id } = await queue.publish("x");
    let started = 0;
    const worker = queue.work(() => {
      started++;
      return new Promise(() => {});
    });
    await pollUntil(() => started === 1, { what: "the handler to start" });
    await worker.close({ timeoutMs: 0 });
    expect((await statusOf(spool, id)).state).toBe("ready");
  });

  it("spool.close() drains every worker before it closes the store", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("workers"));
    const { id } = await queue.publish("x");
    const probe = new Probe<string>();
    const worker = queue.work(probe.handler);
    const seen = record(worker);
    await pollUntil(() => probe.calls.length === 1, { what: "the handler to start" });

    const closing = track(spool.close());
    await letWakeUpsRun();
    expect(closing.settled).toBe(false);
    expect(probe.contexts[0].signal.aborted).toBe(false);

    probe.release();
    await pollUntil(() => closing.settled, { what: "spool.close() to finish" });
    expect(worker.closed).toBe(true);
    expect(seen.completed.map((c) => c.id)).toEqual([id]);
    expect(seen.errors).toEqual([]);
  });

  it("close() also waits for a message whose lease call was still in flight when it was called", async () => {
    // A store whose lease answers only when the test says so (as a slow network would).
    const clock = suite.clockMode === "manual" ? new ManualClock() : systemClock;
    const base = await suite.createStore(clock, () => 0.5);
    let gate: ReturnType<typeof deferred> | undefined;
    let leaseCalls = 0;
    const store = storeProxy(base, {
      lease: async (...args: Parameters<Store["lease"]>) => {
        leaseCalls++;
        const leased = await base.lease(...args);
        if (gate && leased.length > 0) await gate.promise;
        return leased;
      },
    });
    const spool = await Spool.open({ store });
    try {
      const queue = spool.queue<string>(uniqueQueueName("workers"));
      await queue.info();
      const probe = new Probe<string>();
      const worker = queue.work(probe.handler);
      const seen = record(worker);
      await pollUntil(() => leaseCalls > 0, { what: "the worker to start leasing" });

      gate = deferred();
      const { id } = await queue.publish("x");
      await pollUntil(async () => (await queue.stats()).leased === 1, { what: "the lease to be taken" });
      const closing = track(worker.close({ timeoutMs: 60_000 }));
      await letWakeUpsRun();
      gate.resolve(); // the lease call answers after close() began

      await pollUntil(() => probe.calls.length === 1 || closing.settled, { what: "the message to be handled or close() to end" });
      await letWakeUpsRun();
      expect(closing.settled, "close() returned while a handler was still running").toBe(false);
      probe.release();
      await pollUntil(() => closing.settled, { what: "close() to finish" });
      expect(seen.completed.map((c) => c.id)).toEqual([id]);
      expect(counts(await queue.stats())).toMatchObject({ leased: 0, ready: 0 });
    } finally {
      await spool.close();
    }
  });
};
