/**
 * Priorities: 0–9, higher first, strictly between levels; FIFO by publish order inside one;
 * default 0.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { it } from "../registry.js";
import { uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { leaseAll, leaseOneByOne } from "./publish-helpers.js";

type Tagged = { tag: string };

export const priorities: AreaDefinition = (_suite, open) => {
  it("higher priority is leased first; equal priority in publish order", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("prio"));
    const published: Array<[string, number]> = [["a", 0], ["b", 9], ["c", 5], ["d", 9], ["e", 0], ["f", 5], ["g", 1], ["h", 9]];
    for (const [tag, priority] of published) await queue.publish({ tag }, { priority });
    const leased = await leaseOneByOne(queue);
    expect(leased.map((m) => m.body.tag)).toEqual(["b", "d", "h", "c", "f", "g", "a", "e"]);
    expect(leased.map((m) => m.priority)).toEqual([9, 9, 9, 5, 5, 1, 0, 0]);
  });

  it("stats count the ready messages of each priority; a leased or delayed one is not counted", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("prio"));
    expect((await queue.stats()).readyByPriority).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    await queue.publishMany([
      { body: { tag: "a" }, priority: 9 },
      { body: { tag: "b" }, priority: 9 },
      { body: { tag: "c" }, priority: 5 },
      { body: { tag: "d" } },
      { body: { tag: "e" }, priority: 3, delayMs: 60_000 },
    ]);
    expect((await queue.stats()).readyByPriority).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 2]);
    const [leased] = await queue.lease();
    expect(leased.priority).toBe(9);
    const stats = await queue.stats();
    expect(stats.readyByPriority).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(stats.ready).toBe(3);
  });

  it("one lease call of many messages hands them out in priority order", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("prio"));
    await queue.publishMany([
      { body: { tag: "low-1" }, priority: 1 },
      { body: { tag: "high-1" }, priority: 8 },
      { body: { tag: "low-2" }, priority: 1 },
      { body: { tag: "high-2" }, priority: 8 },
    ]);
    const leased = await queue.lease({ max: 3 });
    expect(leased.map((m) => m.body.tag)).toEqual(["high-1", "high-2", "low-1"]);
  });

  it("a higher-priority message published later overtakes a backlog of lower ones", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("prio"));
    await queue.publishMany(Array.from({ length: 20 }, (_, n) => ({ body: { tag: `bulk-${n}` } })));
    const [first] = await queue.lease();
    expect(first.body.tag).toBe("bulk-0");
    await queue.publish({ tag: "urgent" }, { priority: 1 });
    const [next] = await queue.lease();
    expect(next.body.tag).toBe("urgent");
    const [after] = await queue.lease();
    expect(after.body.tag).toBe("bulk-1");
  });

  it("the default priority is 0: the same level as an explicit 0, below 1", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("prio"));
    const a = await queue.publish({ tag: "default-a" });
    await queue.publish({ tag: "zero-b" }, { priority: 0 });
    await queue.publish({ tag: "default-c" });
    await queue.publish({ tag: "one-d" }, { priority: 1 });
    expect((await spool.status(a.id))?.priority).toBe(0);
    const leased = await leaseOneByOne(queue);
    expect(leased.map((m) => m.body.tag)).toEqual(["one-d", "default-a", "zero-b", "default-c"]);
    expect(leased.map((m) => m.priority)).toEqual([1, 0, 0, 0]);
  });

  it("a retried message keeps its priority", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("prio"));
    await queue.publish({ tag: "p5" }, { priority: 5 });
    await queue.publish({ tag: "p0" });
    const [first] = await queue.lease();
    expect(first.body.tag).toBe("p5");
    await queue.nack(first.id, first.leaseToken, { error: { message: "again", kind: "transient" } });
    const [retry] = await queue.lease();
    expect(retry.body.tag).toBe("p5");
    expect(retry.priority).toBe(5);
    expect(retry.attempt).toBe(2);
  });

  it("lease order is a stable sort by priority, highest first (property)", async () => {
    const { spool } = await open();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.boolean(),
        async (levels, batch, asOneBatch) => {
          const queue = spool.queue<number>(uniqueQueueName("prio"));
          if (asOneBatch) await queue.publishMany(levels.map((priority, n) => ({ body: n, priority })));
          else for (const [n, priority] of levels.entries()) await queue.publish(n, { priority });
          const expected = levels.map((priority, n) => ({ n, priority })).sort((x, y) => y.priority - x.priority || x.n - y.n);
          const leased: number[] = [];
          for (;;) {
            const got = await queue.lease({ max: batch });
            if (got.length === 0) break;
            leased.push(...got.map((m) => m.body));
          }
          expect(leased).toEqual(expected.map((e) => e.n));
          expect(await leaseAll(queue)).toEqual([]);
        },
      ),
      { numRuns: 40 },
    );
  });
};

