/**
 * Two different tools:
 * - dedupKey, replace semantics: a publish whose key matches a waiting (ready or delayed)
 *   message replaces its body, headers and priority in place (same id, `replaced: true`);
 *   if the earlier one is leased or gone, it is a new message.
 * - idempotencyKey, drop semantics: a key seen in that queue within the window enqueues nothing
 *   and answers the original id with `duplicate: true`.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { itWith } from "./capability-helpers.js";
import { counts, itOnClock, leaseAll, leaseOneByOne, manualClock } from "./publish-helpers.js";

type Versioned = { v: number };
type Tagged = { tag: string };

export const dedupIdempotency: AreaDefinition = (suite, open) => {
  /** The dedupKey tests need replace in place: on a store without it, each checks that a dedupKey is refused. */
  const itDedup = (name: string, body: () => Promise<void>) => itWith(suite, open, "replaceInPlace", name, body);

  // ── dedupKey ──────────────────────────────────────────────────────────────────────────

  itDedup("dedupKey replaces a ready message: same id, replaced, new body, headers and priority", async () => {
    const { spool } = await open();
    const queue = spool.queue<Versioned>(uniqueQueueName("dedup"));
    const first = await queue.publish({ v: 1 }, { dedupKey: "k", headers: { h: "1", old: "x" }, priority: 1 });
    expect(first).toMatchObject({ replaced: false, duplicate: false });
    const second = await queue.publish({ v: 2 }, { dedupKey: "k", headers: { h: "2" }, priority: 3 });
    expect(second).toEqual({ id: first.id, replaced: true, duplicate: false });
    expect(counts(await queue.stats())).toMatchObject({ ready: 1, totals: { published: 1 } });
    const leased = await leaseAll(queue);
    expect(leased).toHaveLength(1);
    expect(leased[0]).toMatchObject({ id: first.id, body: { v: 2 }, headers: { h: "2" }, priority: 3, attempt: 1 });
    expect(leased[0].headers).not.toHaveProperty("old");
  });

  itDedup("a replace without headers or priority clears them back to none and 0", async () => {
    const { spool } = await open();
    const queue = spool.queue<Versioned>(uniqueQueueName("dedup"));
    const first = await queue.publish({ v: 1 }, { dedupKey: "k", headers: { h: "1" }, priority: 6 });
    await queue.publish({ v: 2 }, { dedupKey: "k" });
    const [message] = await queue.lease();
    expect(message).toMatchObject({ id: first.id, body: { v: 2 }, priority: 0 });
    expect(message.headers).toEqual({});
  });

  itDedup("a replaced message keeps its place in line", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("dedup"));
    const a = await queue.publish({ tag: "a1" }, { dedupKey: "a" });
    await queue.publish({ tag: "b" });
    await queue.publish({ tag: "c" });
    await queue.publish({ tag: "a2" }, { dedupKey: "a" });
    const leased = await leaseOneByOne(queue);
    expect(leased.map((m) => m.body.tag)).toEqual(["a2", "b", "c"]);
    expect(leased[0].id).toBe(a.id);
  });

  itDedup("a replace that changes priority keeps publish order inside the new level", async () => {
    const { spool } = await open();
    const queue = spool.queue<Tagged>(uniqueQueueName("dedup"));
    await queue.publish({ tag: "a" }, { dedupKey: "a" });
    await queue.publish({ tag: "b" }, { priority: 5 });
    await queue.publish({ tag: "c" }, { priority: 5 });
    await queue.publish({ tag: "d" }, { dedupKey: "d", priority: 5 });
    await queue.publish({ tag: "e" });
    await queue.publish({ tag: "a'" }, { dedupKey: "a", priority: 5 }); // published first: ahead of b and c
    await queue.publish({ tag: "d'" }, { dedupKey: "d", priority: 0 }); // published before e: ahead of e
    const leased = await leaseOneByOne(queue);
    expect(leased.map((m) => m.body.tag)).toEqual(["a'", "b", "c", "d'", "e"]);
  });

  itDedup("dedupKey replaces a delayed message, which stays delayed", async () => {
    const { spool } = await open();
    const queue = spool.queue<Versioned>(uniqueQueueName("dedup"));
    const first = await queue.publish({ v: 1 }, { dedupKey: "k", delayMs: 60_000 });
    const second = await queue.publish({ v: 2 }, { dedupKey: "k" });
    expect(second).toEqual({ id: first.id, replaced: true, duplicate: false });
    expect((await spool.status(first.id))?.state).toBe("delayed");
    expect(counts(await queue.stats())).toMatchObject({ ready: 0, delayed: 1, totals: { published: 1 } });
    expect(await queue.lease()).toEqual([]);
  });

  itDedup("a replace inside one publishMany lands on the first item", async () => {
    const { spool } = await open();
    const queue = spool.queue<Versioned>(uniqueQueueName("dedup"));
    const results = await queue.publishMany([
      { body: { v: 1 }, dedupKey: "k" },
      { body: { v: 2 }, dedupKey: "other" },
      { body: { v: 3 }, dedupKey: "k" },
    ]);
    expect(results[2]).toEqual({ id: results[0].id, replaced: true, duplicate: false });
    expect(results[1].id).not.toBe(results[0].id);
    const leased = await leaseAll(queue);
    expect(leased.map((m) => m.body)).toEqual([{ v: 3 }, { v: 2 }]);
  });

  itDedup("when the earlier message is leased, the same dedupKey makes a new message", async () => {
    const { spool } = await open();
    const queue = spool.queue<Versioned>(uniqueQueueName("dedup"));
    const first = await queue.publish({ v: 1 }, { dedupKey: "k" });
    const [leased] = await queue.lease();
    const second = await queue.publish({ v: 2 }, { dedupKey: "k" });
    expect(second.replaced).toBe(false);
    expect(second.id).not.toBe(first.id);
    expect(counts(await queue.stats())).toMatchObject({ ready: 1, leased: 1, totals: { published: 2 } });
    // The leased one is untouched and still acks with its token.
    expect(leased.body).toEqual({ v: 1 });
    await queue.ack(leased.id, leased.leaseToken);
    // The new one is now the waiting holder of the key: a third publish replaces it.
    const third = await queue.publish({ v: 3 }, { dedupKey: "k" });
    expect(third).toEqual({ id: second.id, replaced: true, duplicate: false });
    const [next] = await queue.lease();
    expect(next).toMatchObject({ id: second.id, body: { v: 3 } });
  });

  itDedup("a message retried back to waiting (ready or delayed) is replaced by its dedupKey again", async () => {
    const { spool } = await open();
    const queue = spool.queue<Versioned>(uniqueQueueName("dedup"));
    const first = await queue.publish({ v: 1 }, { dedupKey: "k" });
    let [leased] = await queue.lease();
    await queue.nack(leased.id, leased.leaseToken, { error: { message: "again", kind: "transient" } }); // ready again
    expect(await queue.publish({ v: 2 }, { dedupKey: "k" })).toEqual({ id: first.id, replaced: true, duplicate: false });
    [leased] = await queue.lease();
    expect(leased).toMatchObject({ id: first.id, body: { v: 2 }, attempt: 2 });
    await queue.nack(leased.id, leased.leaseToken, { delayMs: 60_000 }); // delayed again
    expect(await queue.publish({ v: 3 }, { dedupKey: "k" })).toEqual({ id: first.id, replaced: true, duplicate: false });
    expect(counts(await queue.stats())).toMatchObject({ ready: 0, delayed: 1, totals: { published: 1 } });
  });

  itDedup("while a newer message holds the dedupKey, a retried older one does not take it back", async () => {
    const { spool } = await open();
    const queue = spool.queue<Versioned>(uniqueQueueName("dedup"));
    const first = await queue.publish({ v: 1 }, { dedupKey: "k" });
    const [leased] = await queue.lease();
    const second = await queue.publish({ v: 2 }, { dedupKey: "k" });
    expect(second.id).not.toBe(first.id);
    await queue.nack(leased.id, leased.leaseToken, { error: { message: "again", kind: "transient" } });
    expect(await queue.publish({ v: 3 }, { dedupKey: "k" })).toEqual({ id: second.id, replaced: true, duplicate: false });
    const all = await leaseAll(queue);
    expect(all.map((m) => `${m.id}:${m.body.v}`).sort()).toEqual([`${first.id}:1`, `${second.id}:3`].sort());
  });

  for (const [what, how] of [
    ["completed", "ack"],
    ["dead", "dead"],
    ["purged", "purge"],
  ] as const) {
    itDedup(`when the earlier message is ${what}, the same dedupKey makes a new message`, async () => {
      const { spool } = await open();
      const queue = spool.queue<Versioned>(uniqueQueueName("dedup"));
      const first = await queue.publish({ v: 1 }, { dedupKey: "k" });
      if (how === "purge") {
        expect(await queue.purge()).toBe(1);
      } else {
        const [leased] = await queue.lease();
        if (how === "ack") await queue.ack(leased.id, leased.leaseToken);
        else await queue.nack(leased.id, leased.leaseToken, { error: { message: "no", kind: "permanent" } });
      }
      const second = await queue.publish({ v: 2 }, { dedupKey: "k" });
      expect(second.replaced).toBe(false);
      expect(second.id).not.toBe(first.id);
      const leased = await leaseAll(queue);
      expect(leased.map((m) => m.body)).toEqual([{ v: 2 }]);
    });
  }

  itDedup("dedupKeys are per queue", async () => {
    const { spool } = await open();
    const one = spool.queue<Versioned>(uniqueQueueName("dedup"));
    const two = spool.queue<Versioned>(uniqueQueueName("dedup"));
    const a = await one.publish({ v: 1 }, { dedupKey: "k" });
    const b = await two.publish({ v: 2 }, { dedupKey: "k" });
    expect(b.replaced).toBe(false);
    expect(b.id).not.toBe(a.id);
    expect((await leaseAll(one)).map((m) => m.body)).toEqual([{ v: 1 }]);
    expect((await leaseAll(two)).map((m) => m.body)).toEqual([{ v: 2 }]);
  });

  // ── idempotencyKey ────────────────────────────────────────────────────────────────────

  it("a repeated idempotencyKey enqueues nothing and answers the original id with duplicate", async () => {
    const { spool } = await open();
    const queue = spool.queue<Versioned>(uniqueQueueName("idem"));
    const first = await queue.publish({ v: 1 }, { idempotencyKey: "order-1" });
    expect(first).toMatchObject({ replaced: false, duplicate: false });
    const before = counts(await queue.stats());
    const again = await queue.publish({ v: 2 }, { idempotencyKey: "order-1", priority: 9, headers: { x: "y" } });
    expect(again).toEqual({ id: first.id, replaced: false, duplicate: true });
    expect(counts(await queue.stats())).toEqual(before);
    const leased = await leaseAll(queue);
    expect(leased).toHaveLength(1);
    expect(leased[0]).toMatchObject({ id: first.id, body: { v: 1 }, priority: 0, headers: {} });
  });

  it("the original stays a duplicate after it was leased, completed or dead-lettered", async () => {
    const { spool } = await open();
    const queue = spool.queue<Versioned>(uniqueQueueName("idem"));
    const first = await queue.publish({ v: 1 }, { idempotencyKey: "k" });
    const [leased] = await queue.lease();
    expect(await queue.publish({ v: 2 }, { idempotencyKey: "k" })).toEqual({ id: first.id, replaced: false, duplicate: true });
    await queue.ack(leased.id, leased.leaseToken);
    expect(await queue.publish({ v: 3 }, { idempotencyKey: "k" })).toEqual({ id: first.id, replaced: false, duplicate: true });

    const doomed = await queue.publish({ v: 4 }, { idempotencyKey: "d" });
    const [d] = await queue.lease();
    await queue.nack(d.id, d.leaseToken, { error: { message: "bad", kind: "permanent" } });
    expect(await queue.publish({ v: 5 }, { idempotencyKey: "d" })).toEqual({ id: doomed.id, replaced: false, duplicate: true });
    expect(counts(await queue.stats())).toMatchObject({ ready: 0, leased: 0, dead: 1, totals: { published: 2 } });
  });

  it("idempotencyKeys work inside one publishMany, and a retried batch enqueues nothing", async () => {
    const { spool } = await open();
    const queue = spool.queue<Versioned>(uniqueQueueName("idem"));
    const batch = [
      { body: { v: 1 }, idempotencyKey: "a" },
      { body: { v: 2 }, idempotencyKey: "b" },
      { body: { v: 3 }, idempotencyKey: "a" },
      { body: { v: 4 } },
    ];
    const results = await queue.publishMany(batch);
    expect(results.map((r) => r.duplicate)).toEqual([false, false, true, false]);
    expect(results[2].id).toBe(results[0].id);
    expect(counts(await queue.stats())).toMatchObject({ ready: 3, totals: { published: 3 } });

    const retried = await queue.publishMany(batch.slice(0, 3));
    expect(retried).toEqual([
      { id: results[0].id, replaced: false, duplicate: true },
      { id: results[1].id, replaced: false, duplicate: true },
      { id: results[0].id, replaced: false, duplicate: true },
    ]);
    expect(counts(await queue.stats())).toMatchObject({ ready: 3, totals: { published: 3 } });
    expect((await leaseAll(queue)).map((m) => m.body)).toEqual([{ v: 1 }, { v: 2 }, { v: 4 }]);
  });

  it("idempotencyKeys are per queue", async () => {
    const { spool } = await open();
    const one = spool.queue(uniqueQueueName("idem"));
    const two = spool.queue(uniqueQueueName("idem"));
    const a = await one.publish(1, { idempotencyKey: "k" });
    const b = await two.publish(2, { idempotencyKey: "k" });
    expect(b.duplicate).toBe(false);
    expect(b.id).not.toBe(a.id);
  });

  itOnClock(
    suite,
    "after the idempotency window the same key is accepted again",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<Versioned>(uniqueQueueName("idem"), { idempotencyWindowMs: 1000 });
      const first = await queue.publish({ v: 1 }, { idempotencyKey: "k" });
      clock.advance(999);
      expect(await queue.publish({ v: 2 }, { idempotencyKey: "k" })).toEqual({ id: first.id, replaced: false, duplicate: true });
      clock.advance(1);
      const later = await queue.publish({ v: 3 }, { idempotencyKey: "k" });
      expect(later.duplicate).toBe(false);
      expect(later.id).not.toBe(first.id);
      // The window restarts from the new publish.
      clock.advance(999);
      expect(await queue.publish({ v: 4 }, { idempotencyKey: "k" })).toEqual({ id: later.id, replaced: false, duplicate: true });
      expect((await leaseAll(queue)).map((m) => m.body)).toEqual([{ v: 1 }, { v: 3 }]);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<Versioned>(uniqueQueueName("idem"), { idempotencyWindowMs: 50 });
      const first = await queue.publish({ v: 1 }, { idempotencyKey: "k" });
      expect((await queue.publish({ v: 2 }, { idempotencyKey: "k" })).duplicate).toBe(true);
      const later = await pollUntil(async () => {
        const result = await queue.publish({ v: 3 }, { idempotencyKey: "k" });
        return result.duplicate ? undefined : result;
      });
      expect(later.id).not.toBe(first.id);
      expect((await leaseAll(queue)).map((m) => m.body)).toEqual([{ v: 1 }, { v: 3 }]);
    },
  );

  itOnClock(
    suite,
    "idempotentId looks a key up without remembering it: the original id within the window, then nothing",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const name = uniqueQueueName("idem");
      const queue = ctx.spool.queue<Versioned>(name, { idempotencyWindowMs: 1000 });
      expect(await ctx.store.idempotentId(name, "k")).toBeUndefined();
      expect(await ctx.store.idempotentId(uniqueQueueName("none"), "k")).toBeUndefined(); // no such queue
      const first = await queue.publish({ v: 1 }, { idempotencyKey: "k" });
      expect(await ctx.store.idempotentId(name, "k")).toBe(first.id);
      expect(await ctx.store.idempotentId(name, "other")).toBeUndefined();
      // The lookup of "other" remembered nothing: publishing it is not a duplicate.
      expect((await queue.publish({ v: 2 }, { idempotencyKey: "other" })).duplicate).toBe(false);
      clock.advance(999);
      expect(await ctx.store.idempotentId(name, "k")).toBe(first.id);
      clock.advance(1);
      expect(await ctx.store.idempotentId(name, "k")).toBeUndefined();
    },
    async () => {
      const ctx = await open();
      const name = uniqueQueueName("idem");
      const queue = ctx.spool.queue<Versioned>(name);
      expect(await ctx.store.idempotentId(name, "k")).toBeUndefined();
      const first = await queue.publish({ v: 1 }, { idempotencyKey: "k" });
      expect(await ctx.store.idempotentId(name, "k")).toBe(first.id);
      expect(await ctx.store.idempotentId(name, "other")).toBeUndefined();
      expect((await queue.publish({ v: 2 }, { idempotencyKey: "other" })).duplicate).toBe(false);
    },
  );

  itOnClock(
    suite,
    "the default idempotency window is 24 hours",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue(uniqueQueueName("idem"));
      const first = await queue.publish(1, { idempotencyKey: "k" });
      clock.advance(24 * 3_600_000 - 1);
      expect((await queue.publish(2, { idempotencyKey: "k" })).id).toBe(first.id);
      clock.advance(1);
      expect((await queue.publish(3, { idempotencyKey: "k" })).duplicate).toBe(false);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue(uniqueQueueName("idem"));
      expect((await queue.info()).options.idempotencyWindowMs).toBe(24 * 3_600_000);
    },
  );
};
