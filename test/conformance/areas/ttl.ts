/**
 * Time to live: `ttlMs` per message or per queue sets `expiresAt` = publish time + ttl. A message
 * whose expiresAt passes while it is not leased (ready, delayed, or waiting behind its group)
 * is dead-lettered with reason "expired"; a leased one is not expired while its lease holds.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import type { Queue, Spool } from "../../../src/index.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { itWith } from "./capability-helpers.js";
import { itOnClock, manualClock, onClock } from "./publish-helpers.js";

async function expectExpired<T>(spool: Spool, queue: Queue<T>, id: string): Promise<void> {
  const status = await spool.status(id);
  expect(status?.state).toBe("dead");
  expect(status?.deadReason).toBe("expired");
  const dead = await queue.deadLetters();
  const letter = dead.items.find((d) => d.id === id);
  expect(letter?.reason).toBe("expired");
}

export const ttl: AreaDefinition = (suite, open) => {
  it("ttlMs sets expiresAt = publish time + ttl, per message or from the queue's default", async () => {
    const { spool } = await open();
    const queue = spool.queue(uniqueQueueName("ttl"), { ttlMs: 5000 });
    const own = await queue.publish({ n: 1 }, { ttlMs: 60_000 });
    const inherited = await queue.publish({ n: 2 });
    const ownStatus = await spool.status(own.id);
    const inheritedStatus = await spool.status(inherited.id);
    expect(ownStatus?.expiresAt).toBe((ownStatus?.publishedAt ?? NaN) + 60_000);
    expect(inheritedStatus?.expiresAt).toBe((inheritedStatus?.publishedAt ?? NaN) + 5000);
    const plain = spool.queue(uniqueQueueName("ttl"));
    const never = await plain.publish({ n: 3 });
    expect((await spool.status(never.id))?.expiresAt).toBeUndefined();
    const [leased] = await queue.lease();
    expect(leased.expiresAt).toBe(ownStatus?.expiresAt);
  });

  itOnClock(
    suite,
    "a ready message expires exactly at its expiresAt: dead with reason expired",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue(uniqueQueueName("ttl"));
      const { id } = await queue.publish({ n: 1 }, { ttlMs: 1000 });
      const keep = await queue.publish({ n: 2 });
      clock.advance(999);
      expect((await ctx.spool.status(id))?.state).toBe("ready");
      expect(await queue.stats()).toMatchObject({ ready: 2, dead: 0 });
      clock.advance(1);
      await expectExpired(ctx.spool, queue, id);
      expect(await queue.stats()).toMatchObject({ ready: 1, dead: 1, totals: { published: 2, dead: 1 } });
      const leased = await queue.lease({ max: 10 });
      expect(leased.map((m) => m.id)).toEqual([keep.id]);
      const [letter] = (await queue.deadLetters()).items;
      expect(letter.body).toEqual({ n: 1 });
      expect(letter.deadAt).toBe(clock.now());
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue(uniqueQueueName("ttl"));
      const { id } = await queue.publish({ n: 1 }, { ttlMs: 30 });
      await pollUntil(async () => (await ctx.spool.status(id))?.state === "dead");
      await expectExpired(ctx.spool, queue, id);
      expect(await queue.lease()).toEqual([]);
    },
  );

  itOnClock(
    suite,
    "the queue's ttlMs expires messages; a message's own ttlMs overrides it",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue(uniqueQueueName("ttl"), { ttlMs: 500 });
      const short = await queue.publish({ n: "queue ttl" });
      const long = await queue.publish({ n: "own ttl" }, { ttlMs: 2000 });
      clock.advance(500);
      await expectExpired(ctx.spool, queue, short.id);
      expect((await ctx.spool.status(long.id))?.state).toBe("ready");
      clock.advance(1500);
      await expectExpired(ctx.spool, queue, long.id);
      expect(await queue.stats()).toMatchObject({ ready: 0, dead: 2 });
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue(uniqueQueueName("ttl"), { ttlMs: 30 });
      const short = await queue.publish({ n: "queue ttl" });
      const long = await queue.publish({ n: "own ttl" }, { ttlMs: 60_000 });
      await pollUntil(async () => (await ctx.spool.status(short.id))?.state === "dead");
      await expectExpired(ctx.spool, queue, short.id);
      expect((await ctx.spool.status(long.id))?.state).toBe("ready");
    },
  );

  itOnClock(
    suite,
    "a leased message does not expire while leased; it can still be acked",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue(uniqueQueueName("ttl"));
      const { id } = await queue.publish({ n: 1 }, { ttlMs: 1000 });
      const [message] = await queue.lease({ leaseMs: 60_000 });
      clock.advance(5000);
      expect((await ctx.spool.status(id))?.state).toBe("leased");
      expect(await queue.stats()).toMatchObject({ leased: 1, dead: 0 });
      await queue.ack(message.id, message.leaseToken);
      expect((await ctx.spool.status(id))?.state).toBe("completed");
      expect((await queue.stats()).totals).toMatchObject({ completed: 1, dead: 0 });
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue(uniqueQueueName("ttl"));
      // Long enough for the publish and the lease to land first on a loaded machine.
      const { id } = await queue.publish({ n: 1 }, { ttlMs: 300 });
      const [message] = await queue.lease({ leaseMs: 60_000 });
      const expiresAt = message.expiresAt ?? 0;
      await pollUntil(() => ctx.store.clock.now() > expiresAt + 20, { what: "the ttl to pass" });
      expect((await ctx.spool.status(id))?.state).toBe("leased");
      await queue.ack(message.id, message.leaseToken);
      expect((await ctx.spool.status(id))?.state).toBe("completed");
    },
  );

  for (const how of ["nacked", "whose lease expired"] as const) {
    itOnClock(
      suite,
      `a message ${how} after its ttl passed is dead-lettered as expired, not retried`,
      async () => {
        const ctx = await open();
        const clock = manualClock(ctx);
        const queue = ctx.spool.queue(uniqueQueueName("ttl"));
        const { id } = await queue.publish({ n: 1 }, { ttlMs: 1000 });
        const [message] = await queue.lease({ leaseMs: 2000 });
        if (how === "nacked") {
          clock.advance(1500);
          const outcome = await queue.nack(message.id, message.leaseToken, { error: { message: "boom", kind: "transient" } });
          expect(outcome.state).toBe("dead");
        } else {
          clock.advance(2000);
        }
        await expectExpired(ctx.spool, queue, id);
        expect(await queue.lease()).toEqual([]);
        expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 1 });
      },
      async () => {
        const ctx = await open();
        const queue = ctx.spool.queue(uniqueQueueName("ttl"));
        // Long enough for the publish and the lease to land first on a loaded machine.
        const { id } = await queue.publish({ n: 1 }, { ttlMs: 300 });
        const [message] = await queue.lease({ leaseMs: how === "nacked" ? 60_000 : 400 });
        const expiresAt = message.expiresAt ?? 0;
        if (how === "nacked") {
          await pollUntil(() => ctx.store.clock.now() > expiresAt, { what: "the ttl to pass" });
          const outcome = await queue.nack(message.id, message.leaseToken, { error: { message: "boom", kind: "transient" } });
          expect(outcome.state).toBe("dead");
        } else {
          await pollUntil(async () => (await ctx.spool.status(id))?.state === "dead");
        }
        await expectExpired(ctx.spool, queue, id);
        expect(await queue.lease()).toEqual([]);
      },
    );
  }

  itOnClock(
    suite,
    "a delayed message expires while still delayed when its ttl is shorter than its delay",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue(uniqueQueueName("ttl"));
      const { id } = await queue.publish({ n: 1 }, { delayMs: 5000, ttlMs: 1000 });
      clock.advance(999);
      expect((await ctx.spool.status(id))?.state).toBe("delayed");
      clock.advance(1);
      await expectExpired(ctx.spool, queue, id);
      expect(await queue.stats()).toMatchObject({ delayed: 0, ready: 0, dead: 1 });
      clock.advance(5000);
      expect(await queue.lease()).toEqual([]);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue(uniqueQueueName("ttl"));
      // Long enough for the status read to land first on a loaded machine.
      const { id } = await queue.publish({ n: 1 }, { delayMs: 60_000, ttlMs: 300 });
      expect((await ctx.spool.status(id))?.state).toBe("delayed");
      await pollUntil(async () => (await ctx.spool.status(id))?.state === "dead");
      await expectExpired(ctx.spool, queue, id);
      expect(await queue.stats()).toMatchObject({ delayed: 0, dead: 1 });
    },
  );

  itOnClock(
    suite,
    "a delayed message with a longer ttl becomes ready when due, then expires at publish time + ttl",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue(uniqueQueueName("ttl"));
      const { id } = await queue.publish({ n: 1 }, { delayMs: 1000, ttlMs: 3000 });
      clock.advance(1000);
      expect((await ctx.spool.status(id))?.state).toBe("ready");
      clock.advance(1999);
      expect((await ctx.spool.status(id))?.state).toBe("ready");
      clock.advance(1);
      await expectExpired(ctx.spool, queue, id);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue(uniqueQueueName("ttl"));
      const { id } = await queue.publish({ n: 1 }, { delayMs: 30, ttlMs: 200 });
      await pollUntil(async () => (await ctx.spool.status(id))?.state !== "delayed");
      await pollUntil(async () => (await ctx.spool.status(id))?.state === "dead");
      await expectExpired(ctx.spool, queue, id);
    },
  );

  itWith(
    suite,
    open,
    "orderingGroups",
    "a message waiting behind its ordering group expires there, and the group moves past it",
    onClock(
      suite,
      async () => {
        const ctx = await open();
        const clock = manualClock(ctx);
        const queue = ctx.spool.queue<string>(uniqueQueueName("ttl"));
        await queue.publish("head", { groupKey: "g" });
        const doomed = await queue.publish("doomed", { groupKey: "g", ttlMs: 1000 });
        await queue.publish("tail", { groupKey: "g" });
        const [head] = await queue.lease({ leaseMs: 60_000 });
        expect(head.body).toBe("head");
        clock.advance(999);
        expect((await ctx.spool.status(doomed.id))?.state).toBe("ready");
        clock.advance(1);
        await expectExpired(ctx.spool, queue, doomed.id);
        expect(await queue.stats()).toMatchObject({ ready: 1, leased: 1, dead: 1 });
        await queue.ack(head.id, head.leaseToken);
        const [next] = await queue.lease();
        expect(next.body).toBe("tail");
      },
      async () => {
        const ctx = await open();
        const queue = ctx.spool.queue<string>(uniqueQueueName("ttl"));
        await queue.publish("head", { groupKey: "g" });
        const doomed = await queue.publish("doomed", { groupKey: "g", ttlMs: 30 });
        await queue.publish("tail", { groupKey: "g" });
        const [head] = await queue.lease({ leaseMs: 60_000 });
        await pollUntil(async () => (await ctx.spool.status(doomed.id))?.state === "dead");
        await expectExpired(ctx.spool, queue, doomed.id);
        await queue.ack(head.id, head.leaseToken);
        const [next] = await queue.lease();
        expect(next.body).toBe("tail");
      },
    ),
  );

  it("a worker never receives an expired message", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<string>(uniqueQueueName("ttl"));
    const stale = await queue.publish("stale", { ttlMs: 30 });
    if (ctx.clock) ctx.clock.advance(30);
    else await pollUntil(async () => (await ctx.spool.status(stale.id))?.state === "dead");
    const fresh = await queue.publish("fresh");
    const seen: string[] = [];
    const worker = queue.work(async (message) => void seen.push(message.body));
    const completed: string[] = [];
    worker.on("message:completed", (event) => completed.push(event.id));
    await pollUntil(() => completed.includes(fresh.id));
    expect(seen).toEqual(["fresh"]);
    await expectExpired(ctx.spool, queue, stale.id);
    expect(await queue.stats()).toMatchObject({ dead: 1, totals: { completed: 1, dead: 1 } });
  });
};
