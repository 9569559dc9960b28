/**
 * Dead letters: listed oldest first (in the order they died), cursor-paged with cursors that
 * stay valid when entries are deleted or replayed between pages; each carries its reason,
 * attempts and last error. Replay (one, many, all) puts them back to ready with attempts reset
 * and the same id; delete one; purge.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import type { Queue } from "../../../src/index.js";
import { uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { leaseOne, makeDead, statusOf } from "./consume-helpers.js";
import { itWith } from "./capability-helpers.js";
import { counts, leaseAll, spoolError } from "./publish-helpers.js";

/** Walks every page of `queue`'s dead letters with `limit`; returns the ids page by page. */
async function allPages(queue: Queue<number>, limit: number): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await queue.deadLetters({ cursor, limit });
    pages.push(page.items.map((d) => d.id));
    if (page.nextCursor === undefined) return pages;
    expect(page.items.length, "a page with a nextCursor is full").toBe(limit);
    cursor = page.nextCursor;
    if (pages.length > 1000) throw new Error("paging does not end");
  }
}

export const deadLetters: AreaDefinition = (suite, open) => {
  /** The paging tests need dead-letter paging: on a store without it, each checks that a cursor is refused. */
  const itPaging = (name: string, body: () => Promise<void>) => itWith(suite, open, "deadLetterPaging", name, body);

  itPaging("lists dead letters oldest first, in the order they died, with a nextCursor on every page but the last", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    const died = await makeDead(queue, 5, "reverse"); // bodies 4,3,2,1,0 die in that order
    expect(await allPages(queue, 2)).toEqual([died.slice(0, 2), died.slice(2, 4), died.slice(4)]);
    expect(await allPages(queue, 5)).toEqual([died]);
    expect(await allPages(queue, 100)).toEqual([died]);
    expect((await queue.deadLetters()).items.map((d) => d.body)).toEqual([4, 3, 2, 1, 0]);
  });

  itPaging("the last page has no nextCursor even when it is exactly full", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    const died = await makeDead(queue, 4);
    expect(await allPages(queue, 2)).toEqual([died.slice(0, 2), died.slice(2)]);
    expect(await allPages(queue, 4)).toEqual([died]);
  });

  it("an empty dead-letter list is one empty page", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    expect(await queue.deadLetters()).toEqual({ items: [] });
  });

  itPaging("cursors stay valid when entries are deleted or replayed between pages (even the cursor's own entry)", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    const died = await makeDead(queue, 10);
    const first = await queue.deadLetters({ limit: 3 });
    expect(first.items.map((d) => d.id)).toEqual(died.slice(0, 3));

    expect(await queue.deleteDead(died[2])).toBe(true); // the entry the cursor points at
    expect(await queue.deleteDead(died[3])).toBe(true);
    expect(await queue.replayDead({ ids: [died[4]] })).toBe(1);

    const second = await queue.deadLetters({ cursor: first.nextCursor, limit: 3 });
    expect(second.items.map((d) => d.id)).toEqual(died.slice(5, 8));
    const third = await queue.deadLetters({ cursor: second.nextCursor, limit: 3 });
    expect(third.items.map((d) => d.id)).toEqual(died.slice(8));
    expect(third.nextCursor).toBeUndefined();
  });

  itPaging("cursors stay valid across many deletions, and new dead letters come after the old ones", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    const died = await makeDead(queue, 150);
    const first = await queue.deadLetters({ limit: 10 });
    expect(first.items.map((d) => d.id)).toEqual(died.slice(0, 10));
    for (const id of died.slice(5, 140)) expect(await queue.deleteDead(id)).toBe(true);

    const more = await makeDead(queue, 3);
    const rest = await allPagesFrom(queue, first.nextCursor, 4);
    expect(rest).toEqual([...died.slice(140), ...more]);
    expect((await queue.stats()).dead).toBe(5 + 10 + 3);
    expect((await queue.deadLetters({ limit: 1000 })).items.map((d) => d.id)).toEqual([...died.slice(0, 5), ...died.slice(140), ...more]);
  });

  itPaging("rejects a cursor that did not come from a page, and a bad limit, with validation_failed", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    await makeDead(queue, 3);
    for (const cursor of ["not-a-cursor", "-1", "1.5", "", "12abc"]) {
      await spoolError(() => queue.deadLetters({ cursor, limit: 2 }), "validation_failed");
    }
    for (const limit of [0, -1, 1.5, 1001]) await spoolError(() => queue.deadLetters({ limit }), "validation_failed");
  });

  it("each dead letter carries its body, reason, attempts, last error and when it died", async () => {
    const { spool, store } = await open();
    const queue = spool.queue<{ n: number }>(uniqueQueueName("dead"), { maxAttempts: 2, backoff: { type: "fixed", baseMs: 0 } });
    const permanent = await queue.publish({ n: 1 }, { headers: { h: "v" }, priority: 3 });
    const exhausted = await queue.publish({ n: 2 });

    const p = await leaseOne(queue);
    expect(p.id).toBe(permanent.id);
    await queue.nack(p.id, p.leaseToken, { error: { message: "bad input", kind: "permanent" } });

    const e1 = await leaseOne(queue);
    await queue.nack(e1.id, e1.leaseToken, { error: "first failure" });
    const e2 = await leaseOne(queue);
    expect(e2).toMatchObject({ id: exhausted.id, attempt: 2 });
    const before = store.clock.now();
    await queue.nack(e2.id, e2.leaseToken, { error: "second failure" });

    const { items } = await queue.deadLetters();
    expect(items).toHaveLength(2);
    expect(items[0]).toMatchObject({
      id: permanent.id,
      queue: queue.name,
      body: { n: 1 },
      headers: { h: "v" },
      priority: 3,
      reason: "permanent_error",
      attempt: 1,
      lastError: { message: "bad input", kind: "permanent" },
    });
    expect(items[1]).toMatchObject({
      id: exhausted.id,
      body: { n: 2 },
      reason: "max_attempts",
      attempt: 2,
      maxAttempts: 2,
      lastError: { message: "second failure", kind: "error" },
    });
    expect(items[1].deadAt).toBeGreaterThanOrEqual(before);
    expect(items[1].deadAt).toBeLessThanOrEqual(store.clock.now());
    const stats = await queue.stats();
    expect(stats.dead).toBe(2);
    expect(stats.totals.dead).toBe(2);
  });

  itPaging("lists only the dead letters of one reason when asked, paging within them; an unknown reason is refused", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    const leased = await (async () => {
      await queue.publishMany(Array.from({ length: 7 }, (_, body) => ({ body })));
      return queue.lease({ max: 7 });
    })();
    // Bodies 0, 3, 6 are rejected; the others fail permanently: the two reasons interleave.
    const rejected: string[] = [];
    for (const m of [...leased].sort((a, b) => a.body - b.body)) {
      if (m.body % 3 === 0) {
        await queue.nack(m.id, m.leaseToken, { reject: true });
        rejected.push(m.id);
      } else {
        await queue.nack(m.id, m.leaseToken, { error: { message: "no", kind: "permanent" } });
      }
    }
    const first = await queue.deadLetters({ reason: "rejected", limit: 2 });
    expect(first.items.map((d) => d.id)).toEqual(rejected.slice(0, 2));
    expect(first.items.every((d) => d.reason === "rejected")).toBe(true);
    expect(first.nextCursor).toBeDefined();
    const second = await queue.deadLetters({ reason: "rejected", limit: 2, cursor: first.nextCursor });
    expect(second.items.map((d) => d.id)).toEqual(rejected.slice(2));
    expect(second.nextCursor).toBeUndefined();
    expect((await queue.deadLetters({ reason: "permanent_error" })).items).toHaveLength(4);
    expect((await queue.deadLetters({ reason: "expired" })).items).toEqual([]);
    expect((await spoolError(() => queue.deadLetters({ reason: "bounced" as "expired" }), "validation_failed")).details?.[0].path).toBe("/reason");
  });

  it("replaying one dead letter makes it ready again with the same id, same body and attempts reset", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    const [a, b] = await makeDead(queue, 2);

    expect(await queue.replayDead({ ids: [b] })).toBe(1);
    expect(await statusOf(spool, b)).toMatchObject({ state: "ready", attempt: 0 });
    expect((await queue.deadLetters()).items.map((d) => d.id)).toEqual([a]);
    expect(counts(await queue.stats())).toMatchObject({ ready: 1, dead: 1 });

    const message = await leaseOne(queue);
    expect(message).toMatchObject({ id: b, body: 1, attempt: 1 });
    await queue.ack(message.id, message.leaseToken);
    expect((await statusOf(spool, b)).state).toBe("completed");
    // Replaying it again (it is no longer dead) moves nothing.
    expect(await queue.replayDead({ ids: [b] })).toBe(0);
  });

  it("replaying many moves exactly the dead letters named, and ignores ids that are not dead here", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    const other = spool.queue<number>(uniqueQueueName("dead-other"));
    const died = await makeDead(queue, 4);
    const [foreign] = await makeDead(other, 1);

    expect(await queue.replayDead({ ids: [died[0], died[2], "01J0000000000000000000000Z", foreign] })).toBe(2);
    expect((await queue.deadLetters()).items.map((d) => d.id)).toEqual([died[1], died[3]]);
    expect((await other.deadLetters()).items.map((d) => d.id)).toEqual([foreign]);
    const leased = await leaseAll(queue);
    expect(leased.map((m) => m.id).sort()).toEqual([died[0], died[2]].sort());
    for (const m of leased) expect(m.attempt).toBe(1);
  });

  it("replaying all empties the dead-letter list and re-queues them in the order they died", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    const died = await makeDead(queue, 5, "reverse");
    expect(await queue.replayDead({ all: true })).toBe(5);
    expect(await queue.deadLetters()).toEqual({ items: [] });
    const stats = await queue.stats();
    expect(counts(stats)).toMatchObject({ ready: 5, dead: 0 });
    const leased = await leaseAll(queue);
    expect(leased.map((m) => m.id)).toEqual(died);
    for (const m of leased) expect(m.attempt).toBe(1);
    expect(await queue.replayDead({ all: true })).toBe(0);
  });

  it("rejects a replay selection that is neither {ids} nor {all: true} with validation_failed", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    await makeDead(queue, 1);
    for (const bad of [{}, { all: false }, { ids: "x" }, { ids: [1] }, null]) {
      await spoolError(() => queue.replayDead(bad as never), "validation_failed");
    }
    expect((await queue.stats()).dead).toBe(1);
  });

  it("deletes one dead letter; deleting it again answers false", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    const [a, b, c] = await makeDead(queue, 3);
    expect(await queue.deleteDead(b)).toBe(true);
    expect(await queue.deleteDead(b)).toBe(false);
    expect(await queue.deleteDead("01J0000000000000000000000Z")).toBe(false);
    expect((await queue.deadLetters()).items.map((d) => d.id)).toEqual([a, c]);
    expect((await queue.stats()).dead).toBe(2);
    expect(await queue.replayDead({ ids: [b] })).toBe(0);
  });

  it("purge removes every dead letter and answers how many", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("dead"));
    await makeDead(queue, 4);
    await queue.publish(99); // live messages are untouched
    expect(await queue.purgeDead()).toBe(4);
    expect(await queue.deadLetters()).toEqual({ items: [] });
    expect(counts(await queue.stats())).toMatchObject({ dead: 0, ready: 1 });
    expect(await queue.purgeDead()).toBe(0);
    expect(await queue.replayDead({ all: true })).toBe(0);
  });
};

async function allPagesFrom(queue: Queue<number>, cursor: string | undefined, limit: number): Promise<string[]> {
  const ids: string[] = [];
  for (let pages = 0; pages < 1000; pages++) {
    const page = await queue.deadLetters({ cursor, limit });
    ids.push(...page.items.map((d) => d.id));
    if (page.nextCursor === undefined) return ids;
    cursor = page.nextCursor;
  }
  throw new Error("paging does not end");
}
