/**
 * Schedules: `spool.schedule(name, { cron | everyMs, tz?, queue, body, options?, catchUp? })`
 * fires each slot exactly once. The store publishes the slot's message and moves the schedule's
 * next run in one atomic write (`fireDueSchedules`), so no slot fires twice, whoever fires: the
 * Spool's timer, an explicit call, several at once, or (sharedClock) two processes.
 * Slots missed while nothing fired are fired once (catchUp "one") or skipped ("none").
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import { Spool, type FireResult, type LeasedMessage, type Store } from "../../../src/index.js";
import { SCHEDULE_LATE_TOLERANCE_MS } from "../../../src/core/schedule.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import { storeProxy, type AreaDefinition } from "../suite.js";
import { detailPaths, itOnClock, letWakeUpsRun, manualClock, spoolError } from "./publish-helpers.js";
import { waitForClock } from "./time-helpers.js";

const SLOT = "spool-schedule-slot";

/** The slot (ms) each message was published for, in lease order. */
function slotsOf(messages: LeasedMessage<unknown>[]): number[] {
  return messages.map((m) => Date.parse(m.headers[SLOT]));
}

/**
 * Leases everything published to `queue` (acking it), oldest first. A published message may
 * become leasable a moment later (the journal shows it once it is durable): wait for all of them.
 */
async function drain(spool: Spool, queue: string): Promise<LeasedMessage<unknown>[]> {
  const total = await published(spool, queue);
  const out: LeasedMessage<unknown>[] = [];
  await pollUntil(
    async () => {
      const batch = await spool.queue(queue).lease({ max: 1000 });
      if (batch.length > 0) await spool.ackMany(batch.map((m) => ({ id: m.id, leaseToken: m.leaseToken })));
      out.push(...batch);
      return out.length >= total;
    },
    { what: `the ${total} messages of ${queue} leasable` },
  );
  return out;
}

async function published(spool: Spool, queue: string): Promise<number> {
  const info = await spool.queueInfo(queue);
  return info ? (await spool.queueStats(queue)).totals.published : 0;
}

/** A store whose firing can be held back, as if no process ran: `gate.held` answers "nothing due". */
function gatedStore(gate: { held: boolean }) {
  return (store: Store): Store =>
    storeProxy(store, {
      fireDueSchedules: (): Promise<FireResult> => (gate.held ? Promise.resolve({ fired: [], nextRunAt: null }) : store.fireDueSchedules()),
    });
}

/** Slots are `step` apart, strictly increasing, none twice. */
function expectConsecutive(slots: number[], step: number): void {
  expect(new Set(slots).size, "no slot twice").toBe(slots.length);
  for (let i = 1; i < slots.length; i++) expect(slots[i] - slots[i - 1], `slot ${i} follows slot ${i - 1}`).toBe(step);
}

export const schedules: AreaDefinition = (suite, open) => {
  itOnClock(
    suite,
    "an everyMs schedule publishes its body once per slot, at the slot, with the schedule and slot in headers",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = uniqueQueueName("sched");
      const t0 = clock.now();
      const info = await ctx.spool.schedule("every-second", { everyMs: 1000, queue, body: { job: "tick" }, options: { priority: 3 } });
      expect(info).toMatchObject({ name: "every-second", everyMs: 1000, queue, body: { job: "tick" }, paused: false, catchUp: "one", nextRunAt: t0 + 1000, fired: 0 });
      clock.advance(999);
      await letWakeUpsRun();
      expect(await published(ctx.spool, queue)).toBe(0);
      for (let n = 1; n <= 3; n++) {
        clock.advance(n === 1 ? 1 : 1000);
        await pollUntil(async () => (await published(ctx.spool, queue)) === n, { what: `slot ${n} fired` });
      }
      expect((await ctx.spool.fireDueSchedules()).fired).toEqual([]); // nothing is due twice
      const messages = await drain(ctx.spool, queue);
      expect(slotsOf(messages)).toEqual([t0 + 1000, t0 + 2000, t0 + 3000]);
      expect(messages.map((m) => m.publishedAt)).toEqual([t0 + 1000, t0 + 2000, t0 + 3000]);
      expect(messages[0]).toMatchObject({ body: { job: "tick" }, priority: 3, headers: { "spool-schedule": "every-second" } });
      expect(await ctx.spool.getSchedule("every-second")).toMatchObject({ fired: 3, lastSlotAt: t0 + 3000, nextRunAt: t0 + 4000 });
    },
    async () => {
      const { spool } = await open();
      const queue = uniqueQueueName("sched");
      const name = uniqueQueueName("every");
      const info = await spool.schedule(name, { everyMs: 100, queue, body: "tick" });
      await pollUntil(async () => (await published(spool, queue)) >= 4, { what: "four slots fired", timeoutMs: 10_000 });
      await spool.removeSchedule(name);
      const messages = await drain(spool, queue);
      const slots = slotsOf(messages);
      expect(slots[0]).toBe((info.nextRunAt as number));
      expectConsecutive(slots, 100);
      for (const m of messages) expect(m.publishedAt).toBeGreaterThanOrEqual(Date.parse(m.headers[SLOT]));
    },
  );

  it("a cron schedule (seconds, time zone) runs at the cron's instants in its zone", async () => {
    const { spool, store } = await open();
    const queue = uniqueQueueName("cron");
    const now = store.clock.now();
    const tenSeconds = await spool.schedule(uniqueQueueName("c10"), { cron: "*/10 * * * * *", queue, body: 1 });
    const after = store.clock.now(); // the store's now for the call lies in [now, after]
    const next = tenSeconds.nextRunAt as number;
    expect(next % 10_000).toBe(0);
    expect(next).toBeGreaterThan(now);
    expect(next).toBeLessThanOrEqual(after + 10_000);
    const nine = await spool.schedule(uniqueQueueName("c9"), { cron: "0 0 9 * * *", tz: "America/New_York", queue, body: 1 });
    const local = new Intl.DateTimeFormat("en-US", { timeZone: "America/New_York", hour: "numeric", minute: "numeric", second: "numeric", hourCycle: "h23" }).format(new Date(nine.nextRunAt as number));
    expect(local).toBe("09:00:00");
    expect(nine.tz).toBe("America/New_York");
    const fiveField = await spool.schedule(uniqueQueueName("c5"), { cron: "30 4 * * *", queue, body: 1 });
    expect(new Date(fiveField.nextRunAt as number).toISOString()).toMatch(/T04:30:00\.000Z$/);
    for (const made of [tenSeconds, nine, fiveField]) expect(await spool.removeSchedule(made.name)).toBe(true);
  });

  itOnClock(
    suite,
    "a cron schedule fires at each of its instants, once",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = uniqueQueueName("cron");
      const info = await ctx.spool.schedule("every-5s", { cron: "*/5 * * * * *", queue, body: "c" });
      const first = info.nextRunAt as number;
      clock.advance(first - clock.now());
      await pollUntil(async () => (await published(ctx.spool, queue)) === 1, { what: "the first instant fired" });
      clock.advance(5000);
      await pollUntil(async () => (await published(ctx.spool, queue)) === 2, { what: "the second instant fired" });
      expect(slotsOf(await drain(ctx.spool, queue))).toEqual([first, first + 5000]);
    },
    async () => {
      const { spool } = await open();
      const queue = uniqueQueueName("cron");
      const name = uniqueQueueName("every-1s");
      const info = await spool.schedule(name, { cron: "* * * * * *", queue, body: "c" });
      await pollUntil(async () => (await published(spool, queue)) >= 2, { what: "two instants fired", timeoutMs: 10_000 });
      await spool.removeSchedule(name);
      const slots = slotsOf(await drain(spool, queue));
      expect(slots[0]).toBe(info.nextRunAt);
      expectConsecutive(slots, 1000);
    },
  );

  itOnClock(
    suite,
    "a paused schedule fires nothing; resumed, it fires from its next slot after now (slots passed while paused are not fired)",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = uniqueQueueName("pause");
      const t0 = clock.now();
      await ctx.spool.schedule("p", { everyMs: 1000, queue, body: 0 });
      clock.advance(1000);
      await pollUntil(async () => (await published(ctx.spool, queue)) === 1, { what: "the first slot" });
      expect(await ctx.spool.pauseSchedule("p")).toMatchObject({ paused: true });
      clock.advance(3500);
      await letWakeUpsRun();
      expect((await ctx.spool.fireDueSchedules()).fired).toEqual([]);
      expect(await published(ctx.spool, queue)).toBe(1);
      expect(await ctx.spool.resumeSchedule("p")).toMatchObject({ paused: false, nextRunAt: t0 + 5000 });
      clock.advance(500);
      await pollUntil(async () => (await published(ctx.spool, queue)) === 2, { what: "the slot after resume" });
      expect(slotsOf(await drain(ctx.spool, queue))).toEqual([t0 + 1000, t0 + 5000]);
    },
    async () => {
      const { spool, store } = await open();
      const queue = uniqueQueueName("pause");
      const name = uniqueQueueName("p");
      await spool.schedule(name, { everyMs: 100, queue, body: 0 });
      await pollUntil(async () => (await published(spool, queue)) >= 1, { what: "a first slot" });
      const paused = await spool.pauseSchedule(name);
      const count = await published(spool, queue);
      await waitForClock(store, store.clock.now() + 300);
      expect((await spool.fireDueSchedules()).fired.filter((f) => f.schedule === name)).toEqual([]);
      expect(await published(spool, queue)).toBe(count);
      const resumed = await spool.resumeSchedule(name);
      expect(resumed.nextRunAt).toBeGreaterThan(paused.updatedAt + 300);
      await pollUntil(async () => (await published(spool, queue)) > count, { what: "a slot after resume" });
      await spool.removeSchedule(name);
      const slots = slotsOf(await drain(spool, queue));
      expect(slots[count]).toBe(resumed.nextRunAt);
    },
  );

  itOnClock(
    suite,
    "a removed schedule fires no more and is gone from the list; removing it again answers false",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = uniqueQueueName("remove");
      await ctx.spool.schedule("r", { everyMs: 1000, queue, body: 0 });
      expect((await ctx.spool.schedules()).map((s) => s.name)).toContain("r");
      expect(await ctx.spool.removeSchedule("r")).toBe(true);
      expect(await ctx.spool.removeSchedule("r")).toBe(false);
      expect(await ctx.spool.getSchedule("r")).toBeUndefined();
      expect((await ctx.spool.schedules()).map((s) => s.name)).not.toContain("r");
      clock.advance(5000);
      await letWakeUpsRun();
      expect(await published(ctx.spool, queue)).toBe(0);
      await spoolError(() => ctx.spool.pauseSchedule("r"), "not_found");
    },
    async () => {
      const { spool, store } = await open();
      const queue = uniqueQueueName("remove");
      const name = uniqueQueueName("r");
      await spool.schedule(name, { everyMs: 30, queue, body: 0 });
      await pollUntil(async () => (await published(spool, queue)) >= 1, { what: "a first slot" });
      expect(await spool.removeSchedule(name)).toBe(true);
      const count = await published(spool, queue);
      await waitForClock(store, store.clock.now() + 150);
      await spool.fireDueSchedules();
      expect(await published(spool, queue)).toBe(count);
      expect(await spool.removeSchedule(name)).toBe(false);
      expect((await spool.schedules()).map((s) => s.name)).not.toContain(name);
      await spoolError(() => spool.resumeSchedule(name), "not_found");
    },
  );

  itOnClock(
    suite,
    "replacing a schedule with the same timing keeps its next run and counters; a new timing starts from now",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = uniqueQueueName("replace");
      const t0 = clock.now();
      await ctx.spool.schedule("x", { everyMs: 1000, queue, body: "old" });
      clock.advance(1000);
      await pollUntil(async () => (await published(ctx.spool, queue)) === 1, { what: "the first slot" });
      clock.advance(300);
      const same = await ctx.spool.schedule("x", { everyMs: 1000, queue, body: "new" });
      expect(same).toMatchObject({ body: "new", nextRunAt: t0 + 2000, fired: 1 });
      clock.advance(700);
      await pollUntil(async () => (await published(ctx.spool, queue)) === 2, { what: "the second slot" });
      clock.advance(100);
      const changed = await ctx.spool.schedule("x", { everyMs: 5000, queue, body: "new" });
      expect(changed).toMatchObject({ everyMs: 5000, nextRunAt: t0 + 2100 + 5000, fired: 2 });
      expect((await ctx.spool.schedules()).filter((s) => s.name === "x")).toHaveLength(1);
      const messages = await drain(ctx.spool, queue);
      expect(messages.map((m) => m.body)).toEqual(["old", "new"]);
    },
    async () => {
      const { spool } = await open();
      const queue = uniqueQueueName("replace");
      const name = uniqueQueueName("x");
      const first = await spool.schedule(name, { everyMs: 60_000, queue, body: "old" });
      const same = await spool.schedule(name, { everyMs: 60_000, queue, body: "new" });
      expect(same).toMatchObject({ body: "new", nextRunAt: first.nextRunAt });
      const changed = await spool.schedule(name, { everyMs: 30, queue, body: "newer" });
      expect(changed.nextRunAt).toBeLessThan(first.nextRunAt as number);
      await pollUntil(async () => (await published(spool, queue)) >= 1, { what: "the new timing fired" });
      await spool.removeSchedule(name);
      const messages = await drain(spool, queue);
      expect(messages[0].body).toBe("newer");
      expect(slotsOf(messages)[0]).toBe(changed.nextRunAt);
    },
  );

  itOnClock(
    suite,
    'slots missed while nothing fired: catchUp "one" publishes one message for the latest of them, "none" skips them',
    async () => {
      const gate = { held: false };
      const ctx = await open({ wrap: gatedStore(gate) });
      const clock = manualClock(ctx);
      const one = uniqueQueueName("one");
      const none = uniqueQueueName("none");
      const t0 = clock.now();
      await ctx.spool.schedule("catch-one", { everyMs: 10_000, queue: one, body: 1 });
      await ctx.spool.schedule("catch-none", { everyMs: 10_000, queue: none, body: 1, catchUp: "none" });
      gate.held = true; // no process fires: slots t0+10 s … t0+50 s pass
      clock.advance(55_000);
      await letWakeUpsRun();
      gate.held = false;
      const result = await ctx.spool.fireDueSchedules();
      expect(result.fired.map((f) => [f.schedule, f.slot])).toEqual([["catch-one", t0 + 50_000]]);
      expect(result.nextRunAt).toBe(t0 + 60_000);
      expect(slotsOf(await drain(ctx.spool, one))).toEqual([t0 + 50_000]);
      expect(await drain(ctx.spool, none)).toEqual([]);
      expect(await ctx.spool.getSchedule("catch-none")).toMatchObject({ fired: 0, skipped: 1, nextRunAt: t0 + 60_000 });
      clock.advance(5_000); // from here on both fire on time again
      await pollUntil(async () => (await published(ctx.spool, none)) === 1 && (await published(ctx.spool, one)) === 2, { what: "the next slot of both" });
      expect(slotsOf(await drain(ctx.spool, none))).toEqual([t0 + 60_000]);
    },
    async () => {
      const gate = { held: false };
      const { spool, store } = await open({ wrap: gatedStore(gate) });
      const one = uniqueQueueName("one");
      const none = uniqueQueueName("none");
      const catchOne = uniqueQueueName("catch-one");
      const catchNone = uniqueQueueName("catch-none");
      // "none" needs a slot more than the tolerance late and its next slot not yet due.
      const every = SCHEDULE_LATE_TOLERANCE_MS + 600;
      gate.held = true;
      const a = await spool.schedule(catchOne, { everyMs: 50, queue: one, body: 1 });
      const b = await spool.schedule(catchNone, { everyMs: every, queue: none, body: 1, catchUp: "none" });
      await waitForClock(store, Math.max((a.nextRunAt as number) + 200, (b.nextRunAt as number) + SCHEDULE_LATE_TOLERANCE_MS + 50));
      gate.held = false;
      const { value: result, from } = await (async () => ({ from: store.clock.now(), value: await spool.fireDueSchedules() }))();
      const mine = result.fired.filter((f) => f.schedule === catchOne || f.schedule === catchNone);
      expect(mine.map((f) => f.schedule)).toEqual([catchOne]);
      expect(mine[0].slot).toBeGreaterThan((a.nextRunAt as number) + 100); // the latest missed slot, not the first
      expect(mine[0].slot).toBeLessThanOrEqual(from + 50);
      expect(await spool.getSchedule(catchNone)).toMatchObject({ fired: 0, skipped: 1, nextRunAt: (b.nextRunAt as number) + every });
      await spool.removeSchedule(catchOne);
      await spool.removeSchedule(catchNone);
      expect(await published(spool, none)).toBe(0);
      expect(new Set(slotsOf(await drain(spool, one))).size).toBe(await published(spool, one));
    },
  );

  it("firings that run at once never fire one slot twice; nor do two processes on the store's data (sharedClock)", async () => {
    const { spool, store } = await open({ manualClock: false });
    const queue = uniqueQueueName("race");
    const name = uniqueQueueName("race");
    const others: Spool[] = [];
    if (store.capabilities.sharedClock) {
      if (!suite.openPeer) throw new Error(`${suite.name}: sharedClock needs openPeer`);
      others.push(await Spool.open({ store: await suite.openPeer(store) }));
    }
    try {
      await spool.schedule(name, { everyMs: 20, queue, body: 0 });
      const everyone = [spool, ...others];
      const deadline = store.clock.now() + 400;
      while (store.clock.now() < deadline) {
        await Promise.all(everyone.flatMap((s) => [s.fireDueSchedules(), s.fireDueSchedules()]));
      }
      await spool.removeSchedule(name);
      const slots = slotsOf(await drain(spool, queue));
      expect(slots.length).toBeGreaterThan(3);
      expect(new Set(slots).size, "every slot once").toBe(slots.length);
      expect(slots).toEqual([...slots].sort((x, y) => x - y));
    } finally {
      await Promise.all(others.map((s) => s.close()));
    }
  });

  it("schedules are validated at the boundary, each error naming its field (cron syntax and time zone included)", async () => {
    const { spool } = await open();
    const queue = uniqueQueueName("bad");
    const cases: Array<[unknown, unknown, string]> = [
      ["", { everyMs: 1000, queue, body: 1 }, "/"],
      ["ok", { queue, body: 1 }, "/"],
      ["ok", { cron: "* * * * *", everyMs: 1000, queue, body: 1 }, "/"],
      ["ok", { cron: "61 * * * *", queue, body: 1 }, "/cron"],
      ["ok", { cron: "not a cron", queue, body: 1 }, "/cron"],
      ["ok", { cron: "* * * * *", tz: "Mars/Olympus", queue, body: 1 }, "/tz"],
      ["ok", { everyMs: 1000, tz: "UTC", queue, body: 1 }, "/tz"],
      ["ok", { everyMs: 1, queue, body: 1 }, "/everyMs"],
      ["ok", { everyMs: 1000, queue: "bad queue!", body: 1 }, "/queue"],
      ["ok", { everyMs: 1000, queue }, "/body"],
      ["ok", { everyMs: 1000, queue, body: 1, catchUp: "all" }, "/catchUp"],
      ["ok", { everyMs: 1000, queue, body: 1, options: { idempotencyKey: "k" } }, "/options/idempotencyKey"],
      ["ok", { everyMs: 1000, queue, body: 1, options: { priority: 10 } }, "/options/priority"],
      ["ok", { everyMs: 1000, queue, body: 1, extra: true }, "/extra"],
    ];
    for (const [name, spec, path] of cases) {
      const error = await spoolError(() => spool.schedule(name as string, spec as never), "validation_failed");
      expect(detailPaths(error), JSON.stringify(spec)).toContain(path);
    }
    expect(await spool.getSchedule("ok")).toBeUndefined();
  });
};
