/**
 * A message's story: the progress a running handler reports (`ctx.progress`, `Spool.report`),
 * its short log (`ctx.log`: bounded, oldest lines dropped, long lines cut) and the handler's
 * result (its return value, or an ack's `result`), all shown by `status(id)`: progress and log
 * while it runs and after, the result with the completed status for as long as that is kept.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import { STORY_LIMITS, type HandlerContext } from "../../../src/index.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { leaseOne, statusOf } from "./consume-helpers.js";
import { deferred, spoolError } from "./publish-helpers.js";

export const story: AreaDefinition = (_suite, open) => {
  it("progress reported on a leased message shows in its status, each report replacing the last", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("story"));
    const { id } = await queue.publish(1);
    expect((await statusOf(spool, id)).progress).toBeUndefined();
    const m = await leaseOne(queue);
    await queue.report(m.id, m.leaseToken, { progress: 10 });
    expect(await statusOf(spool, id)).toMatchObject({ state: "leased", progress: 10 });
    await queue.report(m.id, m.leaseToken, { progress: { done: 3, of: 7, stage: "upload" } });
    expect((await statusOf(spool, id)).progress).toEqual({ done: 3, of: 7, stage: "upload" });
    await queue.report(m.id, m.leaseToken, { log: "no progress in this one" });
    expect((await statusOf(spool, id)).progress).toEqual({ done: 3, of: 7, stage: "upload" });
  });

  it("a report needs the current lease: a stale token is lease_lost and changes nothing", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("story"));
    const { id } = await queue.publish(1);
    const m = await leaseOne(queue);
    await queue.report(m.id, m.leaseToken, { progress: 1, log: "one" });
    await queue.nack(m.id, m.leaseToken, { delayMs: 0 });
    const before = await statusOf(spool, id);
    expect((await spoolError(() => queue.report(m.id, m.leaseToken, { progress: 2, log: "late" }), "lease_lost")).code).toBe("lease_lost");
    expect((await spoolError(() => queue.report(m.id, "not-a-token", { progress: 2 }), "lease_lost")).code).toBe("lease_lost");
    const after = await statusOf(spool, id);
    expect(after.progress).toBe(1);
    expect(after.log).toEqual(before.log);
  });

  it("progress is bounded: a value over maxProgressBytes as JSON is too_large, and one JSON cannot carry is refused", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("story"));
    const { id } = await queue.publish(1);
    const m = await leaseOne(queue);
    const big = "x".repeat(STORY_LIMITS.maxProgressBytes);
    expect((await spoolError(() => queue.report(m.id, m.leaseToken, { progress: big }), "too_large")).code).toBe("too_large");
    expect((await spoolError(() => queue.report(m.id, m.leaseToken, { progress: () => 1 }), "validation_failed")).code).toBe("validation_failed");
    expect((await statusOf(spool, id)).progress).toBeUndefined();
  });

  it("the log keeps the newest maxLogLines lines, oldest first, each stamped and cut at maxLogLineChars", async () => {
    const { spool, store } = await open();
    const queue = spool.queue<number>(uniqueQueueName("story"));
    const { id } = await queue.publish(1);
    const m = await leaseOne(queue);
    const before = store.clock.now();
    await queue.report(m.id, m.leaseToken, { log: ["line 0", "line 1"] });
    for (let i = 2; i < STORY_LIMITS.maxLogLines + 10; i += 4) {
      await queue.report(m.id, m.leaseToken, { log: [i, i + 1, i + 2, i + 3].map((n) => `line ${n}`) });
    }
    const long = "y".repeat(STORY_LIMITS.maxLogLineChars + 50);
    await queue.report(m.id, m.leaseToken, { log: long });
    const log = (await statusOf(spool, id)).log ?? [];
    expect(log).toHaveLength(STORY_LIMITS.maxLogLines);
    const total = 2 + Math.ceil((STORY_LIMITS.maxLogLines + 8) / 4) * 4 + 1;
    expect(log[0].line).toBe(`line ${total - STORY_LIMITS.maxLogLines}`);
    expect(log[log.length - 2].line).toBe(`line ${total - 2}`);
    const last = log[log.length - 1].line;
    expect(last).toHaveLength(STORY_LIMITS.maxLogLineChars);
    expect(last.endsWith("…")).toBe(true);
    for (const entry of log) {
      expect(entry.at).toBeGreaterThanOrEqual(before);
      expect(entry.at).toBeLessThanOrEqual(store.clock.now() + 1000);
    }
  });

  it("an ack's result is kept with the completed status, with the progress and log, and goes with the retention", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("story"), { completedRetentionCount: 1 });
    const [first, second] = (await queue.publishMany([{ body: 1 }, { body: 2 }])).map((r) => r.id);
    const m = await leaseOne(queue);
    expect(m.id).toBe(first);
    await queue.report(m.id, m.leaseToken, { progress: 100, log: "done" });
    await queue.ack(m.id, m.leaseToken, { result: { sent: true, to: ["a", "b"] } });
    const status = await statusOf(spool, first);
    expect(status).toMatchObject({ state: "completed", result: { sent: true, to: ["a", "b"] }, progress: 100 });
    expect(status.log?.map((entry) => entry.line)).toEqual(["done"]);
    const n = await leaseOne(queue);
    await queue.ack(n.id, n.leaseToken);
    expect(await spool.status(first)).toBeUndefined(); // the retention kept only the newest
    const plain = await statusOf(spool, second);
    expect(plain.state).toBe("completed");
    expect(plain.result).toBeUndefined();
  });

  it("ackMany keeps each item's result; a result over maxResultBytes is too_large and acks nothing", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("story"));
    await queue.publishMany([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const [a, b, c] = await queue.lease({ max: 3 });
    const big = "z".repeat(STORY_LIMITS.maxResultBytes);
    expect((await spoolError(() => queue.ackMany([{ id: a.id, leaseToken: a.leaseToken }, { id: b.id, leaseToken: b.leaseToken, result: big }]), "too_large")).code).toBe("too_large");
    expect((await spoolError(() => queue.ack(c.id, c.leaseToken, { result: big }), "too_large")).code).toBe("too_large");
    expect((await queue.stats()).leased).toBe(3);
    const outcomes = await queue.ackMany([
      { id: a.id, leaseToken: a.leaseToken, result: "a" },
      { id: b.id, leaseToken: b.leaseToken },
      { id: c.id, leaseToken: c.leaseToken, result: [3] },
    ]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect((await statusOf(spool, a.id)).result).toBe("a");
    expect((await statusOf(spool, b.id)).result).toBeUndefined();
    expect((await statusOf(spool, c.id)).result).toEqual([3]);
  });

  it("a dead message keeps its log and progress in its status", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("story"));
    const { id } = await queue.publish(1);
    const m = await leaseOne(queue);
    await queue.report(m.id, m.leaseToken, { progress: 0.5, log: ["started", "failed at step 2"] });
    await queue.nack(m.id, m.leaseToken, { error: { message: "boom", kind: "permanent" } });
    const status = await statusOf(spool, id);
    expect(status).toMatchObject({ state: "dead", progress: 0.5 });
    expect(status.log?.map((entry) => entry.line)).toEqual(["started", "failed at step 2"]);
  });

  it("a handler's ctx.progress and ctx.log show while it runs; its return value becomes the result", async () => {
    const { spool } = await open();
    const queue = spool.queue<{ n: number }>(uniqueQueueName("story"));
    const { id } = await queue.publish({ n: 2 });
    const reported = deferred();
    const finish = deferred();
    const worker = queue.work(async (message, ctx: HandlerContext) => {
      await ctx.log("starting");
      await ctx.progress({ pct: 50 });
      reported.resolve();
      await finish.promise;
      void ctx.log("finishing"); // not awaited: still recorded before the ack (same lease)
      return { doubled: message.body.n * 2 };
    });
    try {
      await reported.promise;
      const running = await statusOf(spool, id);
      expect(running).toMatchObject({ state: "leased", progress: { pct: 50 } });
      expect(running.log?.map((entry) => entry.line)).toEqual(["starting"]);
      finish.resolve();
      const done = await pollUntil(async () => {
        const status = await spool.status(id);
        return status?.state === "completed" ? status : undefined;
      });
      expect(done.result).toEqual({ doubled: 4 });
      expect(done.progress).toEqual({ pct: 50 });
    } finally {
      finish.resolve();
      await worker.close();
    }
  });

  it("a handler that returns nothing leaves no result; one whose result is too large completes without it", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("story"));
    const [plain, big] = (await queue.publishMany([{ body: 1 }, { body: 2 }])).map((r) => r.id);
    const errors: unknown[] = [];
    const worker = queue.work((message) => (message.body === 2 ? "r".repeat(STORY_LIMITS.maxResultBytes + 1) : undefined));
    worker.on("worker:error", ({ error }) => errors.push(error));
    try {
      await pollUntil(async () => (await spool.status(plain))?.state === "completed" && (await spool.status(big))?.state === "completed");
      expect((await statusOf(spool, plain)).result).toBeUndefined();
      expect((await statusOf(spool, big)).result).toBeUndefined();
      expect(errors.map((error) => (error as { code?: string }).code)).toEqual(["too_large"]);
    } finally {
      await worker.close();
    }
  });
};
