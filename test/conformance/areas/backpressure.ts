/**
 * Backpressure: `maxLength` bounds the waiting (ready + delayed) messages of a queue. At the
 * limit, overflow "reject" (the default) fails the publish with queue_full and enqueues nothing
 * (a batch is all or none); overflow "drop-oldest" dead-letters the oldest ready message with
 * reason "overflow"; overflow "block" refuses at the store the same way, and a library publish
 * waits for room (looking again after 10 ms, doubling to 200 ms) until its waitMs or signal.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import { QueueFullError } from "../../../src/index.js";
import { uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { itWith } from "./capability-helpers.js";
import { counts, itOnClock, leaseAll, leaseOneByOne, letWakeUpsRun, manualClock, spoolError } from "./publish-helpers.js";
import { pollUntil } from "../../helpers/poll-until.js";

type Tagged = { tag: string };

export const backpressure: AreaDefinition = (suite, open) => {
  it("at maxLength a publish fails with queue_full (the default overflow) and changes nothing", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("bp"), { maxLength: 3 });
    expect((await queue.info()).options.overflow).toBe("reject");
    await queue.publishMany([{ body: 1 }, { body: 2 }]);
    await queue.publish(3);
    const before = counts(await queue.stats());
    const error = await spoolError(() => queue.publish(4), "queue_full");
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error.httpStatus).toBe(429);
    await spoolError(() => spool.publish(queue.name, 4), "queue_full");
    expect(counts(await queue.stats())).toEqual(before);
    expect((await leaseAll(queue)).map((m) => m.body)).toEqual([1, 2, 3]);
  });

  it("a batch that does not fit fails whole with queue_full: nothing is enqueued", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("bp"), { maxLength: 5, overflow: "reject" });
    await queue.publishMany([{ body: 1 }, { body: 2 }, { body: 3 }]);
    const before = counts(await queue.stats());
    await spoolError(() => queue.publishMany([{ body: 4 }, { body: 5 }, { body: 6 }]), "queue_full");
    expect(counts(await queue.stats())).toEqual(before);
    // Exactly filling it is fine.
    await queue.publishMany([{ body: 4 }, { body: 5 }]);
    expect((await leaseAll(queue)).map((m) => m.body)).toEqual([1, 2, 3, 4, 5]);
  });

  it("a batch larger than maxLength on an empty queue fails whole", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("bp"), { maxLength: 2 });
    await spoolError(() => queue.publishMany([{ body: 1 }, { body: 2 }, { body: 3 }]), "queue_full");
    expect(counts(await queue.stats())).toMatchObject({ ready: 0, totals: { published: 0 } });
  });

  it("delayed messages count toward maxLength; leased ones do not", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("bp"), { maxLength: 2 });
    await queue.publish(1, { delayMs: 60_000 });
    await queue.publish(2);
    await spoolError(() => queue.publish(3), "queue_full");
    const [leased] = await queue.lease();
    expect(leased.body).toBe(2);
    await queue.publish(3); // a slot freed when 2 was leased
    await spoolError(() => queue.publish(4), "queue_full");
    await queue.ack(leased.id, leased.leaseToken);
    await spoolError(() => queue.publish(4), "queue_full"); // acking a leased message frees nothing
    expect(await queue.stats()).toMatchObject({ ready: 1, delayed: 1, leased: 0 });
  });

  it("a retried message may return to a full queue: it is never lost", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("bp"), { maxLength: 2 });
    await queue.publishMany([{ body: 1 }, { body: 2 }]);
    const [first] = await queue.lease();
    await queue.publish(3);
    await queue.nack(first.id, first.leaseToken, { error: { message: "again", kind: "transient" } });
    expect(await queue.stats()).toMatchObject({ ready: 3, dead: 0 });
    expect((await leaseAll(queue)).map((m) => m.body).sort()).toEqual([1, 2, 3]);
  });

  itWith(suite, open, "replaceInPlace", "under reject, a duplicate idempotencyKey or a dedup replace still succeeds at the limit (it adds nothing)", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("bp"), { maxLength: 2 });
    const original = await queue.publish({ tag: "a" }, { idempotencyKey: "i" });
    const replaced = await queue.publish({ tag: "b" }, { dedupKey: "d" });
    expect(await queue.publish({ tag: "a again" }, { idempotencyKey: "i" })).toEqual({ id: original.id, replaced: false, duplicate: true });
    expect(await queue.publish({ tag: "b2" }, { dedupKey: "d" })).toEqual({ id: replaced.id, replaced: true, duplicate: false });
    await spoolError(() => queue.publish({ tag: "c" }, { dedupKey: "new" }), "queue_full");
    await spoolError(() => queue.publishMany([{ body: { tag: "a3" }, idempotencyKey: "i" }, { body: { tag: "c" } }]), "queue_full");
    expect((await leaseAll(queue)).map((m) => m.body.tag)).toEqual(["a", "b2"]);
  });

  /** A promise's outcome so far, without waiting for it. */
  function watchOutcome<T>(promise: Promise<T>) {
    const seen: { value?: T; error?: unknown; settled: boolean } = { settled: false };
    promise.then(
      (value) => Object.assign(seen, { value, settled: true }),
      (error: unknown) => Object.assign(seen, { error, settled: true }),
    );
    return seen;
  }

  itOnClock(
    suite,
    "overflow block: a publish to a full queue waits, goes in once a consumer makes room, and fails with queue_full after its waitMs",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<number>(uniqueQueueName("bp"), { maxLength: 2, overflow: "block" });
      await queue.publishMany([{ body: 1 }, { body: 2 }]);
      const waiting = watchOutcome(queue.publish(3));
      await letWakeUpsRun();
      clock.advance(5_000);
      await letWakeUpsRun();
      expect(waiting.settled, "it waits while the queue is full").toBe(false);
      expect(counts(await queue.stats())).toMatchObject({ ready: 2 });

      const [taken] = await queue.lease();
      expect(taken.body).toBe(1);
      clock.advance(200); // the next look
      await pollUntil(() => waiting.settled, { what: "the waiting publish to go in" });
      expect(waiting.error).toBeUndefined();
      expect((await ctx.spool.status(waiting.value?.id ?? ""))?.state).toBe("ready");

      // Full again: a batch waits its waitMs, then gives up with queue_full, enqueuing nothing.
      const batch = watchOutcome(queue.publishMany([{ body: 4 }], { waitMs: 1_000 }));
      await letWakeUpsRun();
      clock.advance(999);
      await letWakeUpsRun();
      expect(batch.settled).toBe(false);
      clock.advance(1);
      await pollUntil(() => batch.settled, { what: "the batch to give up" });
      expect(batch.error).toBeInstanceOf(QueueFullError);
      expect(counts(await queue.stats())).toMatchObject({ ready: 2, leased: 1 });
      expect((await leaseAll(queue)).map((m) => m.body)).toEqual([2, 3]);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<number>(uniqueQueueName("bp"), { maxLength: 2, overflow: "block" });
      await queue.publishMany([{ body: 1 }, { body: 2 }]);
      const waiting = watchOutcome(queue.publish(3));
      await new Promise((resolve) => setTimeout(resolve, 50)); // a consumer comes later
      expect(waiting.settled, "it waits while the queue is full").toBe(false);
      await queue.lease();
      await pollUntil(() => waiting.settled, { what: "the waiting publish to go in" });
      expect(waiting.error).toBeUndefined();
      const started = ctx.store.clock.now();
      const error = await spoolError(() => queue.publishMany([{ body: 4 }], { waitMs: 100 }), "queue_full");
      expect(error).toBeInstanceOf(QueueFullError);
      expect(ctx.store.clock.now() - started).toBeGreaterThanOrEqual(100);
      expect((await leaseAll(queue)).map((m) => m.body)).toEqual([2, 3]);
    },
  );

  it("overflow block: a waiting publish stops when its signal aborts, and a publish with waitMs 0 fails at once", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("bp"), { maxLength: 1, overflow: "block" });
    await queue.publish(1);
    await spoolError(() => queue.publish(2, { waitMs: 0 }), "queue_full");
    const controller = new AbortController();
    const waiting = queue.publish(3, { signal: controller.signal });
    controller.abort(new Error("the producer gave up"));
    await expect(waiting).rejects.toThrow("the producer gave up");
    await spoolError(() => queue.publish(4, { waitMs: -1 }), "validation_failed");
    expect((await leaseAll(queue)).map((m) => m.body)).toEqual([1]);
  });

  it("drop-oldest dead-letters the oldest ready message with reason overflow", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("bp"), { maxLength: 3, overflow: "drop-oldest" });
    const a = await queue.publish({ tag: "a" });
    await queue.publish({ tag: "b" });
    await queue.publish({ tag: "c" });
    const d = await queue.publish({ tag: "d" });
    expect(d).toMatchObject({ replaced: false, duplicate: false });
    expect(await queue.stats()).toMatchObject({ ready: 3, dead: 1, totals: { published: 4, dead: 1 } });
    const status = await spool.status(a.id);
    expect(status).toMatchObject({ state: "dead", deadReason: "overflow" });
    const { items } = await queue.deadLetters();
    expect(items.map((i) => [i.id, i.reason, i.body.tag])).toEqual([[a.id, "overflow", "a"]]);
    expect((await leaseOneByOne(queue)).map((m) => m.body.tag)).toEqual(["b", "c", "d"]);
  });

  it("drop-oldest drops by age, not priority, and a big batch keeps only the newest", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("bp"), { maxLength: 3, overflow: "drop-oldest" });
    await queue.publish({ tag: "old-low" }, { priority: 0 });
    await queue.publish({ tag: "urgent" }, { priority: 9 });
    await queue.publish({ tag: "c" });
    await queue.publish({ tag: "d" }); // drops old-low, not the lower-age urgent one
    expect((await queue.deadLetters()).items.map((i) => i.body.tag)).toEqual(["old-low"]);
    await queue.publish({ tag: "e" }, { priority: 9 }); // now urgent is the oldest
    expect((await queue.deadLetters()).items.map((i) => i.body.tag)).toEqual(["old-low", "urgent"]);

    await queue.publishMany(["f", "g", "h", "i"].map((tag) => ({ body: { tag } })));
    expect((await queue.deadLetters()).items.map((i) => [i.body.tag, i.reason])).toEqual(
      ["old-low", "urgent", "c", "d", "e", "f"].map((tag) => [tag, "overflow"]),
    );
    expect((await leaseOneByOne(queue)).map((m) => m.body.tag)).toEqual(["g", "h", "i"]);
  });

  it("drop-oldest never drops a leased message", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("bp"), { maxLength: 1, overflow: "drop-oldest" });
    await queue.publish({ tag: "a" });
    const [leased] = await queue.lease();
    await queue.publish({ tag: "b" });
    await queue.publish({ tag: "c" });
    expect((await queue.deadLetters()).items.map((i) => i.body.tag)).toEqual(["b"]);
    await queue.ack(leased.id, leased.leaseToken);
    expect((await leaseAll(queue)).map((m) => m.body.tag)).toEqual(["c"]);
  });

  it("lowering maxLength on a queue takes effect for the next publish", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("bp"));
    await queue.publishMany([1, 2, 3].map((body) => ({ body })));
    await queue.setOptions({ maxLength: 2 });
    await spoolError(() => queue.publish(4), "queue_full");
    expect(await queue.stats()).toMatchObject({ ready: 3 });
  });
};
