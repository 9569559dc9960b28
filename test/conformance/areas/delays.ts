/**
 * Delays: `delayMs` and absolute `availableAt` (ms epoch, ISO string, Date). A delayed message
 * is "delayed" until due and leasable exactly when due; the due time itself wakes consumers
 * (long-poll leases and workers), with no polling loop.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import type { LeaseRequest, LeasedStoredMessage, Store } from "../../../src/index.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import { storeProxy, type AreaDefinition } from "../suite.js";
import { itOnClock, letWakeUpsRun, manualClock } from "./publish-helpers.js";
import { waitForClock } from "./time-helpers.js";

type Tagged = { tag: string };

/**
 * Counts the store's lease calls and the wake-ups its `watch` delivers. An idle consumer that
 * polled would lease without being woken; one that waits on wake-ups leases about once per
 * wake-up (the store may send spurious ones: the contract allows them).
 */
function countingStore(counter: { leases: number; wakeUps: number }) {
  return (store: Store): Store =>
    storeProxy(store, {
      lease: (queue: string, request: LeaseRequest): Promise<LeasedStoredMessage[]> => {
        counter.leases++;
        return store.lease(queue, request);
      },
      watch: (queue: string, listener: () => void) =>
        store.watch(queue, () => {
          counter.wakeUps++;
          listener();
        }),
    });
}

export const delays: AreaDefinition = (suite, open) => {
  it("a delayed message is 'delayed' in stats and status, and not leasable, before it is due", async () => {
    const { spool, store } = await open();
    const queue = spool.queue(uniqueQueueName("delay"));
    const before = store.clock.now();
    const { id } = await queue.publish({ n: 1 }, { delayMs: 60_000 });
    const status = await spool.status(id);
    expect(status?.state).toBe("delayed");
    expect(status?.availableAt).toBe((status?.publishedAt ?? NaN) + 60_000);
    expect(status?.publishedAt).toBeGreaterThanOrEqual(before);
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 1, leased: 0, totals: { published: 1 } });
    expect(await queue.lease({ max: 10 })).toEqual([]);
  });

  it("a queue's delayMs delays every publish that gives no time of its own; a publish's delayMs or availableAt wins", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("delay"), { delayMs: 60_000 });
    const plain = await queue.publish("plain");
    const [batched] = await queue.publishMany([{ body: "batched" }]);
    const own = await queue.publish("own", { delayMs: 0 });
    const absolute = await queue.publish("absolute", { availableAt: 0 });
    for (const { id } of [plain, batched]) {
      const status = await spool.status(id);
      expect(status?.state).toBe("delayed");
      expect(status?.availableAt).toBe((status?.publishedAt ?? NaN) + 60_000);
    }
    for (const { id } of [own, absolute]) expect((await spool.status(id))?.state).toBe("ready");
    expect((await queue.lease({ max: 10 })).map((m) => m.body).sort()).toEqual(["absolute", "own"]);
    expect((await queue.info()).options.delayMs).toBe(60_000);
  });

  it("delayMs counts from the store's own publish time, however long the call took to reach the store", async () => {
    // A slow path to the store (a network, a queue declaration written first): 50 ms moved on a
    // ManualClock, 30 ms waited on the system clock, between the call and the store's publish.
    const slow: { path?: () => Promise<void> } = {};
    const ctx = await open({
      wrap: (store) =>
        storeProxy(store, {
          publish: async (...args: Parameters<Store["publish"]>) => {
            await slow.path?.();
            return store.publish(...args);
          },
        }),
    });
    const { clock, store } = ctx;
    slow.path = clock ? async () => clock.advance(50) : () => waitForClock(store, store.clock.now() + 30);
    const queue = ctx.spool.queue(uniqueQueueName("delay"));
    const published = [
      await queue.publish({ n: 1 }, { delayMs: 60_000 }),
      ...(await queue.publishMany([{ body: { n: 2 }, delayMs: 60_000 }])),
      ...(await ctx.spool.publishToExchange("", queue.name, { n: 3 }, { delayMs: 60_000 })).messages,
    ];
    for (const { id } of published) {
      const status = await ctx.spool.status(id);
      expect(status?.state).toBe("delayed");
      expect(status?.availableAt).toBe((status?.publishedAt ?? NaN) + 60_000);
    }
  });

  it.each([
    ["a number (ms since the epoch)", (at: number) => at],
    ["an ISO string", (at: number) => new Date(at).toISOString()],
    ["an ISO string with an offset", (at: number) => new Date(at + 2 * 3_600_000).toISOString().replace("Z", "+02:00")],
    ["a Date", (at: number) => new Date(at)],
  ])("availableAt as %s makes the message delayed until exactly that time", async (_what, as) => {
    const { spool, store } = await open();
    const queue = spool.queue(uniqueQueueName("delay"));
    const dueAt = store.clock.now() + 3_600_000;
    const { id } = await queue.publish({ n: 1 }, { availableAt: as(dueAt) });
    const status = await spool.status(id);
    expect(status?.state).toBe("delayed");
    expect(status?.availableAt).toBe(dueAt);
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 1 });
    expect(await queue.lease()).toEqual([]);
  });

  it.each([
    ["delayMs 0", () => ({ delayMs: 0 })],
    ["availableAt in the past", (now: number) => ({ availableAt: now - 60_000 })],
    ["availableAt now", (now: number) => ({ availableAt: now })],
    ["an ISO availableAt in the past", (now: number) => ({ availableAt: new Date(now - 1000).toISOString() })],
  ])("%s is ready at once", async (_what, options) => {
    const { spool, store } = await open();
    const queue = spool.queue(uniqueQueueName("delay"));
    const { id } = await queue.publish({ n: 1 }, options(store.clock.now()));
    expect((await spool.status(id))?.state).toBe("ready");
    expect(await queue.stats()).toMatchObject({ ready: 1, delayed: 0 });
    const [message] = await queue.lease();
    expect(message.id).toBe(id);
  });

  itOnClock(
    suite,
    "a delayMs message becomes leasable exactly when due, not 1 ms before",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue(uniqueQueueName("delay"));
      const t0 = clock.now();
      const { id } = await queue.publish({ n: 1 }, { delayMs: 1000 });
      clock.advance(999);
      expect(await queue.lease()).toEqual([]);
      expect((await ctx.spool.status(id))?.state).toBe("delayed");
      expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 1 });
      clock.advance(1);
      expect((await ctx.spool.status(id))?.state).toBe("ready");
      expect(await queue.stats()).toMatchObject({ ready: 1, delayed: 0 });
      const [message] = await queue.lease();
      expect(message.id).toBe(id);
      expect(message.availableAt).toBe(t0 + 1000);
      expect(message.attempt).toBe(1);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue(uniqueQueueName("delay"));
      const { id } = await queue.publish({ n: 1 }, { delayMs: 300 });
      expect(await queue.lease()).toEqual([]);
      const [message] = await pollUntil(async () => {
        const got = await queue.lease();
        return got.length > 0 ? got : undefined;
      });
      expect(message.id).toBe(id);
      expect(ctx.store.clock.now()).toBeGreaterThanOrEqual(message.availableAt);
    },
  );

  itOnClock(
    suite,
    "absolute availableAt (number, ISO string, Date) is leasable exactly at that time",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<Tagged>(uniqueQueueName("delay"));
      const dueAt = clock.now() + 1500;
      await queue.publish({ tag: "number" }, { availableAt: dueAt });
      await queue.publish({ tag: "iso" }, { availableAt: new Date(dueAt).toISOString() });
      await queue.publish({ tag: "date" }, { availableAt: new Date(dueAt) });
      clock.advance(1499);
      expect(await queue.lease({ max: 10 })).toEqual([]);
      expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 3 });
      clock.advance(1);
      const leased = await queue.lease({ max: 10 });
      expect(leased.map((m) => m.body.tag)).toEqual(["number", "iso", "date"]);
      expect(leased.every((m) => m.availableAt === dueAt)).toBe(true);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<Tagged>(uniqueQueueName("delay"));
      const dueAt = ctx.store.clock.now() + 300;
      await queue.publish({ tag: "number" }, { availableAt: dueAt });
      await queue.publish({ tag: "iso" }, { availableAt: new Date(dueAt).toISOString() });
      await queue.publish({ tag: "date" }, { availableAt: new Date(dueAt) });
      expect(await queue.lease({ max: 10 })).toEqual([]);
      await pollUntil(async () => (await queue.stats()).ready === 3);
      expect(ctx.store.clock.now()).toBeGreaterThanOrEqual(dueAt);
      const leased = await queue.lease({ max: 10 });
      expect(leased.map((m) => m.body.tag).sort()).toEqual(["date", "iso", "number"]);
    },
  );

  itOnClock(
    suite,
    "messages falling due together come out by priority, then publish order",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<Tagged>(uniqueQueueName("delay"));
      await queue.publishMany([
        { body: { tag: "a" }, delayMs: 1000 },
        { body: { tag: "b" }, delayMs: 1000 },
        { body: { tag: "c" }, delayMs: 1000, priority: 7 },
        { body: { tag: "d" }, delayMs: 1000 },
        ...Array.from({ length: 12 }, (_, n) => ({ body: { tag: `x${n}` }, delayMs: 1000 })),
      ]);
      clock.advance(1000);
      const leased = await queue.lease({ max: 100 });
      expect(leased.map((m) => m.body.tag)).toEqual(["c", "a", "b", "d", ...Array.from({ length: 12 }, (_, n) => `x${n}`)]);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<Tagged>(uniqueQueueName("delay"));
      const dueAt = ctx.store.clock.now() + 200;
      await queue.publishMany([
        { body: { tag: "a" }, availableAt: dueAt },
        { body: { tag: "b" }, availableAt: dueAt },
        { body: { tag: "c" }, availableAt: dueAt, priority: 7 },
        { body: { tag: "d" }, availableAt: dueAt },
      ]);
      await pollUntil(async () => (await queue.stats()).ready === 4);
      const leased = await queue.lease({ max: 100 });
      expect(leased.map((m) => m.body.tag)).toEqual(["c", "a", "b", "d"]);
    },
  );

  itOnClock(
    suite,
    "a long-poll lease wakes when a delayed message falls due",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue(uniqueQueueName("delay"));
      const { id } = await queue.publish({ n: 1 }, { delayMs: 1000 });
      let settled = false;
      const waiting = queue.lease({ waitMs: 10_000 }).finally(() => (settled = true));
      await letWakeUpsRun();
      clock.advance(999);
      await letWakeUpsRun();
      expect(settled).toBe(false);
      clock.advance(1);
      const [message] = await waiting;
      expect(message?.id).toBe(id);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue(uniqueQueueName("delay"));
      const { id } = await queue.publish({ n: 1 }, { delayMs: 50 });
      const [message] = await queue.lease({ waitMs: 10_000 });
      expect(message?.id).toBe(id);
    },
  );

  itOnClock(
    suite,
    "a worker starts a delayed message when the clock reaches its due time",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue(uniqueQueueName("delay"));
      const starts: Array<{ id: string; at: number }> = [];
      const worker = queue.work(async (message) => {
        starts.push({ id: message.id, at: clock.now() });
      });
      const completed: string[] = [];
      worker.on("message:completed", (event) => completed.push(event.id));
      const t0 = clock.now();
      const { id } = await queue.publish({ n: 1 }, { delayMs: 1000 });
      await letWakeUpsRun();
      clock.advance(999);
      await letWakeUpsRun();
      expect(starts).toEqual([]);
      clock.advance(1);
      await pollUntil(() => completed.includes(id), { what: "the delayed message to complete" });
      expect(starts).toEqual([{ id, at: t0 + 1000 }]);
      expect((await ctx.spool.status(id))?.state).toBe("completed");
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue(uniqueQueueName("delay"));
      const starts: Array<{ id: string; at: number }> = [];
      const worker = queue.work(async (message) => {
        starts.push({ id: message.id, at: ctx.store.clock.now() });
      });
      const completed: string[] = [];
      worker.on("message:completed", (event) => completed.push(event.id));
      const { id } = await queue.publish({ n: 1 }, { delayMs: 100 });
      const status = await ctx.spool.status(id);
      await pollUntil(() => completed.includes(id), { what: "the delayed message to complete" });
      expect(starts).toHaveLength(1);
      expect(starts[0].at).toBeGreaterThanOrEqual(status?.availableAt ?? Infinity);
    },
  );

  it("on the system clock, an idle worker starts a new message and a 50 ms delayed one when due, without polling", async () => {
    const counted = { leases: 0, wakeUps: 0 };
    const ctx = await open({ manualClock: false, wrap: countingStore(counted) });
    const queue = ctx.spool.queue(uniqueQueueName("delay"));
    const starts: Array<{ id: string; at: number }> = [];
    const worker = queue.work(async (message) => {
      starts.push({ id: message.id, at: ctx.store.clock.now() });
    });
    const completed: string[] = [];
    worker.on("message:completed", (event) => completed.push(event.id));

    const now = await queue.publish({ n: "now" });
    await pollUntil(() => completed.includes(now.id), { what: "the new message to complete" });

    await letWakeUpsRun();
    const idle = { ...counted };
    const delayed = await queue.publish({ n: "later" }, { delayMs: 50 });
    const availableAt = (await ctx.spool.status(delayed.id))?.availableAt ?? Infinity;
    await pollUntil(() => completed.includes(delayed.id), { what: "the delayed message to complete" });
    expect(starts.map((s) => s.id)).toEqual([now.id, delayed.id]);
    expect(starts[1].at).toBeGreaterThanOrEqual(availableAt);
    // The due time itself woke the worker (nothing else was published), and the worker leased
    // about once per wake-up (the publish, the due time, after the handler): one that polled
    // while idle would lease many more times in 50 ms than it was woken.
    const wakeUps = counted.wakeUps - idle.wakeUps;
    expect(wakeUps).toBeGreaterThanOrEqual(1);
    expect(counted.leases - idle.leases).toBeLessThanOrEqual(wakeUps + 2);
  });

  it("on the system clock, a delay longer than a timer can hold (> 24.8 days) stays delayed without a busy timer", async () => {
    const ctx = await open({ manualClock: false });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      const queue = ctx.spool.queue(uniqueQueueName("delay"));
      queue.work(async () => {});
      const { id } = await queue.publish({ n: 1 }, { delayMs: 30 * 86_400_000 });
      // Node warns (on the next tick) when a timer overflows, then fires it after 1 ms: a spin.
      await letWakeUpsRun();
      expect(warnings).not.toContain("TimeoutOverflowWarning");
      expect((await ctx.spool.status(id))?.state).toBe("delayed");
    } finally {
      process.off("warning", onWarning);
    }
  });
};
