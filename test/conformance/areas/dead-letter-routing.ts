/**
 * Dead-letter routing (core/dead-letter.ts; RabbitMQ's dead-letter exchanges): a queue with a
 * `deadLetter` target also publishes each message that goes dead, for any reason, to a queue or
 * through an exchange (routed by its bindings at the moment of death), in the same write as the
 * death, with x-death-* headers. The dead letter itself stays in its queue's list. A message is
 * never dead-lettered out of a queue it was already dead-lettered out of (no loops). An explicit
 * reject (`nack` with `reject`) is dead at once with reason `rejected`.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import type { LeasedMessage, Queue } from "../../../src/index.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { leaseOne, statusOf } from "./consume-helpers.js";
import { itOnClock, manualClock, spoolError } from "./publish-helpers.js";

async function leaseEvery<T>(queue: Queue<T>): Promise<LeasedMessage<T>[]> {
  return queue.lease({ max: 100 });
}

export const deadLetterRouting: AreaDefinition = (suite, open) => {
  it("a message that goes dead is also published to the deadLetter queue, with x-death-* headers; the dead letter stays", async () => {
    const { spool } = await open();
    const dlq = spool.queue<unknown>(uniqueQueueName("dlq"));
    const queue = spool.queue<{ order: number }>(uniqueQueueName("work"), { deadLetter: { queue: dlq.name } });
    const { id } = await queue.publish({ order: 7 }, { headers: { tenant: "t1" }, priority: 3, correlationId: "corr-1" });
    const m = await leaseOne(queue);
    await queue.nack(m.id, m.leaseToken, { error: { message: "card declined", kind: "permanent" } });

    const dead = (await queue.deadLetters()).items;
    expect(dead.map((d) => d.id)).toEqual([id]);
    expect(dead[0].reason).toBe("permanent_error");
    const [copy] = await leaseEvery(dlq);
    expect(copy.id).not.toBe(id);
    expect(copy.body).toEqual({ order: 7 });
    expect(copy.priority).toBe(3);
    expect(copy.correlationId).toBe("corr-1");
    expect(copy.causationId).toBe(id);
    expect(copy.headers).toEqual({
      tenant: "t1",
      "x-death-reason": "permanent_error",
      "x-death-attempts": "1",
      "x-death-last-error": "card declined",
      "x-death-queue": queue.name,
      "x-death-id": id,
      "x-death-path": queue.name,
    });
    expect((await dlq.stats()).totals.published).toBe(1);
  });

  it("max_attempts and reject route too; reject is dead at once whatever attempts remain", async () => {
    const { spool } = await open();
    const dlq = spool.queue<number>(uniqueQueueName("dlq"));
    const queue = spool.queue<number>(uniqueQueueName("work"), { maxAttempts: 1, deadLetter: { queue: dlq.name } });
    const roomy = spool.queue<number>(uniqueQueueName("work"), { maxAttempts: 10, deadLetter: { queue: dlq.name } });
    await queue.publish(1);
    const { id: rejectedId } = await roomy.publish(2);
    const m = await leaseOne(queue);
    expect(await queue.nack(m.id, m.leaseToken, { error: "flaky" })).toMatchObject({ state: "dead", deadReason: "max_attempts" });
    const r = await leaseOne(roomy);
    expect(await roomy.nack(r.id, r.leaseToken, { reject: true, error: "not for us" })).toMatchObject({ state: "dead", deadReason: "rejected" });
    expect(await statusOf(spool, rejectedId)).toMatchObject({ state: "dead", deadReason: "rejected", attempt: 1, lastError: { message: "not for us" } });
    const copies = await leaseEvery(dlq);
    expect(copies.map((c) => [c.body, c.headers?.["x-death-reason"], c.headers?.["x-death-attempts"], c.headers?.["x-death-last-error"]])).toEqual([
      [1, "max_attempts", "1", "flaky"],
      [2, "rejected", "1", "not for us"],
    ]);
  });

  it("reject with no error still dies rejected; reject with release is refused", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("work"));
    const { id } = await queue.publish(1);
    const m = await leaseOne(queue);
    expect((await spoolError(() => queue.nack(m.id, m.leaseToken, { reject: true, release: true }), "validation_failed")).code).toBe("validation_failed");
    expect(await queue.nack(m.id, m.leaseToken, { reject: true })).toMatchObject({ state: "dead", deadReason: "rejected" });
    expect((await queue.deadLetters()).items.map((d) => [d.id, d.reason])).toEqual([[id, "rejected"]]);
  });

  it("a fanout exchange target copies to every bound queue; a topic one routes by routingKey (default: the queue's name)", async () => {
    const { spool } = await open();
    const fan = `${uniqueQueueName("fan")}`;
    const topic = `${uniqueQueueName("topic")}`;
    await spool.declareExchange(fan, "fanout");
    await spool.declareExchange(topic, "topic");
    const [a, b] = [spool.queue<number>(uniqueQueueName("a")), spool.queue<number>(uniqueQueueName("b"))];
    await spool.bind(fan, a.name);
    await spool.bind(fan, b.name);
    const byKey = spool.queue<number>(uniqueQueueName("bykey"));
    const byName = spool.queue<number>(uniqueQueueName("byname"));
    const never = spool.queue<number>(uniqueQueueName("never"));
    await spool.bind(topic, byKey.name, "dead.*.billing");
    await spool.bind(topic, never.name, "dead.*.shipping");

    const fanned = spool.queue<number>(uniqueQueueName("work"), { deadLetter: { exchange: fan } });
    const keyed = spool.queue<number>(uniqueQueueName("work"), { deadLetter: { exchange: topic, routingKey: "dead.eu.billing" } });
    const named = spool.queue<number>(uniqueQueueName("work.x"), { deadLetter: { exchange: topic } });
    await spool.bind(topic, byName.name, `#.${named.name.split(".").pop()}`);
    for (const [queue, body] of [[fanned, 1], [keyed, 2], [named, 3]] as const) {
      await queue.publish(body);
      const m = await leaseOne(queue);
      await queue.nack(m.id, m.leaseToken, { reject: true });
    }
    expect((await leaseEvery(a)).map((m) => m.body)).toEqual([1]);
    expect((await leaseEvery(b)).map((m) => m.body)).toEqual([1]);
    expect((await leaseEvery(byKey)).map((m) => m.body)).toEqual([2]);
    expect((await leaseEvery(byName)).map((m) => [m.body, m.headers?.["x-death-queue"]])).toEqual([[3, named.name]]);
    expect(await leaseEvery(never)).toEqual([]);
  });

  it("routing uses the bindings at the moment of death; an exchange with no match (or none) routes nowhere", async () => {
    const { spool } = await open();
    const x = uniqueQueueName("x");
    const target = spool.queue<number>(uniqueQueueName("target"));
    const queue = spool.queue<number>(uniqueQueueName("work"), { deadLetter: { exchange: x } });
    await queue.publishMany([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const [m1, m2, m3] = await queue.lease({ max: 3 });
    await queue.nack(m1.id, m1.leaseToken, { reject: true }); // no such exchange yet
    await spool.declareExchange(x, "direct");
    await spool.bind(x, target.name, queue.name);
    await queue.nack(m2.id, m2.leaseToken, { reject: true });
    await spool.unbind(x, target.name, queue.name);
    await queue.nack(m3.id, m3.leaseToken, { reject: true });
    expect((await leaseEvery(target)).map((m) => m.body)).toEqual([2]);
    expect((await queue.stats()).dead).toBe(3);
  });

  it("a cycle ends: a message is not dead-lettered out of a queue it was already dead-lettered out of", async () => {
    const { spool } = await open();
    const aName = uniqueQueueName("a");
    const bName = uniqueQueueName("b");
    const a = spool.queue<string>(aName, { deadLetter: { queue: bName } });
    const b = spool.queue<string>(bName, { deadLetter: { queue: aName } });
    await a.info();
    await b.info();
    await a.publish("ping");
    let m = await leaseOne(a);
    await a.nack(m.id, m.leaseToken, { reject: true });
    m = await leaseOne(b);
    expect(m.headers?.["x-death-path"]).toBe(aName);
    await b.nack(m.id, m.leaseToken, { reject: true });
    m = await leaseOne(a);
    expect(m.headers).toMatchObject({ "x-death-path": `${aName},${bName}`, "x-death-queue": bName });
    await a.nack(m.id, m.leaseToken, { reject: true });
    expect(await b.lease()).toEqual([]);
    expect(await a.lease()).toEqual([]);
    expect((await a.stats()).dead).toBe(2);
    expect((await b.stats()).dead).toBe(1);
  });

  it("deadLetter: null removes the target; the option shows in the queue's info", async () => {
    const { spool } = await open();
    const dlq = spool.queue<number>(uniqueQueueName("dlq"));
    const name = uniqueQueueName("work");
    const queue = spool.queue<number>(name, { deadLetter: { queue: dlq.name } });
    expect((await queue.info()).options.deadLetter).toEqual({ queue: dlq.name });
    const cleared = spool.queue<number>(name, { deadLetter: null });
    expect((await cleared.info()).options.deadLetter).toBeUndefined();
    await cleared.publish(1);
    const m = await leaseOne(cleared);
    await cleared.nack(m.id, m.leaseToken, { reject: true });
    expect(await dlq.lease()).toEqual([]);
    expect((await spoolError(() => spool.queue(uniqueQueueName("bad"), { deadLetter: { queue: "no spaces" } }).info(), "validation_failed")).code).toBe("validation_failed");
  });

  it("an overflow (drop-oldest) death routes too", async () => {
    const { spool } = await open();
    const dlq = spool.queue<number>(uniqueQueueName("dlq"));
    const queue = spool.queue<number>(uniqueQueueName("work"), { maxLength: 1, overflow: "drop-oldest", deadLetter: { queue: dlq.name } });
    await queue.publish(1);
    await queue.publish(2);
    expect((await leaseEvery(dlq)).map((m) => [m.body, m.headers?.["x-death-reason"]])).toEqual([[1, "overflow"]]);
  });

  itOnClock(
    suite,
    "an expired message (TTL) and an expired last lease route too",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const dlq = ctx.spool.queue<number>(uniqueQueueName("dlq"));
      const queue = ctx.spool.queue<number>(uniqueQueueName("work"), { maxAttempts: 1, deadLetter: { queue: dlq.name } });
      await queue.publish(1, { ttlMs: 1000 });
      await queue.publish(2);
      const m = await queue.lease({ max: 1, leaseMs: 500 });
      expect(m.map((x) => x.body)).toEqual([1]);
      clock.advance(500); // the lease of 1 expires: its last attempt
      await queue.publish(3, { ttlMs: 100 });
      clock.advance(100);
      const copies = await leaseEvery(dlq);
      expect(copies.map((c) => [c.body, c.headers?.["x-death-reason"]])).toEqual([
        [1, "max_attempts"],
        [3, "expired"],
      ]);
      expect(copies[0].headers?.["x-death-last-error"]).toBe("lease expired before the message was acked");
      expect(copies[1].headers?.["x-death-last-error"]).toBeUndefined();
    },
    async () => {
      const ctx = await open();
      const dlq = ctx.spool.queue<number>(uniqueQueueName("dlq"));
      const queue = ctx.spool.queue<number>(uniqueQueueName("work"), { deadLetter: { queue: dlq.name } });
      const { id } = await queue.publish(3, { ttlMs: 30 });
      await pollUntil(async () => (await ctx.spool.status(id))?.state === "dead");
      const copies = await pollUntil(async () => {
        const leased = await leaseEvery(dlq);
        return leased.length > 0 ? leased : undefined;
      });
      expect(copies.map((c) => [c.body, c.headers?.["x-death-reason"], c.headers?.["x-death-id"]])).toEqual([[3, "expired", id]]);
    },
  );
};
