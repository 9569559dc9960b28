/**
 * Lease expiry (the visibility timeout): an unacked lease that runs out makes the message ready
 * again, counted as an attempt; the old token is fenced off; past maxAttempts it goes dead with
 * reason `max_attempts`. Time moves only through the ManualClock.
 */
import { expect, it } from "vitest";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { leaseOne, snapshot, statusOf, track } from "./consume-helpers.js";
import { counts, letWakeUpsRun, manualClock, spoolError } from "./publish-helpers.js";

export const leaseExpiry: AreaDefinition = (suite, open) => {
  if (!suite.supports.manualClock) {
    it("an expired lease makes the message ready again (system clock)", async () => {
      const { spool } = await open();
      const queue = spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 50 });
      const { id } = await queue.publish("x");
      const first = await leaseOne(queue);
      const again = await queue.lease({ waitMs: 5_000 });
      expect(again.map((m) => [m.id, m.attempt])).toEqual([[id, 2]]);
      await spoolError(() => queue.ack(id, first.leaseToken), "lease_lost");
      await queue.ack(id, again[0].leaseToken);
    });
    return;
  }

  it("an expired lease makes the message ready again at leaseUntil, not before, and counts the attempt", async () => {
    const ctx = await open();
    const clock = manualClock(ctx);
    const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000 });
    const { id } = await queue.publish("x");
    const first = await leaseOne(queue);
    expect(first.attempt).toBe(1);

    clock.advance(999);
    expect((await statusOf(ctx.spool, id)).state).toBe("leased");
    expect(await queue.lease({ max: 10 })).toEqual([]);

    clock.advance(1);
    const status = await statusOf(ctx.spool, id);
    expect(status.state).toBe("ready");
    expect(status.attempt).toBe(1);
    const stats = await queue.stats();
    expect(counts(stats)).toMatchObject({ ready: 1, leased: 0, delayed: 0, dead: 0 });
    expect(stats.totals.retried).toBe(1);

    const second = await leaseOne(queue);
    expect(second.id).toBe(id);
    expect(second.attempt).toBe(2);
    expect(second.leaseToken).not.toBe(first.leaseToken);
    expect(second.leaseUntil).toBe(clock.now() + 1_000);
  });

  it("a lease's own leaseMs decides when it expires", async () => {
    const ctx = await open();
    const clock = manualClock(ctx);
    const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000 });
    const { id } = await queue.publish("x");
    await leaseOne(queue, 5_000);
    clock.advance(4_999);
    expect((await statusOf(ctx.spool, id)).state).toBe("leased");
    clock.advance(1);
    expect((await statusOf(ctx.spool, id)).state).toBe("ready");
  });

  it("after expiry the old token gets lease_lost for ack, nack and extend, and changes nothing", async () => {
    const ctx = await open();
    const clock = manualClock(ctx);
    const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000 });
    const { id } = await queue.publish("x");
    const stale = await leaseOne(queue);
    clock.advance(1_000);

    // Expired but not leased again yet.
    let before = await snapshot(ctx.spool, queue, id);
    await spoolError(() => queue.ack(id, stale.leaseToken), "lease_lost");
    await spoolError(() => queue.nack(id, stale.leaseToken, { error: "late" }), "lease_lost");
    await spoolError(() => queue.extend(id, stale.leaseToken, 10_000), "lease_lost");
    expect(await snapshot(ctx.spool, queue, id)).toEqual(before);

    // Leased again by another consumer: the stale token must not touch the new lease.
    const current = await leaseOne(queue);
    before = await snapshot(ctx.spool, queue, id);
    await spoolError(() => queue.ack(id, stale.leaseToken), "lease_lost");
    await spoolError(() => queue.nack(id, stale.leaseToken, { error: "late" }), "lease_lost");
    await spoolError(() => queue.extend(id, stale.leaseToken, 10_000), "lease_lost");
    expect((await queue.ackMany([{ id, leaseToken: stale.leaseToken }]))[0]).toMatchObject({ ok: false, code: "lease_lost" });
    expect(await snapshot(ctx.spool, queue, id)).toEqual(before);

    await queue.ack(id, current.leaseToken);
    expect((await statusOf(ctx.spool, id)).state).toBe("completed");
  });

  it("an ack that arrives exactly at leaseUntil is too late", async () => {
    const ctx = await open();
    const clock = manualClock(ctx);
    const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000 });
    const { id } = await queue.publish("x");
    const message = await leaseOne(queue);
    clock.advance(1_000);
    await spoolError(() => queue.ack(id, message.leaseToken), "lease_lost");
    expect(counts(await queue.stats())).toMatchObject({ ready: 1, leased: 0 });
  });

  it("an expiry past maxAttempts sends the message dead with reason max_attempts", async () => {
    const ctx = await open();
    const clock = manualClock(ctx);
    const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000, maxAttempts: 2 });
    const { id } = await queue.publish("x");

    await leaseOne(queue);
    clock.advance(1_000);
    expect((await statusOf(ctx.spool, id)).state).toBe("ready");
    const last = await leaseOne(queue);
    expect(last.attempt).toBe(2);
    clock.advance(1_000);

    const status = await statusOf(ctx.spool, id);
    expect(status.state).toBe("dead");
    expect(status.deadReason).toBe("max_attempts");
    const stats = await queue.stats();
    expect(counts(stats)).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 1 });
    expect(stats.totals.dead).toBe(1);
    const { items } = await queue.deadLetters();
    expect(items.map((d) => [d.id, d.reason, d.attempt])).toEqual([[id, "max_attempts", 2]]);
    expect(await queue.lease({ max: 10 })).toEqual([]);
    await spoolError(() => queue.ack(id, last.leaseToken), "lease_lost");
  });

  it("a per-message maxAttempts decides when an expiring message goes dead", async () => {
    const ctx = await open();
    const clock = manualClock(ctx);
    const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000, maxAttempts: 5 });
    const once = await queue.publish("once", { maxAttempts: 1 });
    const often = await queue.publish("often");
    await queue.lease({ max: 2 });
    clock.advance(1_000);
    expect((await statusOf(ctx.spool, once.id)).deadReason).toBe("max_attempts");
    expect((await statusOf(ctx.spool, often.id)).state).toBe("ready");
  });

  it("an expiring lease wakes a waiting long-poll consumer, which gets the next attempt", async () => {
    const ctx = await open();
    const clock = manualClock(ctx);
    const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000 });
    const { id } = await queue.publish("x");
    await leaseOne(queue);
    const waiting = track(queue.lease({ waitMs: 30_000 }));
    await letWakeUpsRun();
    expect(waiting.settled).toBe(false);

    clock.advance(1_000);
    await pollUntil(() => waiting.settled, { what: "the waiting consumer to get the expired message", timeoutMs: 2_000 });
    expect((waiting.value ?? []).map((m) => [m.id, m.attempt])).toEqual([[id, 2]]);
  });

  it("an extended lease does not expire at its first end", async () => {
    const ctx = await open();
    const clock = manualClock(ctx);
    const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000 });
    const { id } = await queue.publish("x");
    const message = await leaseOne(queue);
    for (let i = 0; i < 5; i++) {
      clock.advance(900);
      await queue.extend(id, message.leaseToken, 1_000);
    }
    expect((await statusOf(ctx.spool, id)).state).toBe("leased");
    expect((await queue.stats()).totals.retried).toBe(0);
    await queue.ack(id, message.leaseToken);
  });
};
