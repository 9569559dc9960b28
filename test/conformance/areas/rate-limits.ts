/**
 * Rate limits: a queue with `rateLimit: {max, intervalMs}` never hands out more than `max`
 * leases in any window of `intervalMs` (across every consumer of the store), hands out again
 * once the window has moved on, and wakes waiting consumers when it does.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { it } from "../registry.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { itOnClock, letWakeUpsRun, manualClock, spoolError } from "./publish-helpers.js";

const LEASE_MS = 60_000;

export const rateLimits: AreaDefinition = (suite, open) => {
  itOnClock(
    suite,
    "leases stop at max per interval and resume exactly when the window has passed",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<number>(uniqueQueueName("rate"), { rateLimit: { max: 3, intervalMs: 1000 } });
      await queue.publishMany(Array.from({ length: 10 }, (_, n) => ({ body: n })));
      expect((await queue.lease({ max: 10 })).map((m) => m.body)).toEqual([0, 1, 2]);
      expect(await queue.lease({ max: 10 })).toEqual([]);
      clock.advance(999);
      expect(await queue.lease({ max: 10 })).toEqual([]);
      expect(await queue.stats()).toMatchObject({ ready: 7, leased: 3 });
      clock.advance(1);
      expect((await queue.lease({ max: 10 })).map((m) => m.body)).toEqual([3, 4, 5]);
      clock.advance(1000);
      expect((await queue.lease({ max: 2 })).map((m) => m.body)).toEqual([6, 7]);
      expect((await queue.lease({ max: 10 })).map((m) => m.body)).toEqual([8]);
      expect(await queue.lease({ max: 10 })).toEqual([]);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<number>(uniqueQueueName("rate"), { rateLimit: { max: 3, intervalMs: 300 } });
      await queue.publishMany(Array.from({ length: 5 }, (_, n) => ({ body: n })));
      expect((await queue.lease({ max: 10 })).map((m) => m.body)).toEqual([0, 1, 2]);
      expect(await queue.lease({ max: 10 })).toEqual([]);
      const more = await pollUntil(async () => {
        const got = await queue.lease({ max: 10 });
        return got.length > 0 ? got : undefined;
      });
      expect(more.map((m) => m.body)).toEqual([3, 4]);
    },
  );

  itOnClock(
    suite,
    "the window slides: each lease frees its slot intervalMs after it was taken",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<number>(uniqueQueueName("rate"), { rateLimit: { max: 3, intervalMs: 1000 } });
      await queue.publishMany(Array.from({ length: 10 }, (_, n) => ({ body: n })));
      expect(await queue.lease({ max: 2 })).toHaveLength(2); // t = 0
      clock.advance(500);
      expect(await queue.lease({ max: 10 })).toHaveLength(1); // t = 500
      clock.advance(499);
      expect(await queue.lease({ max: 10 })).toHaveLength(0); // t = 999: 3 in (−1, 999]
      clock.advance(1);
      expect(await queue.lease({ max: 10 })).toHaveLength(2); // t = 1000: the two from t = 0 left the window
      clock.advance(499);
      expect(await queue.lease({ max: 10 })).toHaveLength(0);
      clock.advance(1);
      expect(await queue.lease({ max: 10 })).toHaveLength(1); // t = 1500
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<number>(uniqueQueueName("rate"), { rateLimit: { max: 2, intervalMs: 200 } });
      await queue.publishMany(Array.from({ length: 6 }, (_, n) => ({ body: n })));
      const leasedAt: number[] = []; // the store's own lease times: leaseUntil − leaseMs
      await pollUntil(async () => {
        for (const m of await queue.lease({ max: 10, leaseMs: LEASE_MS })) leasedAt.push(m.leaseUntil - LEASE_MS);
        return leasedAt.length === 6;
      });
      for (let i = 2; i < leasedAt.length; i++) expect(leasedAt[i] - leasedAt[i - 2]).toBeGreaterThanOrEqual(200);
    },
  );

  itOnClock(
    suite,
    "leasing never exceeds the limit in any window, and grants in full when the window is empty (property)",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 2, max: 1000 }),
          fc.array(fc.record({ advanceMs: fc.integer({ min: 0, max: 600 }), want: fc.integer({ min: 1, max: 6 }) }), { minLength: 1, maxLength: 30 }),
          async (max, intervalMs, steps) => {
            const queue = ctx.spool.queue<number>(uniqueQueueName("rate"), { rateLimit: { max, intervalMs } });
            await queue.publishMany(Array.from({ length: 200 }, (_, n) => ({ body: n })));
            const granted: number[] = []; // one lease time per message handed out
            for (const { advanceMs, want } of steps) {
              clock.advance(advanceMs);
              const now = clock.now();
              const emptyWindow = granted.every((t) => t <= now - intervalMs);
              const got = await queue.lease({ max: want });
              for (const _ of got) granted.push(now);
              const inWindow = granted.filter((t) => t > now - intervalMs).length;
              expect(inWindow, `at most ${max} leases in (${now - intervalMs}, ${now}]`).toBeLessThanOrEqual(max);
              if (emptyWindow) expect(got.length).toBe(Math.min(want, max));
            }
          },
        ),
        { numRuns: 60 },
      );
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<number>(uniqueQueueName("rate"), { rateLimit: { max: 3, intervalMs: 60_000 } });
      await queue.publishMany(Array.from({ length: 20 }, (_, n) => ({ body: n })));
      let leased = 0;
      for (let i = 0; i < 10; i++) leased += (await queue.lease({ max: 10 })).length;
      expect(leased).toBe(3);
    },
  );

  itOnClock(
    suite,
    "workers on the queue respect the limit together, and resume when the window reopens",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const queue = ctx.spool.queue<number>(uniqueQueueName("rate"), { rateLimit: { max: 4, intervalMs: 1000 } });
      const handled: Array<{ n: number; at: number }> = [];
      const one = queue.work(async (m) => void handled.push({ n: m.body, at: clock.now() }), { concurrency: 10 });
      const two = queue.work(async (m) => void handled.push({ n: m.body, at: clock.now() }), { concurrency: 10 });
      let completed = 0;
      for (const worker of [one, two]) worker.on("message:completed", () => completed++);
      const t0 = clock.now();
      await queue.publishMany(Array.from({ length: 10 }, (_, n) => ({ body: n })));
      await pollUntil(() => completed === 4, { what: "the first window's 4 messages" });
      await letWakeUpsRun();
      expect(handled).toHaveLength(4);
      clock.advance(999);
      await letWakeUpsRun();
      expect(handled).toHaveLength(4);
      clock.advance(1);
      await pollUntil(() => completed === 8, { what: "the second window's 4 messages" });
      await letWakeUpsRun();
      expect(handled).toHaveLength(8);
      clock.advance(1000);
      await pollUntil(() => completed === 10, { what: "the last 2 messages" });
      expect(handled.map((h) => h.at - t0)).toEqual([0, 0, 0, 0, 1000, 1000, 1000, 1000, 2000, 2000]);
      expect(handled.map((h) => h.n).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    },
    async () => {
      const ctx = await open();
      const queue = ctx.spool.queue<number>(uniqueQueueName("rate"), { rateLimit: { max: 2, intervalMs: 200 } });
      const leasedAt: number[] = [];
      const worker = queue.work(async (m) => void leasedAt.push(m.leaseUntil - LEASE_MS), { concurrency: 10, leaseMs: LEASE_MS });
      let completed = 0;
      worker.on("message:completed", () => completed++);
      await queue.publishMany(Array.from({ length: 5 }, (_, n) => ({ body: n })));
      await pollUntil(() => completed === 5, { what: "all 5 messages, two per window" });
      leasedAt.sort((a, b) => a - b);
      for (let i = 2; i < leasedAt.length; i++) expect(leasedAt[i] - leasedAt[i - 2]).toBeGreaterThanOrEqual(200);
    },
  );

  it("a long-poll lease waits out the window", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<number>(uniqueQueueName("rate"), { rateLimit: { max: 1, intervalMs: 100 } });
    await queue.publishMany([{ body: 0 }, { body: 1 }]);
    expect((await queue.lease()).map((m) => m.body)).toEqual([0]);
    const waiting = queue.lease({ waitMs: 5000 });
    if (ctx.clock) {
      await letWakeUpsRun();
      ctx.clock.advance(100);
    }
    expect((await waiting).map((m) => m.body)).toEqual([1]);
  });

  it("a rate limit set on an existing queue applies from then on; without one, nothing is limited", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue<number>(uniqueQueueName("rate"));
    await queue.publishMany(Array.from({ length: 20 }, (_, n) => ({ body: n })));
    expect(await queue.lease({ max: 8 })).toHaveLength(8);
    await queue.setOptions({ rateLimit: { max: 2, intervalMs: 60_000 } });
    expect((await queue.info()).options.rateLimit).toEqual({ max: 2, intervalMs: 60_000 });
    expect(await queue.lease({ max: 8 })).toHaveLength(2);
    expect(await queue.lease({ max: 8 })).toHaveLength(0);
  });

  it("rejects a bad rate limit", async () => {
    const ctx = await open();
    const name = uniqueQueueName("rate");
    for (const rateLimit of [{ max: 0, intervalMs: 1000 }, { max: 1, intervalMs: 0 }, { max: 1.5, intervalMs: 10 }, { max: 1 }, { max: 1, intervalMs: 10, burst: 2 }]) {
      await spoolError(() => ctx.spool.queue(name, { rateLimit } as never), "validation_failed");
    }
  });
};
