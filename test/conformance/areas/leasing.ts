/**
 * Leasing: batches of at most `max`, lease tokens that fence stale consumers (ack / nack /
 * extend with a wrong or stale token fail with `lease_lost` and change nothing), bulk acks,
 * lease extension, and long-poll leases that wake on a publish, time out, or abort.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import { TransientError } from "../../../src/index.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { leaseOne, snapshot, statusOf, track } from "./consume-helpers.js";
import { counts, itOnClock, leaseAll, letWakeUpsRun, manualClock, spoolError } from "./publish-helpers.js";
import { expectSetDuring, observeChange, TIMER_SLACK_MS, timed, waitForClock } from "./time-helpers.js";

const NOT_AN_ID = "01J0000000000000000000000Z";

export const leasing: AreaDefinition = (suite, open) => {
  it("hands out at most max messages per lease, highest priority first, FIFO within one", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("leasing"));
    await queue.publishMany([{ body: 1 }, { body: 2 }, { body: 3, priority: 5 }, { body: 4 }, { body: 5 }]);

    expect((await queue.lease()).map((m) => m.body)).toEqual([3]); // default max is 1
    expect((await queue.lease({ max: 2 })).map((m) => m.body)).toEqual([1, 2]);
    expect((await queue.lease({ max: 10 })).map((m) => m.body)).toEqual([4, 5]);
    expect(await queue.lease({ max: 10 })).toEqual([]);
    expect(counts(await queue.stats())).toMatchObject({ ready: 0, leased: 5 });
  });

  it("rejects a max outside 1..1000 with validation_failed and leases nothing", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("leasing"));
    await queue.publish(1);
    for (const max of [0, -1, 1.5, 1001]) await spoolError(() => queue.lease({ max }), "validation_failed");
    await spoolError(() => queue.lease({ leaseMs: 0 }), "validation_failed");
    await spoolError(() => queue.lease({ waitMs: 30_001 }), "validation_failed");
    expect(counts(await queue.stats())).toMatchObject({ ready: 1, leased: 0 });
  });

  it("gives every leased message a fresh lease token, attempt 1 and leaseUntil = now + leaseMs", async () => {
    const { spool, store } = await open();
    const queue = spool.queue<string>(uniqueQueueName("leasing"), { leaseMs: 10_000 });
    await queue.publishMany([{ body: "a" }, { body: "b" }, { body: "c" }]);

    const before = store.clock.now();
    const leased = await queue.lease({ max: 2 });
    const after = store.clock.now();
    const customFrom = store.clock.now();
    const custom = await leaseOne(queue, 2_500);
    const customTo = store.clock.now();

    expect(leased).toHaveLength(2);
    const tokens = [...leased, custom].map((m) => m.leaseToken);
    for (const token of tokens) expect(typeof token === "string" && token.length > 0).toBe(true);
    expect(new Set(tokens).size).toBe(3);
    for (const message of leased) {
      expect(message.attempt).toBe(1);
      expect(message.leaseUntil).toBeGreaterThanOrEqual(before + 10_000);
      expect(message.leaseUntil).toBeLessThanOrEqual(after + 10_000);
      const status = await statusOf(spool, message.id);
      expect(status.state).toBe("leased");
      expect(status.leaseUntil).toBe(message.leaseUntil);
    }
    expect(custom.leaseUntil).toBeGreaterThanOrEqual(customFrom + 2_500);
    expect(custom.leaseUntil).toBeLessThanOrEqual(customTo + 2_500);
  });

  it("never hands the same message to two leases, even when they run concurrently", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("leasing"));
    await queue.publishMany(Array.from({ length: 40 }, (_, body) => ({ body })));

    const batches = await Promise.all(Array.from({ length: 8 }, () => queue.lease({ max: 4 })));
    const ids = batches.flat().map((m) => m.id);
    expect(ids).toHaveLength(32);
    expect(new Set(ids).size).toBe(32);

    const rest = await leaseAll(queue);
    expect(rest).toHaveLength(8);
    expect(new Set([...ids, ...rest.map((m) => m.id)]).size).toBe(40);
    expect(await queue.lease({ max: 10 })).toEqual([]);
  });

  it("ack completes the message: it leaves the queue and is never handed out again", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("leasing"));
    const { id } = await queue.publish("x");
    const message = await leaseOne(queue);
    expect(message.id).toBe(id);

    await queue.ack(message.id, message.leaseToken);
    const stats = await queue.stats();
    expect(counts(stats)).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 0 });
    expect(stats.totals.completed).toBe(1);
    expect((await statusOf(spool, id)).state).toBe("completed");
    expect(await queue.lease({ max: 10 })).toEqual([]);
    // A second ack with the same token is stale now.
    await spoolError(() => queue.ack(message.id, message.leaseToken), "lease_lost");
  });

  for (const op of ["ack", "nack", "extend"] as const) {
    it(`${op} with a wrong, stale or unknown lease token fails with lease_lost and changes nothing`, async () => {
      const { spool } = await open();
      const queue = spool.queue<string>(uniqueQueueName("leasing"));
      await queue.publish("x");
      const first = await leaseOne(queue);
      // Release it (a transient failure retries at once) and lease it again: the first token is stale.
      await queue.nack(first.id, first.leaseToken, { error: new TransientError("again") });
      const current = await leaseOne(queue);
      expect(current.id).toBe(first.id);
      expect(current.leaseToken).not.toBe(first.leaseToken);

      const attempt = (id: string, token: string) =>
        op === "ack" ? queue.ack(id, token) : op === "nack" ? queue.nack(id, token, { error: "boom" }) : queue.extend(id, token, 60_000);

      const before = await snapshot(spool, queue, current.id);
      await spoolError(() => attempt(current.id, first.leaseToken), "lease_lost");
      await spoolError(() => attempt(current.id, `${current.leaseToken}x`), "lease_lost");
      await spoolError(() => attempt(NOT_AN_ID, current.leaseToken), "lease_lost");
      expect(await snapshot(spool, queue, current.id)).toEqual(before);

      // The current token still works.
      await attempt(current.id, current.leaseToken);
      expect(await snapshot(spool, queue, current.id)).not.toEqual(before);
    });
  }

  it("nack with release gives the message back unhandled: ready at once, the attempt not counted", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("leasing"), { maxAttempts: 1 });
    await queue.publish("last chance");
    const [first] = await queue.lease();
    expect(await queue.nack(first.id, first.leaseToken, { release: true })).toMatchObject({ state: "ready" });
    const [again] = await queue.lease();
    expect(again.id).toBe(first.id);
    expect(again.attempt).toBe(1); // maxAttempts 1 and still alive: the released delivery did not count
    expect(counts(await queue.stats())).toMatchObject({ ready: 0, leased: 1, dead: 0 });
    await spoolError(() => queue.nack(first.id, first.leaseToken, { release: true }), "lease_lost");
  });

  itOnClock(
    suite,
    "nack with release and delayMs gives the message back after the delay, the attempt not counted",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("leasing"), { maxAttempts: 1 });
      await queue.publish("wait for it");
      const [first] = await queue.lease();
      const t0 = clock.now();
      expect(await queue.nack(first.id, first.leaseToken, { release: true, delayMs: 500 })).toEqual({ state: "delayed", availableAt: t0 + 500 });
      expect(counts(await queue.stats())).toMatchObject({ ready: 0, delayed: 1, leased: 0, dead: 0 });
      clock.advance(499);
      expect(await queue.lease()).toEqual([]);
      clock.advance(1);
      await letWakeUpsRun();
      const [again] = await queue.lease();
      expect(again.id).toBe(first.id);
      expect(again.attempt).toBe(1); // maxAttempts 1 and still alive: the released delivery did not count
    },
    async () => {
      const { spool } = await open();
      const queue = spool.queue<string>(uniqueQueueName("leasing"), { maxAttempts: 1 });
      await queue.publish("wait for it");
      const [first] = await queue.lease();
      expect(await queue.nack(first.id, first.leaseToken, { release: true, delayMs: 50 })).toMatchObject({ state: "delayed" });
      expect(await queue.lease()).toEqual([]);
      const again = await queue.lease({ waitMs: 5_000 });
      expect(again.map((m) => [m.id, m.attempt])).toEqual([[first.id, 1]]);
    },
  );

  it("ackMany completes many at once; a stale or wrong token fails only its own item", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("leasing"));
    await queue.publishMany([0, 1, 2, 3].map((body) => ({ body })));
    const [a, b, c, d] = await queue.lease({ max: 4 });
    await queue.ack(b.id, b.leaseToken); // b's token is stale from now on

    const outcomes = await queue.ackMany([
      { id: a.id, leaseToken: a.leaseToken },
      { id: b.id, leaseToken: b.leaseToken },
      { id: c.id, leaseToken: "not-the-token" },
      { id: d.id, leaseToken: d.leaseToken },
      { id: NOT_AN_ID, leaseToken: a.leaseToken },
    ]);
    expect(outcomes.map((o) => ({ id: o.id, ok: o.ok, code: o.code }))).toEqual([
      { id: a.id, ok: true, code: undefined },
      { id: b.id, ok: false, code: "lease_lost" },
      { id: c.id, ok: false, code: "lease_lost" },
      { id: d.id, ok: true, code: undefined },
      { id: NOT_AN_ID, ok: false, code: "lease_lost" },
    ]);
    const stats = await queue.stats();
    expect(counts(stats)).toMatchObject({ ready: 0, leased: 1 });
    expect(stats.totals.completed).toBe(3);
    expect((await statusOf(spool, c.id)).state).toBe("leased");
    await queue.ack(c.id, c.leaseToken);

    expect(await queue.ackMany([])).toEqual([]);
    await spoolError(() => queue.ackMany([{ id: a.id } as never]), "validation_failed");
  });

  itOnClock(
    suite,
    "extend moves leaseUntil to now + leaseMs: the lease outlives its first end and expires at the new one",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("leasing"), { leaseMs: 1_000 });
      const { id } = await queue.publish("x");
      const message = await leaseOne(queue);
      expect(message.leaseUntil).toBe(clock.now() + 1_000);

      clock.advance(600);
      const { leaseUntil } = await queue.extend(id, message.leaseToken, 2_000);
      expect(leaseUntil).toBe(clock.now() + 2_000);
      expect((await statusOf(ctx.spool, id)).leaseUntil).toBe(leaseUntil);

      clock.advance(1_999); // well past the original end
      expect((await statusOf(ctx.spool, id)).state).toBe("leased");
      expect(counts(await queue.stats())).toMatchObject({ leased: 1, ready: 0 });
      await queue.extend(id, message.leaseToken, 500); // shorter than what is left: moves it earlier

      clock.advance(500);
      expect((await statusOf(ctx.spool, id)).state).toBe("ready");
      await spoolError(() => queue.ack(id, message.leaseToken), "lease_lost");
    },
    async () => {
      const { spool, store } = await open();
      const queue = spool.queue<string>(uniqueQueueName("leasing"), { leaseMs: 300 });
      const { id } = await queue.publish("x");
      const leased = await timed(store, () => leaseOne(queue));
      const message = leased.value;
      expectSetDuring(message.leaseUntil, leased, 300, "leaseUntil");

      const extended = await timed(store, () => queue.extend(id, message.leaseToken, 60_000));
      const { leaseUntil } = extended.value;
      expectSetDuring(leaseUntil, extended, 60_000, "the extended leaseUntil");
      expect((await statusOf(spool, id)).leaseUntil).toBe(leaseUntil);

      await waitForClock(store, message.leaseUntil + 20); // past the original end
      expect((await statusOf(spool, id)).state).toBe("leased");
      expect(counts(await queue.stats())).toMatchObject({ leased: 1, ready: 0 });
      const shortened = await queue.extend(id, message.leaseToken, 50); // shorter than what is left: moves it earlier
      expect(shortened.leaseUntil).toBeLessThan(leaseUntil);

      await observeChange(store, shortened.leaseUntil, () => statusOf(spool, id), (s) => s.state !== "leased", "the shortened lease's end");
      expect((await statusOf(spool, id)).state).toBe("ready");
      await spoolError(() => queue.ack(id, message.leaseToken), "lease_lost");
    },
  );

  it("extend validates leaseMs (validation_failed) and changes nothing", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<string>(uniqueQueueName("leasing"));
    await queue.publish("x");
    const message = await leaseOne(queue);
    const before = await snapshot(ctx.spool, queue, message.id);
    for (const ms of [0, -5, 1.5]) await spoolError(() => queue.extend(message.id, message.leaseToken, ms), "validation_failed");
    expect(await snapshot(ctx.spool, queue, message.id)).toEqual(before);
  });

  it("a long-poll lease returns as soon as a message is published", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("leasing"));
    await queue.info();
    const waiting = track(queue.lease({ waitMs: 30_000, max: 5 }));
    await letWakeUpsRun();
    expect(waiting.settled).toBe(false);

    const { id } = await queue.publish("wake");
    await pollUntil(() => waiting.settled, { what: "the long-poll lease to return", timeoutMs: 2_000 });
    expect((waiting.value ?? []).map((m) => m.id)).toEqual([id]);
  });

  it("a long-poll lease started together with a publish does not miss it", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("leasing"));
    await queue.info();
    for (let round = 0; round < 5; round++) {
      const waiting = track(queue.lease({ waitMs: 30_000 }));
      const { id } = await queue.publish(`m${round}`);
      await pollUntil(() => waiting.settled, { what: `the long-poll lease of round ${round} to return`, timeoutMs: 2_000 });
      expect((waiting.value ?? []).map((m) => m.id)).toEqual([id]);
    }
  });

  itOnClock(
    suite,
    "a long-poll lease returns [] once waitMs has passed, not before",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("leasing"));
      await queue.info();
      const waiting = track(queue.lease({ waitMs: 1_000 }));
      await letWakeUpsRun();
      clock.advance(999);
      await letWakeUpsRun();
      expect(waiting.settled).toBe(false);

      clock.advance(1);
      await pollUntil(() => waiting.settled, { what: "the long-poll lease to time out", timeoutMs: 2_000 });
      expect(waiting.value).toEqual([]);
    },
    async () => {
      const { spool, store } = await open();
      const queue = spool.queue<string>(uniqueQueueName("leasing"));
      await queue.info();
      const waited = await timed(store, () => queue.lease({ waitMs: 100 }));
      expect(waited.value).toEqual([]);
      expect(waited.to - waited.from, "returned before waitMs had passed").toBeGreaterThanOrEqual(100 - TIMER_SLACK_MS);
    },
  );

  itOnClock(
    suite,
    "a long-poll lease wakes when a delayed message falls due",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<string>(uniqueQueueName("leasing"));
      const { id } = await queue.publish("later", { delayMs: 500 });
      const waiting = track(queue.lease({ waitMs: 10_000 }));
      await letWakeUpsRun();
      expect(waiting.settled).toBe(false);
      clock.advance(500);
      await pollUntil(() => waiting.settled, { what: "the long-poll lease to return", timeoutMs: 2_000 });
      expect((waiting.value ?? []).map((m) => m.id)).toEqual([id]);
    },
    async () => {
      const { spool, store } = await open();
      const queue = spool.queue<string>(uniqueQueueName("leasing"));
      const { id } = await queue.publish("later", { delayMs: 50 });
      const availableAt = (await statusOf(spool, id)).availableAt;
      const woken = await timed(store, () => queue.lease({ waitMs: 10_000, leaseMs: 60_000 }));
      expect(woken.value.map((m) => m.id)).toEqual([id]);
      expect(woken.value[0].leaseUntil - 60_000, "leased before it was due").toBeGreaterThanOrEqual(availableAt);
    },
  );

  it("a long-poll lease returns [] when its signal aborts, and takes nothing afterwards", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("leasing"));
    await queue.info();
    const controller = new AbortController();
    const waiting = track(queue.lease({ waitMs: 30_000, signal: controller.signal }));
    await letWakeUpsRun();
    expect(waiting.settled).toBe(false);

    controller.abort();
    await pollUntil(() => waiting.settled, { what: "the aborted lease to return", timeoutMs: 2_000 });
    expect(waiting.value).toEqual([]);

    await queue.publish("after");
    await letWakeUpsRun();
    expect(counts(await queue.stats())).toMatchObject({ ready: 1, leased: 0 });

    // An already-aborted signal takes nothing, even with a message ready.
    expect(await queue.lease({ waitMs: 1_000, signal: controller.signal })).toEqual([]);
    expect(counts(await queue.stats())).toMatchObject({ ready: 1, leased: 0 });
  });
};
