/**
 * Lease expiry (the visibility timeout): an unacked lease that runs out makes the message ready
 * again, counted as an attempt; the old token is fenced off; past maxAttempts it goes dead with
 * reason `max_attempts`. On a ManualClock every instant is pinned; on the system clock leases are
 * tens of ms and every read is held to the lease's end (time-helpers.ts).
 */
import { expect } from "vitest";
import type { Queue, Spool } from "../../../src/index.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { leaseOne, snapshot, statusOf, track } from "./consume-helpers.js";
import { counts, itOnClock, letWakeUpsRun, manualClock, spoolError } from "./publish-helpers.js";
import { expectSetDuring, observeChange, timed, waitForClock } from "./time-helpers.js";

export const leaseExpiry: AreaDefinition = (suite, open) => {
  itOnClock(
    suite,
    "an expired lease makes the message ready again at leaseUntil, not before, and counts the attempt",
    async () => {
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
    },
    async () => {
      const { spool, store } = await open();
      const queue = spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 50 });
      const { id } = await queue.publish("x");
      const first = await leaseOne(queue);
      expect(first.attempt).toBe(1);

      const status = await observeChange(store, first.leaseUntil, () => statusOf(spool, id), (s) => s.state !== "leased", "the lease's end");
      expect(status.state).toBe("ready");
      expect(status.attempt).toBe(1);
      const stats = await queue.stats();
      expect(counts(stats)).toMatchObject({ ready: 1, leased: 0, delayed: 0, dead: 0 });
      expect(stats.totals.retried).toBe(1);

      const second = await timed(store, () => leaseOne(queue));
      expect(second.value.id).toBe(id);
      expect(second.value.attempt).toBe(2);
      expect(second.value.leaseToken).not.toBe(first.leaseToken);
      expectSetDuring(second.value.leaseUntil, second, 50, "the second lease's end");
    },
  );

  itOnClock(
    suite,
    "a lease's own leaseMs decides when it expires",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000 });
      const { id } = await queue.publish("x");
      await leaseOne(queue, 5_000);
      clock.advance(4_999);
      expect((await statusOf(ctx.spool, id)).state).toBe("leased");
      clock.advance(1);
      expect((await statusOf(ctx.spool, id)).state).toBe("ready");
    },
    async () => {
      const { spool, store } = await open();
      const queue = spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 50 });
      const long = await queue.publish("long");
      const short = await queue.publish("short");
      expect((await leaseOne(queue, 60_000)).id).toBe(long.id); // longer than the queue's leaseMs
      const shortLease = await leaseOne(queue); // the queue's leaseMs
      expect(shortLease.id).toBe(short.id);
      await observeChange(store, shortLease.leaseUntil, () => statusOf(spool, short.id), (s) => s.state !== "leased", "the short lease's end");
      expect((await statusOf(spool, long.id)).state).toBe("leased");
    },
  );

  itOnClock(
    suite,
    "after expiry the old token gets lease_lost for ack, nack and extend, and changes nothing",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000 });
      const { id } = await queue.publish("x");
      const stale = await leaseOne(queue);
      clock.advance(1_000);
      await expectStaleTokenRefused(ctx.spool, queue, id, stale.leaseToken);
    },
    async () => {
      const { spool, store } = await open();
      const queue = spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 50 });
      const { id } = await queue.publish("x");
      const stale = await leaseOne(queue);
      await observeChange(store, stale.leaseUntil, () => statusOf(spool, id), (s) => s.state !== "leased", "the lease's end");
      await expectStaleTokenRefused(spool, queue, id, stale.leaseToken);
    },
  );

  /** The message's lease has expired and nobody has leased it again; `stale` is the expired token. */
  async function expectStaleTokenRefused(spool: Spool, queue: Queue<string>, id: string, stale: string): Promise<void> {
    // Expired but not leased again yet.
    let before = await snapshot(spool, queue, id);
    await spoolError(() => queue.ack(id, stale), "lease_lost");
    await spoolError(() => queue.nack(id, stale, { error: "late" }), "lease_lost");
    await spoolError(() => queue.extend(id, stale, 10_000), "lease_lost");
    expect(await snapshot(spool, queue, id)).toEqual(before);

    // Leased again by another consumer: the stale token must not touch the new lease.
    const current = await leaseOne(queue, 60_000);
    before = await snapshot(spool, queue, id);
    await spoolError(() => queue.ack(id, stale), "lease_lost");
    await spoolError(() => queue.nack(id, stale, { error: "late" }), "lease_lost");
    await spoolError(() => queue.extend(id, stale, 10_000), "lease_lost");
    expect((await queue.ackMany([{ id, leaseToken: stale }]))[0]).toMatchObject({ ok: false, code: "lease_lost" });
    expect(await snapshot(spool, queue, id)).toEqual(before);

    await queue.ack(id, current.leaseToken);
    expect((await statusOf(spool, id)).state).toBe("completed");
  }

  itOnClock(
    suite,
    "an ack that arrives exactly at leaseUntil is too late",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000 });
      const { id } = await queue.publish("x");
      const message = await leaseOne(queue);
      clock.advance(1_000);
      await spoolError(() => queue.ack(id, message.leaseToken), "lease_lost");
      expect(counts(await queue.stats())).toMatchObject({ ready: 1, leased: 0 });
    },
    async () => {
      // As soon as the clock says leaseUntil, before anything else reads the store: no timer has to have run.
      const { spool, store } = await open();
      const queue = spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 50 });
      const { id } = await queue.publish("x");
      const message = await leaseOne(queue);
      await waitForClock(store, message.leaseUntil);
      await spoolError(() => queue.ack(id, message.leaseToken), "lease_lost");
      expect(counts(await queue.stats())).toMatchObject({ ready: 1, leased: 0 });
    },
  );

  itOnClock(
    suite,
    "an expiry past maxAttempts sends the message dead with reason max_attempts",
    async () => {
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
      await expectDeadAfterExpiry(ctx.spool, queue, id, last.leaseToken);
    },
    async () => {
      const { spool, store } = await open();
      const queue = spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 50, maxAttempts: 2 });
      const { id } = await queue.publish("x");

      const first = await leaseOne(queue);
      const retried = await observeChange(store, first.leaseUntil, () => statusOf(spool, id), (s) => s.state !== "leased", "the first lease's end");
      expect(retried.state).toBe("ready");
      const last = await leaseOne(queue);
      expect(last.attempt).toBe(2);
      const dead = await observeChange(store, last.leaseUntil, () => statusOf(spool, id), (s) => s.state !== "leased", "the last lease's end");
      expect(dead.state).toBe("dead");
      await expectDeadAfterExpiry(spool, queue, id, last.leaseToken);
    },
  );

  async function expectDeadAfterExpiry(spool: Spool, queue: Queue<string>, id: string, lastToken: string): Promise<void> {
    const status = await statusOf(spool, id);
    expect(status.state).toBe("dead");
    expect(status.deadReason).toBe("max_attempts");
    const stats = await queue.stats();
    expect(counts(stats)).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 1 });
    expect(stats.totals.dead).toBe(1);
    const { items } = await queue.deadLetters();
    expect(items.map((d) => [d.id, d.reason, d.attempt])).toEqual([[id, "max_attempts", 2]]);
    expect(await queue.lease({ max: 10 })).toEqual([]);
    await spoolError(() => queue.ack(id, lastToken), "lease_lost");
  }

  itOnClock(
    suite,
    "a per-message maxAttempts decides when an expiring message goes dead",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 1_000, maxAttempts: 5 });
      const once = await queue.publish("once", { maxAttempts: 1 });
      const often = await queue.publish("often");
      await queue.lease({ max: 2 });
      clock.advance(1_000);
      expect((await statusOf(ctx.spool, once.id)).deadReason).toBe("max_attempts");
      expect((await statusOf(ctx.spool, often.id)).state).toBe("ready");
    },
    async () => {
      const { spool, store } = await open();
      const queue = spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 50, maxAttempts: 5 });
      const once = await queue.publish("once", { maxAttempts: 1 });
      const often = await queue.publish("often");
      const leased = await queue.lease({ max: 2 });
      expect(leased.map((m) => m.id)).toEqual([once.id, often.id]);
      const leaseUntil = Math.max(...leased.map((m) => m.leaseUntil));
      await observeChange(store, leaseUntil, () => statusOf(spool, often.id), (s) => s.state !== "leased", "the leases' end");
      expect((await statusOf(spool, once.id)).deadReason).toBe("max_attempts");
      expect((await statusOf(spool, often.id)).state).toBe("ready");
    },
  );

  itOnClock(
    suite,
    "an expiring lease wakes a waiting long-poll consumer, which gets the next attempt",
    async () => {
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
    },
    async () => {
      const { spool } = await open();
      const queue = spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 50 });
      const { id } = await queue.publish("x");
      const first = await leaseOne(queue);
      const waiting = track(queue.lease({ waitMs: 30_000, leaseMs: 60_000 }));
      await pollUntil(() => waiting.settled, { what: "the waiting consumer to get the expired message", timeoutMs: 10_000 });
      const again = waiting.value ?? [];
      expect(again.map((m) => [m.id, m.attempt])).toEqual([[id, 2]]);
      expect(again[0].leaseUntil - 60_000, "leased again only once the first lease ended").toBeGreaterThanOrEqual(first.leaseUntil);
    },
  );

  itOnClock(
    suite,
    "an extended lease does not expire at its first end",
    async () => {
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
    },
    async () => {
      // A 400 ms lease extended every 100 ms: 300 ms to spare at each extension on a loaded machine.
      const { spool, store } = await open();
      const queue = spool.queue<string>(uniqueQueueName("expiry"), { leaseMs: 400 });
      const { id } = await queue.publish("x");
      const message = await leaseOne(queue);
      let leaseUntil = message.leaseUntil;
      while (store.clock.now() < message.leaseUntil + 200) {
        await waitForClock(store, leaseUntil - 300);
        ({ leaseUntil } = await queue.extend(id, message.leaseToken, 400));
      }
      expect((await statusOf(spool, id)).state).toBe("leased");
      expect((await queue.stats()).totals.retried).toBe(0);
      await queue.ack(id, message.leaseToken);
    },
  );
};
