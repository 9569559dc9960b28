/**
 * Ordering groups: messages of one groupKey are handed out strictly one at a time, in publish
 * order; the next is leasable only once the previous is completed or dead. A retried head keeps
 * its group blocked. Different groups (and ungrouped messages) run in parallel.
 */
import { expect } from "vitest";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { itWith } from "./capability-helpers.js";
import { deferred, leaseAll, letWakeUpsRun, manualClock, onClock } from "./publish-helpers.js";
import { observeChange } from "./time-helpers.js";

type Step = { group: string; n: number };

export const groups: AreaDefinition = (suite, open) => {
  /** Every test here needs ordering groups: on a store without them, each checks that a groupKey is refused. */
  const itGroups = (name: string, body: () => Promise<void>) => itWith(suite, open, "orderingGroups", name, body);

  itGroups("only one message of a group is in flight; the rest count as ready", async () => {
    const { spool } = await open();
    const queue = spool.queue<Step>(uniqueQueueName("group"));
    const ids = (await queue.publishMany([0, 1, 2].map((n) => ({ body: { group: "g", n }, groupKey: "g" })))).map((r) => r.id);
    expect(await queue.stats()).toMatchObject({ ready: 3, leased: 0 });
    expect((await spool.status(ids[2]))?.state).toBe("ready");
    const leased = await queue.lease({ max: 10 });
    expect(leased.map((m) => m.body.n)).toEqual([0]);
    expect(leased[0].groupKey).toBe("g");
    expect(await queue.lease({ max: 10 })).toEqual([]);
    expect(await queue.stats()).toMatchObject({ ready: 2, leased: 1 });
  });

  itGroups("a group is delivered strictly in publish order, each only after the previous is acked", async () => {
    const { spool } = await open();
    const queue = spool.queue<Step>(uniqueQueueName("group"));
    for (let n = 0; n < 6; n++) await queue.publish({ group: "g", n }, { groupKey: "g", priority: n % 2 === 0 ? 0 : 9 });
    const order: number[] = [];
    for (;;) {
      const [message, extra] = await queue.lease({ max: 10 });
      if (!message) break;
      expect(extra).toBeUndefined();
      order.push(message.body.n);
      expect(await queue.lease({ max: 10 })).toEqual([]);
      await queue.ack(message.id, message.leaseToken);
    }
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  for (const [what, nack, reason] of [
    ["a permanent failure", { error: { message: "no", kind: "permanent" as const } }, "permanent_error"],
    ["the last attempt failing", { error: { message: "no", kind: "error" as const } }, "max_attempts"],
  ] as const) {
    itGroups(`a head that goes dead through ${what} lets the next one through`, async () => {
      const { spool } = await open();
      const queue = spool.queue<Step>(uniqueQueueName("group"));
      const head = await queue.publish({ group: "g", n: 0 }, { groupKey: "g", maxAttempts: 1 });
      await queue.publish({ group: "g", n: 1 }, { groupKey: "g" });
      const [first] = await queue.lease();
      expect(first.id).toBe(head.id);
      const outcome = await queue.nack(first.id, first.leaseToken, nack);
      expect(outcome).toMatchObject({ state: "dead", deadReason: reason });
      const [second] = await queue.lease();
      expect(second.body.n).toBe(1);
    });
  }

  itGroups("a retried head keeps its group blocked and is delivered again before the next", async () => {
    const { spool } = await open();
    const queue = spool.queue<Step>(uniqueQueueName("group"));
    const head = await queue.publish({ group: "g", n: 0 }, { groupKey: "g" });
    await queue.publish({ group: "g", n: 1 }, { groupKey: "g" });
    await queue.publish({ group: "h", n: 0 }, { groupKey: "h" });

    // Retried at once: the head comes back, not its successor.
    const [head1, other] = await queue.lease({ max: 10 });
    expect([head1.body, other.body]).toEqual([{ group: "g", n: 0 }, { group: "h", n: 0 }]);
    await queue.ack(other.id, other.leaseToken);
    await queue.nack(head1.id, head1.leaseToken, { error: { message: "again", kind: "transient" } });
    const [message] = await queue.lease({ max: 10 });
    expect(message).toMatchObject({ id: head.id, attempt: 2 });

    // Retried later: the group waits for it, nothing else of the group is leasable meanwhile.
    const outcome = await queue.nack(message.id, message.leaseToken, { delayMs: 60_000 });
    expect(outcome.state).toBe("delayed");
    expect(await queue.lease({ max: 10 })).toEqual([]);
    expect(await queue.stats()).toMatchObject({ ready: 1, delayed: 1, leased: 0 });
  });

  itGroups(
    "a head whose retry or lease expiry comes due is delivered again before the next",
    onClock(
      suite,
      async () => {
        const ctx = await open();
        const clock = manualClock(ctx);
        const queue = ctx.spool.queue<Step>(uniqueQueueName("group"));
        const head = await queue.publish({ group: "g", n: 0 }, { groupKey: "g" });
        await queue.publish({ group: "g", n: 1 }, { groupKey: "g" });
        let [message] = await queue.lease({ leaseMs: 1000 });
        clock.advance(1000); // the lease expires
        [message] = await queue.lease({ max: 10, leaseMs: 1000 });
        expect(message).toMatchObject({ id: head.id, attempt: 2 });
        await queue.nack(message.id, message.leaseToken, { delayMs: 500 });
        clock.advance(499);
        expect(await queue.lease({ max: 10 })).toEqual([]);
        clock.advance(1);
        const leased = await queue.lease({ max: 10 });
        expect(leased.map((m) => [m.id, m.attempt])).toEqual([[head.id, 3]]);
        await queue.ack(leased[0].id, leased[0].leaseToken);
        const [next] = await queue.lease({ max: 10 });
        expect(next.body.n).toBe(1);
      },
      async () => {
        const ctx = await open();
        const queue = ctx.spool.queue<Step>(uniqueQueueName("group"));
        const head = await queue.publish({ group: "g", n: 0 }, { groupKey: "g" });
        await queue.publish({ group: "g", n: 1 }, { groupKey: "g" });
        const [first] = await queue.lease({ leaseMs: 50 });
        const leaseAgain = () => queue.lease({ max: 10, leaseMs: 60_000 });
        // Nothing of the group is leasable until the head's lease ends, then the head comes back.
        const [expired] = await observeChange(ctx.store, first.leaseUntil, leaseAgain, (got) => got.length > 0, "the head's lease end");
        expect(expired).toMatchObject({ id: head.id, attempt: 2 });
        const { availableAt } = await queue.nack(expired.id, expired.leaseToken, { delayMs: 30 });
        const retried = await observeChange(ctx.store, availableAt, leaseAgain, (got) => got.length > 0, "the head's retry");
        expect(retried.map((m) => [m.id, m.attempt])).toEqual([[head.id, 3]]);
        await queue.ack(retried[0].id, retried[0].leaseToken);
        const [next] = await queue.lease({ max: 10 });
        expect(next.body.n).toBe(1);
      },
    ),
  );

  itGroups("different groups and ungrouped messages are leased in parallel", async () => {
    const { spool } = await open();
    const queue = spool.queue<Step>(uniqueQueueName("group"));
    const items = [];
    for (let n = 0; n < 3; n++) {
      for (const group of ["a", "b", "c"]) items.push({ body: { group, n }, groupKey: group });
      items.push({ body: { group: "-", n } });
    }
    await queue.publishMany(items);
    const first = await queue.lease({ max: 100 });
    expect(first.map((m) => `${m.body.group}${m.body.n}`)).toEqual(["a0", "b0", "c0", "-0", "-1", "-2"]);
    for (const m of first) await queue.ack(m.id, m.leaseToken);
    const second = await queue.lease({ max: 100 });
    expect(second.map((m) => `${m.body.group}${m.body.n}`)).toEqual(["a1", "b1", "c1"]);
  });

  itGroups("a group key is per queue", async () => {
    const { spool } = await open();
    const one = spool.queue<Step>(uniqueQueueName("group"));
    const two = spool.queue<Step>(uniqueQueueName("group"));
    await one.publish({ group: "g", n: 0 }, { groupKey: "g" });
    await two.publish({ group: "g", n: 0 }, { groupKey: "g" });
    expect(await one.lease()).toHaveLength(1);
    expect(await two.lease()).toHaveLength(1);
  });

  itGroups("a worker runs different groups concurrently, each group one at a time in order", async () => {
    const { spool } = await open();
    const queue = spool.queue<Step>(uniqueQueueName("group"));
    const running: Array<{ step: Step; release: () => void }> = [];
    const started: Step[] = [];
    const worker = queue.work(
      async (message) => {
        const gate = deferred();
        started.push(message.body);
        running.push({ step: message.body, release: gate.resolve });
        await gate.promise;
      },
      { concurrency: 8 },
    );
    const items = [];
    for (let n = 0; n < 4; n++) for (const group of ["a", "b", "c"]) items.push({ body: { group, n }, groupKey: group });
    await queue.publishMany(items);
    let completed = 0;
    worker.on("message:completed", () => completed++);

    for (let round = 0; round < 4; round++) {
      await pollUntil(() => running.length === 3, { what: `round ${round}: one handler per group` });
      await letWakeUpsRun();
      expect(running.length).toBe(3); // concurrency 8, but nothing else of those groups may start
      expect(running.map((r) => r.step).sort((x, y) => x.group.localeCompare(y.group))).toEqual(
        ["a", "b", "c"].map((group) => ({ group, n: round })),
      );
      for (const r of running.splice(0)) r.release();
      await pollUntil(() => completed === 3 * (round + 1), { what: `round ${round} to complete` });
    }
    for (const group of ["a", "b", "c"]) {
      expect(started.filter((s) => s.group === group).map((s) => s.n)).toEqual([0, 1, 2, 3]);
    }
    expect(await leaseAll(queue)).toEqual([]);
  });
};
