/**
 * Queue administration: pause / resume, purge, delete, options (setOptions / info / list),
 * stats (counts by state, totals, oldest ready age) and message status over a message's life,
 * with completed statuses kept for completedRetentionMs / completedRetentionCount.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import { defaults } from "../../../src/index.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { itWith } from "./capability-helpers.js";
import { counts, itOnClock, leaseAll, letWakeUpsRun, manualClock, spoolError } from "./publish-helpers.js";

export const queueAdmin: AreaDefinition = (suite, open) => {
  // ── pause / resume ────────────────────────────────────────────────────────────────────

  it("a paused queue accepts publishes but leases nothing; resume hands out again", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("admin"));
    await queue.publish(1);
    await queue.pause();
    expect((await queue.stats()).paused).toBe(true);
    expect((await spool.queues()).find((q) => q.name === queue.name)?.paused).toBe(true);
    await queue.publish(2);
    await queue.publishMany([{ body: 3 }]);
    expect(await queue.stats()).toMatchObject({ ready: 3, leased: 0, paused: true });
    expect(await queue.lease({ max: 10 })).toEqual([]);
    await queue.resume();
    expect((await queue.stats()).paused).toBe(false);
    expect((await queue.lease({ max: 10 })).map((m) => m.body)).toEqual([1, 2, 3]);
  });

  it("a worker on a paused queue starts nothing until resume, then picks up the backlog", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("admin"));
    await queue.pause();
    const seen: number[] = [];
    const worker = queue.work(async (m) => void seen.push(m.body), { concurrency: 4 });
    let completed = 0;
    worker.on("message:completed", () => completed++);
    await queue.publishMany([1, 2, 3].map((body) => ({ body })));
    await letWakeUpsRun();
    expect(seen).toEqual([]);
    expect(await queue.stats()).toMatchObject({ ready: 3, leased: 0 });
    await queue.resume();
    await pollUntil(() => completed === 3, { what: "the backlog after resume" });
    expect(seen.sort()).toEqual([1, 2, 3]);
    // Pausing again stops new work while the worker stays idle.
    await queue.pause();
    await queue.publish(4);
    await letWakeUpsRun();
    expect(seen).toHaveLength(3);
  });

  it("a long-poll lease on a paused queue wakes on resume", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("admin"));
    await queue.pause();
    await queue.publish(7);
    let settled = false;
    const waiting = queue.lease({ waitMs: 10_000 }).finally(() => (settled = true));
    await letWakeUpsRun();
    expect(settled).toBe(false);
    await queue.resume();
    expect((await waiting).map((m) => m.body)).toEqual([7]);
  });

  it("leases taken before a pause can still be acked and nacked", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("admin"));
    await queue.publishMany([{ body: 1 }, { body: 2 }]);
    const [a, b] = await queue.lease({ max: 2 });
    await queue.pause();
    await queue.ack(a.id, a.leaseToken);
    const outcome = await queue.nack(b.id, b.leaseToken, { error: { message: "x", kind: "transient" } });
    expect(outcome.state).toBe("ready");
    expect(await queue.lease()).toEqual([]);
    expect(await queue.stats()).toMatchObject({ ready: 1, leased: 0, totals: { completed: 1, retried: 1 } });
  });

  // ── purge ─────────────────────────────────────────────────────────────────────────────

  itWith(suite, open, "orderingGroups", "purge removes every waiting message, returns the count, and leaves leased ones to finish", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("admin"));
    await queue.publishMany(["a", "b", "c", "d", "e"].map((body) => ({ body })));
    const delayed = await queue.publish("later", { delayMs: 60_000 });
    await queue.publish("g1", { groupKey: "g" });
    await queue.publish("g2", { groupKey: "g" });
    const leased = await queue.lease({ max: 2 });
    expect(leased.map((m) => m.body)).toEqual(["a", "b"]);
    expect(await queue.purge()).toBe(6); // c, d, e, later, g1, g2
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 0, leased: 2 });
    expect(await spool.status(delayed.id)).toBeUndefined();
    expect(await queue.lease({ max: 10 })).toEqual([]);
    for (const m of leased) await queue.ack(m.id, m.leaseToken);
    expect(await queue.stats()).toMatchObject({ leased: 0, totals: { completed: 2 } });
    expect(await queue.purge()).toBe(0);
    // The queue works as before.
    await queue.publish("after");
    expect((await leaseAll(queue)).map((m) => m.body)).toEqual(["after"]);
  });

  itWith(suite, open, "orderingGroups", "purge keeps a leased group head, and the group's later messages publish normally", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("admin"));
    await queue.publish("g1", { groupKey: "g" });
    await queue.publish("g2", { groupKey: "g" });
    const [head] = await queue.lease();
    expect(await queue.purge()).toBe(1);
    await queue.publish("g3", { groupKey: "g" });
    expect(await queue.lease()).toEqual([]); // g1 still holds the group
    await queue.ack(head.id, head.leaseToken);
    expect((await leaseAll(queue)).map((m) => m.body)).toEqual(["g3"]);
  });

  // ── delete ────────────────────────────────────────────────────────────────────────────

  it("delete removes the queue, its messages and dead letters; a later ack of its lease is lease_lost", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("admin"));
    const waiting = await queue.publish(1);
    await queue.publish(2);
    const dead = await queue.publish(3, { priority: 9 });
    const [d] = await queue.lease();
    expect(d.id).toBe(dead.id);
    await queue.nack(d.id, d.leaseToken, { error: { message: "x", kind: "permanent" } });
    const [leased] = await queue.lease();
    expect(await queue.delete()).toBe(true);
    expect((await spool.queues()).map((q) => q.name)).not.toContain(queue.name);
    await spoolError(() => queue.ack(leased.id, leased.leaseToken), "lease_lost");
    await spoolError(() => queue.nack(leased.id, leased.leaseToken), "lease_lost");
    await spoolError(() => queue.extend(leased.id, leased.leaseToken, 1000), "lease_lost");
    expect(await spool.ackMany([{ id: leased.id, leaseToken: leased.leaseToken }])).toEqual([{ id: leased.id, ok: false, code: "lease_lost" }]);
    expect(await spool.status(waiting.id)).toBeUndefined();
    expect(await spool.status(dead.id)).toBeUndefined();
    expect(await queue.delete()).toBe(false);
  });

  it("a deleted queue comes back empty when used again", async () => {
    const { spool } = await open();
    const name = uniqueQueueName("admin");
    const queue = spool.queue<number>(name, { maxAttempts: 2 });
    await queue.publish(1);
    await queue.delete();
    await queue.publish(2);
    expect(await queue.stats()).toMatchObject({ ready: 1, dead: 0, totals: { published: 1 } });
    expect((await leaseAll(queue)).map((m) => m.body)).toEqual([2]);
  });

  // ── options ───────────────────────────────────────────────────────────────────────────

  it("info shows the defaults; setOptions merges and applies to later messages", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("admin"));
    const info = await queue.info();
    expect(info).toMatchObject({ name: queue.name, paused: false });
    expect(info.options).toEqual(defaults.queue);
    expect(info.options).toMatchObject({
      maxAttempts: 5,
      leaseMs: 30_000,
      overflow: "reject",
      backoff: { type: "exponential", baseMs: 1000, factor: 2, maxMs: 300_000, jitter: "full" },
      idempotencyWindowMs: 24 * 3_600_000,
      completedRetentionMs: 24 * 3_600_000,
    });
    await queue.publish(1);

    const updated = await queue.setOptions({ maxAttempts: 2, backoff: { baseMs: 50 } });
    expect(updated.options).toMatchObject({ maxAttempts: 2, leaseMs: 30_000, backoff: { type: "exponential", baseMs: 50, factor: 2 } });
    expect((await queue.info()).options).toEqual(updated.options);
    expect((await spool.queues()).find((q) => q.name === queue.name)?.options).toEqual(updated.options);
    await queue.setOptions({ leaseMs: 5000 });
    expect((await queue.info()).options).toMatchObject({ maxAttempts: 2, leaseMs: 5000 });

    const later = await queue.publish(2);
    expect((await spool.status(later.id))?.maxAttempts).toBe(2);
    const [first] = await queue.lease();
    expect(first.leaseUntil - spool.store.clock.now()).toBeLessThanOrEqual(5000);
  });

  it("spool.queue(name, options) again merges the new options into the queue", async () => {
    const { spool } = await open();
    const name = uniqueQueueName("admin");
    spool.queue(name, { maxAttempts: 3 });
    const again = spool.queue(name, { leaseMs: 1234 });
    expect((await again.info()).options).toMatchObject({ maxAttempts: 3, leaseMs: 1234 });
    expect((await spool.queues()).filter((q) => q.name === name)).toHaveLength(1);
  });

  // ── stats ─────────────────────────────────────────────────────────────────────────────

  it("stats count messages by state and keep totals", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("admin"));
    expect(await queue.stats()).toMatchObject({
      name: queue.name,
      paused: false,
      ready: 0,
      delayed: 0,
      leased: 0,
      dead: 0,
      totals: { published: 0, completed: 0, retried: 0, dead: 0 },
      oldestReadyAgeMs: 0,
    });
    await queue.publishMany(["done", "retry", "dead", "held", "r1", "r2"].map((body) => ({ body })));
    await queue.publish("later", { delayMs: 60_000 });
    const [done, retry, dead, held] = await queue.lease({ max: 4 });
    await queue.ack(done.id, done.leaseToken);
    await queue.nack(retry.id, retry.leaseToken, { error: { message: "again", kind: "transient" } });
    await queue.nack(dead.id, dead.leaseToken, { error: { message: "bad", kind: "permanent" } });
    expect(held.body).toBe("held");
    expect(counts(await queue.stats())).toEqual({
      ready: 3, // r1, r2, retry
      delayed: 1,
      leased: 1,
      dead: 1,
      totals: { published: 7, completed: 1, retried: 1, dead: 1 },
    });
    await queue.replayDead({ all: true });
    expect(counts(await queue.stats())).toMatchObject({ ready: 4, dead: 0, totals: { published: 7, dead: 1 } });
  });

  it("stats of a queue that does not exist fail with not_found", async () => {
    const { spool } = await open();
    const queue = spool.queue(uniqueQueueName("admin"));
    await queue.delete();
    await spoolError(() => queue.stats(), "not_found");
  });

  itOnClock(
    suite,
    "oldestReadyAgeMs is the age of the longest-waiting ready message",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("admin"));
      await queue.publish("a");
      expect((await queue.stats()).oldestReadyAgeMs).toBe(0);
      clock.advance(1500);
      await queue.publish("b", { priority: 9 });
      await queue.publish("later", { delayMs: 60_000 });
      expect((await queue.stats()).oldestReadyAgeMs).toBe(1500);
      clock.advance(500);
      expect((await queue.stats()).oldestReadyAgeMs).toBe(2000);
      const [b] = await queue.lease();
      expect(b.body).toBe("b");
      expect((await queue.stats()).oldestReadyAgeMs).toBe(2000);
      const [a] = await queue.lease();
      expect(a.body).toBe("a");
      expect((await queue.stats()).oldestReadyAgeMs).toBe(0); // "later" is delayed, not ready
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<string>(uniqueQueueName("admin"));
      const { id } = await queue.publish("a");
      const publishedAt = (await ctx.spool.status(id))?.publishedAt ?? NaN;
      await pollUntil(() => ctx.store.clock.now() >= publishedAt + 20);
      expect((await queue.stats()).oldestReadyAgeMs).toBeGreaterThanOrEqual(20);
      await queue.lease();
      expect((await queue.stats()).oldestReadyAgeMs).toBe(0);
    },
  );

  // ── status ────────────────────────────────────────────────────────────────────────────

  itOnClock(
    suite,
    "status follows a message through its life; a completed status is kept for completedRetentionMs",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("admin"), { completedRetentionMs: 10_000 });
      const t0 = clock.now();
      // A groupKey shows in the status where the store keeps groups (the purge tests need them; this one does not).
      const groupKey = suite.supports.orderingGroups ? "g" : undefined;
      const { id } = await queue.publish("x", { delayMs: 1000, correlationId: "c-1", groupKey });
      expect(await ctx.spool.status(id)).toMatchObject({
        id,
        queue: queue.name,
        state: "delayed",
        attempt: 0,
        maxAttempts: 5,
        priority: 0,
        groupKey,
        publishedAt: t0,
        availableAt: t0 + 1000,
        correlationId: "c-1",
      });
      clock.advance(1000);
      expect(await ctx.spool.status(id)).toMatchObject({ state: "ready", attempt: 0 });
      let [m] = await queue.lease({ leaseMs: 5000 });
      expect(await ctx.spool.status(id)).toMatchObject({ state: "leased", attempt: 1, leaseUntil: clock.now() + 5000 });
      await queue.nack(m.id, m.leaseToken, { error: { message: "try later", kind: "error" }, delayMs: 200 });
      expect(await ctx.spool.status(id)).toMatchObject({
        state: "delayed",
        attempt: 1,
        availableAt: clock.now() + 200,
        lastError: { message: "try later", kind: "error" },
        leaseUntil: undefined,
      });
      clock.advance(200);
      [m] = await queue.lease();
      expect(await ctx.spool.status(id)).toMatchObject({ state: "leased", attempt: 2 });
      clock.advance(50);
      await queue.ack(m.id, m.leaseToken);
      const completedAt = clock.now();
      expect(await ctx.spool.status(id)).toMatchObject({ id, queue: queue.name, state: "completed", attempt: 2, completedAt, correlationId: "c-1" });
      clock.advance(9_999);
      expect((await ctx.spool.status(id))?.state).toBe("completed");
      clock.advance(1);
      expect(await ctx.spool.status(id)).toBeUndefined();
    },
    async () => {
      const ctx = await open();
      // Long enough for each read to land in its state on a loaded machine.
      const queue = ctx.spool.queue<string>(uniqueQueueName("admin"), { completedRetentionMs: 1_000 });
      const { id } = await queue.publish("x", { delayMs: 300 });
      expect((await ctx.spool.status(id))?.state).toBe("delayed");
      await pollUntil(async () => (await ctx.spool.status(id))?.state === "ready");
      const [m] = await queue.lease();
      expect(await ctx.spool.status(id)).toMatchObject({ state: "leased", attempt: 1 });
      await queue.ack(m.id, m.leaseToken);
      expect((await ctx.spool.status(id))?.state).toBe("completed");
      await pollUntil(async () => (await ctx.spool.status(id)) === undefined, { what: "the completed status to be forgotten" });
    },
  );

  it("the default completed retention is 24 hours", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue(uniqueQueueName("admin"));
    const { id } = await queue.publish(1);
    const [m] = await queue.lease();
    await queue.ack(m.id, m.leaseToken);
    if (ctx.clock) {
      ctx.clock.advance(24 * 3_600_000 - 1);
      expect((await ctx.spool.status(id))?.state).toBe("completed");
      ctx.clock.advance(1);
      expect(await ctx.spool.status(id)).toBeUndefined();
    } else {
      expect((await ctx.spool.status(id))?.state).toBe("completed");
      expect((await queue.info()).options.completedRetentionMs).toBe(24 * 3_600_000);
    }
  });

  it("completedRetentionCount keeps only the newest completed statuses", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("admin"), { completedRetentionCount: 2 });
    const ids = (await queue.publishMany([1, 2, 3].map((body) => ({ body })))).map((r) => r.id);
    for (const m of await queue.lease({ max: 3 })) await queue.ack(m.id, m.leaseToken);
    expect(await spool.status(ids[0])).toBeUndefined();
    expect((await spool.status(ids[1]))?.state).toBe("completed");
    expect((await spool.status(ids[2]))?.state).toBe("completed");
  });

  it("completedRetentionMs 0 forgets a message as soon as it completes", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("admin"), { completedRetentionMs: 0 });
    const { id } = await queue.publish(1);
    const [m] = await queue.lease();
    await queue.ack(m.id, m.leaseToken);
    expect(await spool.status(id)).toBeUndefined();
    expect((await queue.stats()).totals.completed).toBe(1);
  });

  it("a dead message's status says why; an unknown id has no status", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("admin"));
    const { id } = await queue.publish(1, { maxAttempts: 1 });
    const [m] = await queue.lease();
    await queue.nack(m.id, m.leaseToken, { error: { message: "boom", kind: "error" } });
    expect(await spool.status(id)).toMatchObject({ state: "dead", deadReason: "max_attempts", attempt: 1, lastError: { message: "boom", kind: "error" } });
    expect((await spool.status(id))?.deadAt).toEqual(expect.any(Number));
    expect(await spool.status("01ARZ3NDEKTSV4RRFFQ69G5FAV")).toBeUndefined();
  });
};
