/**
 * Looking at a queue without leasing (`queue.browse`, `spool.peek`): ready messages in the order
 * they will be leased (priority, then FIFO), delayed by due time, leased by lease end, completed
 * newest first without bodies; bodies and headers while the store keeps them; a limit; and an
 * unknown queue or a bad state refused. Browsing changes nothing.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import { uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { leaseOne } from "./consume-helpers.js";
import { counts, spoolError } from "./publish-helpers.js";

export const browse: AreaDefinition = (_suite, open) => {
  it("ready messages come in lease order with bodies and headers, up to the limit, and nothing changes", async () => {
    const { spool } = await open();
    const queue = spool.queue<{ n: number }>(uniqueQueueName("browse"));
    const low = await queue.publish({ n: 1 }, { headers: { trace: "a" } });
    const high = await queue.publish({ n: 2 }, { priority: 7 });
    const low2 = await queue.publish({ n: 3 });
    const before = counts(await queue.stats());
    const listed = await queue.browse();
    expect(listed.map((m) => m.id)).toEqual([high.id, low.id, low2.id]);
    expect(listed[1]).toMatchObject({ queue: queue.name, state: "ready", attempt: 0, body: { n: 1 }, headers: { trace: "a" } });
    expect((await queue.browse({ limit: 2 })).map((m) => m.id)).toEqual([high.id, low.id]);
    expect(counts(await queue.stats())).toEqual(before);
    const [first] = await queue.lease({ max: 1 });
    expect(first.id).toBe(high.id);
  });

  it("delayed by due time, leased by lease end, completed newest first without a body", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("browse"), { leaseMs: 60_000 });
    const later = await queue.publish("later", { delayMs: 120_000 });
    const sooner = await queue.publish("sooner", { delayMs: 60_000 });
    expect((await queue.browse({ state: "delayed" })).map((m) => [m.id, m.body])).toEqual([
      [sooner.id, "sooner"],
      [later.id, "later"],
    ]);

    const a = await queue.publish("a");
    const b = await queue.publish("b");
    const ma = await leaseOne(queue, 90_000);
    const mb = await leaseOne(queue, 30_000);
    const leased = await queue.browse({ state: "leased" });
    expect(leased.map((m) => m.id)).toEqual([b.id, a.id]);
    expect(leased[0]).toMatchObject({ state: "leased", attempt: 1, leaseUntil: mb.leaseUntil, body: "b" });

    await queue.ack(ma.id, ma.leaseToken);
    await queue.ack(mb.id, mb.leaseToken);
    const completed = await queue.browse({ state: "completed" });
    expect(completed.map((m) => m.id)).toEqual([b.id, a.id]);
    expect(completed[0]).toMatchObject({ state: "completed", body: undefined });
    expect(completed[0].completedAt).toBeGreaterThan(0);
  });

  it("pages by offset: ready in lease order and completed newest first, each page where the last ended", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("browse"));
    const published = await queue.publishMany(Array.from({ length: 7 }, (_, i) => ({ body: i })));
    const ids = published.map((p) => p.id);
    expect((await queue.browse({ limit: 3 })).map((m) => m.id)).toEqual(ids.slice(0, 3));
    expect((await queue.browse({ limit: 3, offset: 3 })).map((m) => m.id)).toEqual(ids.slice(3, 6));
    expect((await queue.browse({ limit: 3, offset: 6 })).map((m) => m.id)).toEqual(ids.slice(6));
    expect(await queue.browse({ limit: 3, offset: 7 })).toEqual([]);
    // One ack at a time: one batch's completions have no order among themselves on every store.
    for (const m of await queue.lease({ max: 7 })) await queue.ack(m.id, m.leaseToken);
    const newestFirst = [...ids].reverse();
    expect((await queue.browse({ state: "completed", limit: 4 })).map((m) => m.id)).toEqual(newestFirst.slice(0, 4));
    expect((await queue.browse({ state: "completed", limit: 4, offset: 4 })).map((m) => m.id)).toEqual(newestFirst.slice(4));
    expect((await spoolError(() => queue.browse({ offset: -1 }), "validation_failed")).details?.[0].path).toBe("/offset");
  });

  it("peek shows a waiting, leased or dead message's body and headers, and nothing once acked", async () => {
    const { spool } = await open();
    const queue = spool.queue<{ to: string }>(uniqueQueueName("browse"), { maxAttempts: 1 });
    const { id } = await queue.publish({ to: "ada" }, { headers: { h: "1" } });
    expect(await spool.peek(id)).toEqual({ id, queue: queue.name, body: { to: "ada" }, headers: { h: "1" } });
    const m = await leaseOne(queue);
    expect((await spool.peek(id))?.body).toEqual({ to: "ada" });
    await queue.nack(m.id, m.leaseToken, { error: { message: "no", kind: "permanent" } });
    expect((await spool.peek(id))?.body).toEqual({ to: "ada" });
    await queue.replayDead({ ids: [id] });
    const again = await leaseOne(queue);
    await queue.ack(again.id, again.leaseToken);
    expect(await spool.peek(id)).toBeUndefined();
    expect(await spool.peek("01ZZZZZZZZZZZZZZZZZZZZZZZZ")).toBeUndefined();
  });

  it("an unknown queue is not_found; a bad state or limit is validation_failed", async () => {
    const { spool } = await open();
    expect((await spoolError(() => spool.browse(uniqueQueueName("never")), "not_found")).code).toBe("not_found");
    const queue = spool.queue(uniqueQueueName("browse"));
    expect((await spoolError(() => queue.browse({ state: "dead" as "ready" }), "validation_failed")).details?.[0].path).toBe("/state");
    expect((await spoolError(() => queue.browse({ limit: 101 }), "validation_failed")).details?.[0].path).toBe("/limit");
  });
};
