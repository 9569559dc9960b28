/**
 * Retries: a failed delivery (nack, or a handler that throws) goes back with backoff — fixed or
 * exponential, full jitter by default, capped at maxMs — until maxAttempts (per queue, overridable
 * per message), after which it is dead with `max_attempts`. A nack's delayMs overrides the
 * backoff. Errors are classified: permanent → dead at once (`permanent_error`), transient →
 * retried at once (still counted). `open()` injects `random` (0.5 unless given), so every
 * delay here is exact: pinned on a ManualClock; on the system clock each delay is 1/50 of the
 * manual one (tens of ms) and held to the window of the call that set it (time-helpers.ts).
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import { PermanentError, TransientError, type BackoffOptions, type NackOptions, type NackOutcome, type Queue, type Worker, type WorkerEvents } from "../../../src/index.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition, SuiteContext } from "../suite.js";
import { leaseOne, snapshot, statusOf } from "./consume-helpers.js";
import { counts, itOnClock, manualClock, spoolError } from "./publish-helpers.js";
import { expectSetDuring, observeChange, timed } from "./time-helpers.js";

/** An error a third-party library might throw: not ours, but it says "do not retry". */
class NotRetryable extends Error {
  readonly retryable = false;
}

export const retries: AreaDefinition = (suite, open) => {
  /**
   * A duration of the manual-clock test as this run uses it: itself on a ManualClock; on the system
   * clock 1/50 of it (at least 1 ms), so that a schedule of seconds runs in tens of ms.
   */
  const ms = (manualMs: number) => (suite.clockMode === "manual" ? manualMs : Math.max(1, Math.round(manualMs / 50)));

  /** Waits until the message `id`, delayed until `availableAt`, is ready: moves a ManualClock there, or watches it fall due. */
  async function untilDue(ctx: SuiteContext, id: string, availableAt: number): Promise<void> {
    if (ctx.clock) {
      ctx.clock.advance(availableAt - ctx.clock.now());
      expect((await statusOf(ctx.spool, id)).state).toBe("ready");
    } else {
      const status = await observeChange(ctx.store, availableAt, () => statusOf(ctx.spool, id), (s) => s.state !== "delayed", "the retry's due time");
      expect(status.state).toBe("ready");
    }
  }

  /**
   * Leases and nacks the one message of `queue` until it is dead, checking that every retry
   * becomes leasable exactly `expected[i]` ms after the nack (not a millisecond earlier).
   */
  async function expectSchedule(ctx: SuiteContext, queue: Queue<string>, id: string, expected: number[], nack: NackOptions = { error: "boom" }, firstAttempt = 1) {
    for (let i = 0; i < expected.length; i++) {
      // On a store where leases skip rows another transaction holds (SKIP LOCKED), a background
      // tick can hold the just-due message for a moment: ask until it comes (once, on every other store).
      const message = ctx.clock ? await leaseOne(queue) : (await pollUntil(async () => (await queue.lease({ max: 1 }))[0], { what: `retry ${i + 1} to be leasable`, timeoutMs: 2_000 }));
      expect(message.attempt).toBe(firstAttempt + i);
      const nacked = await timed(ctx.store, () => queue.nack(id, message.leaseToken, nack));
      const outcome = nacked.value;
      expect(outcome.state, `retry after attempt ${i + 1}`).toBe(expected[i] > 0 ? "delayed" : "ready");
      expectSetDuring(outcome.availableAt, nacked, expected[i], `retry after attempt ${i + 1}`);
      const status = await statusOf(ctx.spool, id);
      expect(status.availableAt).toBe(outcome.availableAt);
      if (ctx.clock) {
        expect(status.state).toBe(expected[i] > 0 ? "delayed" : "ready");
        if (expected[i] > 0) {
          ctx.clock.advance(expected[i] - 1);
          expect(await queue.lease({ max: 10 }), `not leasable 1 ms before its retry ${i + 1}`).toEqual([]);
          ctx.clock.advance(1);
        }
      } else if (expected[i] > 0) {
        await untilDue(ctx, id, outcome.availableAt);
      }
    }
  }

  async function queueWith(ctx: SuiteContext, backoff: BackoffOptions, maxAttempts = 10): Promise<Queue<string>> {
    return ctx.spool.queue<string>(uniqueQueueName("retries"), { backoff, maxAttempts });
  }

  it("exponential backoff with full jitter: random × min(maxMs, baseMs × factor^(attempt−1))", async () => {
    const ctx = await open(); // random() = 0.5
    const queue = await queueWith(ctx, { type: "exponential", baseMs: ms(1_000), factor: 2, maxMs: ms(3_000) });
    const { id } = await queue.publish("x");
    await expectSchedule(ctx, queue, id, [500, 1_000, 1_500, 1_500, 1_500].map(ms));
  });

  it("the jitter is drawn from the store's random source", async () => {
    const ctx = await open({ random: () => 0.25 });
    const queue = await queueWith(ctx, { type: "exponential", baseMs: ms(1_000), factor: 3, maxMs: ms(100_000), jitter: "full" });
    const { id } = await queue.publish("x");
    await expectSchedule(ctx, queue, id, [250, 750, 2_250].map(ms));
  });

  it("exponential backoff without jitter: exactly baseMs × factor^(attempt−1), capped", async () => {
    const ctx = await open();
    const queue = await queueWith(ctx, { type: "exponential", baseMs: ms(1_000), factor: 2, maxMs: ms(5_000), jitter: "none" });
    const { id } = await queue.publish("x");
    await expectSchedule(ctx, queue, id, [1_000, 2_000, 4_000, 5_000].map(ms));
  });

  it("linear backoff: baseMs + incrementMs × (attempt−1), capped (MassTransit's incremental)", async () => {
    const ctx = await open();
    const queue = await queueWith(ctx, { type: "linear", baseMs: ms(1_000), incrementMs: ms(1_500), maxMs: ms(4_500), jitter: "none" });
    const { id } = await queue.publish("x");
    await expectSchedule(ctx, queue, id, [1_000, 2_500, 4_000, 4_500].map(ms));
  });

  it("fixed backoff: the same delay every time (jittered by default, exact with jitter none)", async () => {
    const ctx = await open();
    const exact = await queueWith(ctx, { type: "fixed", baseMs: ms(2_000), jitter: "none" });
    const exactId = (await exact.publish("x")).id;
    await expectSchedule(ctx, exact, exactId, [2_000, 2_000, 2_000].map(ms));

    const jittered = await queueWith(ctx, { type: "fixed", baseMs: ms(2_000) });
    const jitteredId = (await jittered.publish("x")).id;
    await expectSchedule(ctx, jittered, jitteredId, [1_000, 1_000, 1_000].map(ms));
  });

  itOnClock(
    suite,
    "the default policy is exponential from 1000 ms with full jitter",
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<string>(uniqueQueueName("retries"));
      const { id } = await queue.publish("x");
      await expectSchedule(ctx, queue, id, [500, 1_000, 2_000, 4_000]);
    },
    async () => {
      // Seconds of real waiting are too long for the suite: the first retry is checked to the
      // millisecond, the later ones through the policy the queue resolved to.
      const ctx = await open();
      const queue = ctx.spool.queue<string>(uniqueQueueName("retries"));
      const { id } = await queue.publish("x");
      expect((await queue.info()).options.backoff).toEqual({ type: "exponential", baseMs: 1_000, factor: 2, incrementMs: 1_000, maxMs: 300_000, jitter: "full" });
      const message = await leaseOne(queue);
      const nacked = await timed(ctx.store, () => queue.nack(id, message.leaseToken, { error: "boom" }));
      expect(nacked.value.state).toBe("delayed");
      expectSetDuring(nacked.value.availableAt, nacked, 500, "the first retry");
    },
  );

  it("after maxAttempts failed deliveries the message is dead with max_attempts", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { maxAttempts: 3, backoff: { type: "fixed", baseMs: ms(100), jitter: "none" } });
    const { id } = await queue.publish("x");
    await expectSchedule(ctx, queue, id, [ms(100), ms(100)]);
    const last = await leaseOne(queue);
    expect(last.attempt).toBe(3);
    const outcome = await queue.nack(id, last.leaseToken, { error: "third time" });
    expect(outcome).toMatchObject({ state: "dead", deadReason: "max_attempts" });
    const status = await statusOf(ctx.spool, id);
    expect(status).toMatchObject({ state: "dead", deadReason: "max_attempts", attempt: 3 });
    expect(status.lastError).toEqual({ message: "third time", kind: "error" });
    const stats = await queue.stats();
    expect(counts(stats)).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 1 });
    expect(stats.totals).toMatchObject({ retried: 2, dead: 1, completed: 0 });
  });

  it("a per-message maxAttempts overrides the queue's, both lower and higher", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { maxAttempts: 3, backoff: { type: "fixed", baseMs: ms(10), jitter: "none" } });
    const low = await queue.publish("low", { maxAttempts: 1 });
    const high = await queue.publish("high", { maxAttempts: 5 });

    const [first] = await queue.lease();
    expect(first).toMatchObject({ id: low.id, maxAttempts: 1 });
    expect(await queue.nack(low.id, first.leaseToken, { error: "x" })).toMatchObject({ state: "dead", deadReason: "max_attempts" });

    await expectSchedule(ctx, queue, high.id, [10, 10, 10, 10].map(ms));
    const last = await leaseOne(queue);
    expect(last).toMatchObject({ id: high.id, attempt: 5, maxAttempts: 5 });
    expect(await queue.nack(high.id, last.leaseToken, { error: "x" })).toMatchObject({ state: "dead", deadReason: "max_attempts" });
  });

  it("a nack's delayMs overrides the backoff (0 = ready at once), but not maxAttempts", async () => {
    const ctx = await open();
    const backoffMs = ctx.clock ? 60_000 : 100;
    const delayMs = ctx.clock ? 12_345 : 30;
    const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { maxAttempts: 4, backoff: { type: "fixed", baseMs: backoffMs, jitter: "none" } });
    const { id } = await queue.publish("x");
    await expectSchedule(ctx, queue, id, [delayMs], { error: "rate limited", delayMs });
    await expectSchedule(ctx, queue, id, [0], { error: "again", delayMs: 0 }, 2);
    const third = await leaseOne(queue);
    expect(third.attempt).toBe(3);
    // Without delayMs the queue's backoff applies again.
    const nacked = await timed(ctx.store, () => queue.nack(id, third.leaseToken, { error: "x" }));
    expectSetDuring(nacked.value.availableAt, nacked, backoffMs, "the backoff's retry");
    await untilDue(ctx, id, nacked.value.availableAt);
    const last = await leaseOne(queue);
    expect(await queue.nack(id, last.leaseToken, { error: "x", delayMs: 5 })).toMatchObject({ state: "dead", deadReason: "max_attempts" });
  });

  it("nack rejects a bad delayMs or error kind with validation_failed and changes nothing", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<string>(uniqueQueueName("retries"));
    const { id } = await queue.publish("x");
    const message = await leaseOne(queue);
    const before = await snapshot(ctx.spool, queue, id);
    await spoolError(() => queue.nack(id, message.leaseToken, { delayMs: -1 }), "validation_failed");
    await spoolError(() => queue.nack(id, message.leaseToken, { delayMs: 1.5 }), "validation_failed");
    await spoolError(() => queue.nack(id, message.leaseToken, { error: { message: "x", kind: "fatal" as never } }), "validation_failed");
    expect(await snapshot(ctx.spool, queue, id)).toEqual(before);
  });

  const permanentErrors: Array<[string, NackOptions["error"]]> = [
    ["a PermanentError", new PermanentError("bad address")],
    ["any error with retryable === false", new NotRetryable("bad address")],
    ["{message, kind: 'permanent'}", { message: "bad address", kind: "permanent" }],
  ];
  for (const [name, error] of permanentErrors) {
    it(`a nack with ${name} sends the message dead at once with permanent_error`, async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { maxAttempts: 5 });
      const { id } = await queue.publish("x");
      const message = await leaseOne(queue);
      expect(await queue.nack(id, message.leaseToken, { error })).toMatchObject({ state: "dead", deadReason: "permanent_error" });
      const status = await statusOf(ctx.spool, id);
      expect(status).toMatchObject({ state: "dead", deadReason: "permanent_error", attempt: 1 });
      expect(status.lastError).toEqual({ message: "bad address", kind: "permanent" });
      const stats = await queue.stats();
      expect(counts(stats)).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 1 });
      expect(stats.totals.retried).toBe(0);
    });
  }

  const transientErrors: Array<[string, NackOptions["error"]]> = [
    ["a TransientError", new TransientError("connection reset")],
    ["{message, kind: 'transient'}", { message: "connection reset", kind: "transient" }],
  ];
  for (const [name, error] of transientErrors) {
    it(`a nack with ${name} retries at once, with no delay, and still counts the attempt`, async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { maxAttempts: 2, backoff: { type: "fixed", baseMs: 60_000 } });
      const { id } = await queue.publish("x");
      const first = await leaseOne(queue);
      const nacked = await timed(ctx.store, () => queue.nack(id, first.leaseToken, { error }));
      expect(nacked.value.state).toBe("ready");
      expectSetDuring(nacked.value.availableAt, nacked, 0, "a transient retry");
      expect((await statusOf(ctx.spool, id)).lastError).toEqual({ message: "connection reset", kind: "transient" });
      expect((await queue.stats()).totals.retried).toBe(1);

      const second = await leaseOne(queue); // no clock movement needed
      expect(second.attempt).toBe(2);
      // Transient failures still use up attempts.
      expect(await queue.nack(id, second.leaseToken, { error })).toMatchObject({ state: "dead", deadReason: "max_attempts" });
    });
  }

  it("a nack with a plain Error, a string or no error at all retries with backoff", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { backoff: { type: "fixed", baseMs: ms(1_000), jitter: "none" } });
    const { id } = await queue.publish("x");
    for (const error of [new Error("plain"), "a string", undefined]) {
      const message = await leaseOne(queue);
      const nacked = await timed(ctx.store, () => queue.nack(id, message.leaseToken, error === undefined ? {} : { error }));
      expect(nacked.value.state).toBe("delayed");
      expectSetDuring(nacked.value.availableAt, nacked, ms(1_000), "the backoff's retry");
      const lastError = (await statusOf(ctx.spool, id)).lastError;
      expect(lastError?.kind).toBe("error");
      if (error !== undefined) expect(lastError?.message).toBe(typeof error === "string" ? error : error.message);
      await untilDue(ctx, id, nacked.value.availableAt);
    }
  });

  // ── the same through queue.work handlers ────────────────────────────────────────────────

  function failures<T>(worker: Worker<T>) {
    const failed: WorkerEvents["message:failed"][0][] = [];
    const completed: WorkerEvents["message:completed"][0][] = [];
    worker.on("message:failed", (event) => failed.push(event));
    worker.on("message:completed", (event) => completed.push(event));
    return { failed, completed };
  }

  /** A handler's attempt on the system clock: when it was leased and when it threw (store time). */
  interface Attempt {
    attempt: number;
    leasedAt: number;
    thrownAt: number;
  }
  const WORKER_LEASE_MS = 60_000;

  /**
   * On the system clock: attempt `i` failed with a retry `delayMs` after the failure (which came
   * between the throw and the event that reported it, `reportedAt`), and attempt `i + 1` was not
   * leased before that retry was due.
   */
  function expectRetriedAfter(attempts: Attempt[], outcome: NackOutcome | undefined, reportedAt: number, i: number, delayMs: number): void {
    expect(outcome?.state, `the outcome of attempt ${i + 1}`).toBe("delayed");
    const availableAt = outcome?.availableAt ?? NaN;
    expectSetDuring(availableAt, { from: attempts[i].thrownAt, to: reportedAt }, delayMs, `the retry after attempt ${i + 1}`);
    const next = attempts[i + 1];
    if (next) expect(next.leasedAt, `attempt ${i + 2} leased before its retry was due`).toBeGreaterThanOrEqual(availableAt);
  }

  for (const [name, make] of [
    ["PermanentError", () => new PermanentError("bad address")],
    ["an error with retryable === false", () => new NotRetryable("bad address")],
  ] as const) {
    it(`a handler that throws ${name} sends the message dead at once with permanent_error`, async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { maxAttempts: 5 });
      const { id } = await queue.publish("x");
      let calls = 0;
      const worker = queue.work(() => {
        calls++;
        throw make();
      });
      const seen = failures(worker);
      await pollUntil(() => seen.failed.length === 1, { what: "the handler to fail" });
      expect(seen.failed[0].outcome).toMatchObject({ state: "dead", deadReason: "permanent_error" });
      const status = await statusOf(ctx.spool, id);
      expect(status).toMatchObject({ state: "dead", deadReason: "permanent_error", attempt: 1 });
      expect(status.lastError).toEqual({ message: "bad address", kind: "permanent" });
      expect(calls).toBe(1);
      await worker.close();
    });
  }

  it("a handler that throws TransientError is retried at once (no clock movement) and the attempt counts", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { backoff: { type: "fixed", baseMs: 60_000 } });
    const { id } = await queue.publish("x");
    const attempts: number[] = [];
    const worker = queue.work((message) => {
      attempts.push(message.attempt);
      if (message.attempt < 3) throw new TransientError("flaky");
    });
    const seen = failures(worker);
    await pollUntil(() => seen.completed.length === 1, { what: "the third attempt to succeed" });
    expect(attempts).toEqual([1, 2, 3]);
    expect(seen.failed.map((f) => f.outcome?.state)).toEqual(["ready", "ready"]);
    const stats = await queue.stats();
    expect(stats.totals).toMatchObject({ retried: 2, completed: 1, dead: 0 });
    expect((await statusOf(ctx.spool, id)).state).toBe("completed");
    await worker.close();
  });

  itOnClock(
    suite,
    "a handler's error with retryAfterMs (TransientError option or a plain property) is retried after exactly that long, not the backoff",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { maxAttempts: 3, backoff: { type: "fixed", baseMs: 60_000, jitter: "none" } });
      const { id } = await queue.publish("x");
      const attempts: number[] = [];
      const worker = queue.work((message) => {
        attempts.push(message.attempt);
        if (message.attempt === 1) throw new TransientError("busy", { retryAfterMs: 2_000 });
        if (message.attempt === 2) throw Object.assign(new Error("slow down"), { retryAfterMs: 700.2 });
      });
      const seen = failures(worker);

      await pollUntil(() => seen.failed.length === 1, { what: "the first failure" });
      expect(seen.failed[0].outcome).toEqual({ state: "delayed", availableAt: clock.now() + 2_000 });
      expect((await statusOf(ctx.spool, id)).lastError).toEqual({ message: "busy", kind: "transient" });
      clock.advance(1_999);
      expect((await statusOf(ctx.spool, id)).state).toBe("delayed");
      clock.advance(1);
      await pollUntil(() => seen.failed.length === 2, { what: "the second failure" });
      expect(seen.failed[1].outcome).toEqual({ state: "delayed", availableAt: clock.now() + 701 }); // whole ms, rounded up
      clock.advance(701);
      await pollUntil(() => seen.completed.length === 1, { what: "the third attempt to succeed" });
      expect(attempts).toEqual([1, 2, 3]);
      await worker.close();
    },
    async () => {
      const ctx = await open();
      const clock = ctx.store.clock;
      const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { maxAttempts: 3, backoff: { type: "fixed", baseMs: 60_000, jitter: "none" } });
      const { id } = await queue.publish("x");
      const attempts: Attempt[] = [];
      const worker = queue.work(
        (message) => {
          attempts.push({ attempt: message.attempt, leasedAt: message.leaseUntil - WORKER_LEASE_MS, thrownAt: clock.now() });
          if (message.attempt === 1) throw new TransientError("busy", { retryAfterMs: 40 });
          if (message.attempt === 2) throw Object.assign(new Error("slow down"), { retryAfterMs: 30.2 });
        },
        { leaseMs: WORKER_LEASE_MS },
      );
      const reportedAt: number[] = [];
      worker.on("message:failed", () => reportedAt.push(clock.now()));
      const seen = failures(worker);

      await pollUntil(() => seen.completed.length === 1, { what: "the third attempt to succeed" });
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      expectRetriedAfter(attempts, seen.failed[0].outcome, reportedAt[0], 0, 40);
      expectRetriedAfter(attempts, seen.failed[1].outcome, reportedAt[1], 1, 31); // whole ms, rounded up
      const status = await statusOf(ctx.spool, id);
      expect(status.state).toBe("completed");
      await worker.close();
    },
  );

  itOnClock(
    suite,
    "a handler that throws a plain Error is retried with backoff, then goes dead at maxAttempts",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { maxAttempts: 3, backoff: { type: "exponential", baseMs: 1_000, factor: 2, maxMs: 60_000 } });
      const { id } = await queue.publish("x");
      const attempts: number[] = [];
      const worker = queue.work((message) => {
        attempts.push(message.attempt);
        throw new Error(`failure ${message.attempt}`);
      });
      const seen = failures(worker);

      await pollUntil(() => seen.failed.length === 1, { what: "the first failure" });
      expect(seen.failed[0].outcome).toEqual({ state: "delayed", availableAt: clock.now() + 500 });
      clock.advance(499);
      expect((await statusOf(ctx.spool, id)).state).toBe("delayed");
      clock.advance(1);
      await pollUntil(() => seen.failed.length === 2, { what: "the second failure" });
      expect(seen.failed[1].outcome).toEqual({ state: "delayed", availableAt: clock.now() + 1_000 });
      clock.advance(1_000);
      await pollUntil(() => seen.failed.length === 3, { what: "the third failure" });
      expect(seen.failed[2].outcome).toMatchObject({ state: "dead", deadReason: "max_attempts" });

      expect(attempts).toEqual([1, 2, 3]);
      const status = await statusOf(ctx.spool, id);
      expect(status).toMatchObject({ state: "dead", deadReason: "max_attempts", attempt: 3 });
      expect(status.lastError).toEqual({ message: "failure 3", kind: "error" });
      await worker.close();
    },
    async () => {
      const ctx = await open();
      const clock = ctx.store.clock;
      const queue = ctx.spool.queue<string>(uniqueQueueName("retries"), { maxAttempts: 3, backoff: { type: "exponential", baseMs: 40, factor: 2, maxMs: 1_200 } });
      const { id } = await queue.publish("x");
      const attempts: Attempt[] = [];
      const worker = queue.work(
        (message) => {
          attempts.push({ attempt: message.attempt, leasedAt: message.leaseUntil - WORKER_LEASE_MS, thrownAt: clock.now() });
          throw new Error(`failure ${message.attempt}`);
        },
        { leaseMs: WORKER_LEASE_MS },
      );
      const reportedAt: number[] = [];
      worker.on("message:failed", () => reportedAt.push(clock.now()));
      const seen = failures(worker);

      await pollUntil(() => seen.failed.length === 3, { what: "the third failure" });
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      expectRetriedAfter(attempts, seen.failed[0].outcome, reportedAt[0], 0, 20); // random 0.5 × 40
      expectRetriedAfter(attempts, seen.failed[1].outcome, reportedAt[1], 1, 40); // random 0.5 × 80
      expect(seen.failed[2].outcome).toMatchObject({ state: "dead", deadReason: "max_attempts" });
      const status = await statusOf(ctx.spool, id);
      expect(status).toMatchObject({ state: "dead", deadReason: "max_attempts", attempt: 3 });
      expect(status.lastError).toEqual({ message: "failure 3", kind: "error" });
      await worker.close();
    },
  );
};
