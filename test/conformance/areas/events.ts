/**
 * Queue events (`spool.on`): every change of a message's state reaches the listeners, in order
 * per message, with what the change was (attempt, error, dead reason, due time); time-driven
 * changes (a lease or a TTL running out) too; an unsubscribed listener hears nothing more.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import type { QueueEvent, QueueEventOf, Spool } from "../../../src/index.js";
import { pollUntil, uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { leaseOne } from "./consume-helpers.js";
import { itOnClock, letWakeUpsRun, manualClock } from "./publish-helpers.js";
import { waitForClock } from "./time-helpers.js";

/** Every event of `spool` from now on, as a list to read. */
function record(spool: Spool): { events: QueueEvent[]; of(id: string): QueueEvent[]; stop(): void } {
  const events: QueueEvent[] = [];
  const stop = spool.on("*", (event) => void events.push(event));
  return { events, of: (id) => events.filter((e) => e.id === id), stop };
}

/** Waits until the message's events include one of `type`; returns the message's events then. */
async function until(recorder: ReturnType<typeof record>, id: string, type: QueueEvent["type"]): Promise<QueueEvent[]> {
  await pollUntil(() => recorder.of(id).some((e) => e.type === type), { what: `a "${type}" event for ${id}` });
  return recorder.of(id);
}

export const events: AreaDefinition = (suite, open) => {
  it("a message's life arrives in order: published, active, progress, completed", async () => {
    const { spool, store } = await open();
    const recorder = record(spool);
    const queue = spool.queue<string>(uniqueQueueName("events"));
    const before = store.clock.now();
    const { id } = await queue.publish("x");
    const m = await leaseOne(queue);
    await queue.report(m.id, m.leaseToken, { progress: { done: 1, of: 2 } });
    await queue.ack(m.id, m.leaseToken);
    const seen = await until(recorder, id, "completed");
    expect(seen.map((e) => e.type)).toEqual(["published", "active", "progress", "completed"]);
    for (const event of seen) {
      expect(event.queue).toBe(queue.name);
      expect(event.at).toBeGreaterThanOrEqual(before);
    }
    expect(seen[0]).toMatchObject({ type: "published", availableAt: seen[0].at });
    expect(seen[1]).toMatchObject({ type: "active", attempt: 1, leaseUntil: m.leaseUntil });
    expect(seen[2]).toMatchObject({ type: "progress", progress: { done: 1, of: 2 } });
    expect(seen[3]).toMatchObject({ type: "completed", attempt: 1 });
  });

  it("failed attempts say why, then retry with the due time, and the last one goes dead with its reason", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<string>(uniqueQueueName("events"), { maxAttempts: 2 });
    const { id } = await queue.publish("x");
    const first = await leaseOne(queue);
    const retried = await queue.nack(first.id, first.leaseToken, { error: { message: "boom", kind: "error" }, delayMs: 0 });
    const second = await leaseOne(queue);
    await queue.nack(second.id, second.leaseToken, { error: { message: "boom again", kind: "error" } });
    const seen = await until(recorder, id, "dead");
    expect(seen.map((e) => e.type)).toEqual(["published", "active", "failed", "retry", "active", "failed", "dead"]);
    expect(seen[2]).toMatchObject({ type: "failed", attempt: 1, error: { message: "boom", kind: "error" } });
    expect(seen[3]).toMatchObject({ type: "retry", attempt: 1, availableAt: retried.availableAt });
    expect(seen[5]).toMatchObject({ type: "failed", attempt: 2, error: { message: "boom again" } });
    expect(seen[6]).toMatchObject({ type: "dead", reason: "max_attempts", attempt: 2 });
  });

  it("a reject goes dead as rejected; a release is released, not failed; a replay is replayed", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<string>(uniqueQueueName("events"));
    const { id } = await queue.publish("x");
    const first = await leaseOne(queue);
    await queue.nack(first.id, first.leaseToken, { release: true });
    const second = await leaseOne(queue);
    await queue.nack(second.id, second.leaseToken, { reject: true });
    await until(recorder, id, "dead");
    expect(await queue.replayDead({ ids: [id] })).toBe(1);
    const seen = await until(recorder, id, "replayed");
    expect(seen.map((e) => e.type)).toEqual(["published", "active", "released", "active", "failed", "dead", "replayed"]);
    expect(seen[5]).toMatchObject({ reason: "rejected" });
  });

  it("a delayed publish says when it becomes available; a dead-letter copy is published in its queue", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const dlq = uniqueQueueName("events-dlq");
    const queue = spool.queue<string>(uniqueQueueName("events"), { maxAttempts: 1, deadLetter: { queue: dlq } });
    const delayed = await queue.publish("later", { delayMs: 60_000 });
    const [published] = await until(recorder, delayed.id, "published");
    expect(published).toMatchObject({ type: "published" });
    expect((published as { availableAt: number }).availableAt - published.at).toBe(60_000);

    const { id } = await queue.publish("x");
    const m = await leaseOne(queue);
    await queue.nack(m.id, m.leaseToken, { error: { message: "no", kind: "permanent" } });
    await until(recorder, id, "dead");
    const copy = await pollUntil(() => recorder.events.find((e) => e.queue === dlq && e.type === "published"), { what: "the dead-letter copy's publish" });
    expect(copy.id).not.toBe(id);
    const deadAt = recorder.of(id).findIndex((e) => e.type === "dead");
    expect(recorder.events.indexOf(copy)).toBeGreaterThan(recorder.events.indexOf(recorder.of(id)[deadAt]) - 1);
  });

  itOnClock(
    suite,
    "a lease running out is a failed attempt (lease expired) and a retry; a TTL running out is dead as expired",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const recorder = record(ctx.spool);
      const queue = ctx.spool.queue<string>(uniqueQueueName("events"), { leaseMs: 1_000 });
      const { id } = await queue.publish("x");
      await leaseOne(queue);
      const short = await queue.publish("short", { ttlMs: 500 });
      clock.advance(1_000);
      const seen = await until(recorder, id, "retry");
      expect(seen.map((e) => e.type)).toEqual(["published", "active", "failed", "retry"]);
      expect(seen[2]).toMatchObject({ attempt: 1, error: { message: expect.stringMatching(/lease expired/) } });
      const ttl = await until(recorder, short.id, "dead");
      expect(ttl.map((e) => e.type)).toEqual(["published", "dead"]);
      expect(ttl[1]).toMatchObject({ reason: "expired", attempt: 0 });
    },
    async () => {
      const { spool } = await open();
      const recorder = record(spool);
      const queue = spool.queue<string>(uniqueQueueName("events"), { leaseMs: 300 });
      const { id } = await queue.publish("x");
      await leaseOne(queue);
      const short = await queue.publish("short", { ttlMs: 300 });
      // Nobody reads or writes meanwhile: the store's own time-driven work must report these.
      const seen = await until(recorder, id, "retry");
      expect(seen.map((e) => e.type)).toEqual(["published", "active", "failed", "retry"]);
      expect(seen[2]).toMatchObject({ attempt: 1, error: { message: expect.stringMatching(/lease expired/) } });
      const ttl = await until(recorder, short.id, "dead");
      expect(ttl.map((e) => e.type)).toEqual(["published", "dead"]);
      expect(ttl[1]).toMatchObject({ reason: "expired" });
    },
  );

  itOnClock(
    suite,
    "a failed attempt whose TTL ran out meanwhile is failed then dead (expired), with no retry between",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const recorder = record(ctx.spool);
      const queue = ctx.spool.queue<string>(uniqueQueueName("events"), { leaseMs: 10_000 });
      const { id } = await queue.publish("x", { ttlMs: 1_000 });
      const m = await leaseOne(queue);
      clock.advance(1_000);
      await queue.nack(m.id, m.leaseToken, { error: { message: "too late", kind: "error" }, delayMs: 0 });
      expect((await until(recorder, id, "dead")).map((e) => e.type)).toEqual(["published", "active", "failed", "dead"]);
      expect(recorder.of(id)[3]).toMatchObject({ reason: "expired" });
    },
    async () => {
      const { spool, store } = await open();
      const recorder = record(spool);
      const queue = spool.queue<string>(uniqueQueueName("events"), { leaseMs: 10_000 });
      const { id } = await queue.publish("x", { ttlMs: 300 });
      const m = await leaseOne(queue);
      await waitForClock(store, m.leaseUntil - 10_000 + 300 + 1, "the message's TTL to pass");
      await queue.nack(m.id, m.leaseToken, { error: { message: "too late", kind: "error" }, delayMs: 0 });
      expect((await until(recorder, id, "dead")).map((e) => e.type)).toEqual(["published", "active", "failed", "dead"]);
      expect(recorder.of(id)[3]).toMatchObject({ reason: "expired" });
    },
  );

  itOnClock(
    suite,
    "a lease running out after the message's TTL did is failed (lease expired) then dead (expired), with no retry between",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const recorder = record(ctx.spool);
      const queue = ctx.spool.queue<string>(uniqueQueueName("events"), { leaseMs: 1_000 });
      const { id } = await queue.publish("x", { ttlMs: 500 });
      await leaseOne(queue);
      clock.advance(1_000);
      expect((await until(recorder, id, "dead")).map((e) => e.type)).toEqual(["published", "active", "failed", "dead"]);
      expect(recorder.of(id)[3]).toMatchObject({ reason: "expired" });
    },
    async () => {
      const { spool } = await open();
      const recorder = record(spool);
      const queue = spool.queue<string>(uniqueQueueName("events"), { leaseMs: 300 });
      const { id } = await queue.publish("x", { ttlMs: 150 });
      await leaseOne(queue);
      expect((await until(recorder, id, "dead")).map((e) => e.type)).toEqual(["published", "active", "failed", "dead"]);
      expect(recorder.of(id)[3]).toMatchObject({ reason: "expired" });
    },
  );

  it("a listener hears only its type; after unsubscribing, nothing more; an unknown type is refused", async () => {
    const { spool } = await open();
    const queue = spool.queue<string>(uniqueQueueName("events"));
    const completed: string[] = [];
    const all = record(spool);
    const off = spool.on("completed", (event) => void completed.push(event.id));
    const a = await queue.publish("a");
    const m = await leaseOne(queue);
    await queue.ack(m.id, m.leaseToken);
    await until(all, a.id, "completed");
    expect(completed).toEqual([a.id]);
    off();
    all.stop();
    const b = await queue.publish("b");
    const n = await leaseOne(queue);
    await queue.ack(n.id, n.leaseToken);
    const after = record(spool);
    const c = await queue.publish("c");
    await until(after, c.id, "published");
    expect(completed).toEqual([a.id]);
    expect(all.of(b.id)).toEqual([]);
    expect(() => spool.on("finished" as "completed", () => undefined)).toThrow(/unknown event "finished"/);
  });

  it("every progress report is heard, the same value again too; a log line alone is none", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<string>(uniqueQueueName("events"));
    const { id } = await queue.publish("x");
    const m = await leaseOne(queue);
    await queue.report(m.id, m.leaseToken, { progress: { step: "download" } });
    await queue.report(m.id, m.leaseToken, { log: ["still downloading"] });
    await queue.report(m.id, m.leaseToken, { progress: { step: "download" } }); // e.g. a heartbeat
    await queue.report(m.id, m.leaseToken, { progress: 99 });
    await queue.ack(m.id, m.leaseToken);
    const seen = await until(recorder, id, "completed");
    expect(seen.map((e) => e.type)).toEqual(["published", "active", "progress", "progress", "progress", "completed"]);
    expect(seen.slice(2, 5).map((e) => (e as QueueEventOf<"progress">).progress)).toEqual([{ step: "download" }, { step: "download" }, 99]);
  });

  it("a failed attempt with a long error message is heard, and the nack succeeds while someone listens", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<string>(uniqueQueueName("events"));
    const { id } = await queue.publish("x");
    const m = await leaseOne(queue);
    // A response body or a stack in the message: far more than one PostgreSQL notification holds.
    const message = "upstream said: " + "é\n\u001b".repeat(4_000);
    await queue.nack(m.id, m.leaseToken, { error: { message, kind: "error" }, delayMs: 60_000 });
    const seen = await until(recorder, id, "retry");
    expect(seen.map((e) => e.type)).toEqual(["published", "active", "failed", "retry"]);
    const failed = seen[2] as QueueEventOf<"failed">;
    expect(failed.error.message.length).toBeGreaterThanOrEqual(1_000);
    expect(message.startsWith(failed.error.message)).toBe(true);
  });

  it("events of many messages in one batch keep each message's order", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<number>(uniqueQueueName("events"));
    const published = await queue.publishMany(Array.from({ length: 50 }, (_, i) => ({ body: i })));
    const leased = await queue.lease({ max: 50 });
    await queue.ackMany(leased.map((m) => ({ id: m.id, leaseToken: m.leaseToken })));
    for (const { id } of published) {
      const seen = await until(recorder, id, "completed");
      expect(seen.map((e) => e.type)).toEqual(["published", "active", "completed"]);
    }
  });
  it("an ordering group: each message is published, then active only on its turn (no event when the turn passes)", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<number>(uniqueQueueName("events"));
    const published = await queue.publishMany([0, 1, 2].map((body) => ({ body, groupKey: "g" })));
    for (const { id } of published) {
      const m = await pollUntil(async () => (await queue.lease({ max: 5 }))[0], { what: "the group's next message" });
      expect(m.id).toBe(id);
      await queue.ack(m.id, m.leaseToken);
    }
    for (const { id } of published) expect((await until(recorder, id, "completed")).map((e) => e.type)).toEqual(["published", "active", "completed"]);
  });

  it("a dedup replace makes no event; overflow drop-oldest makes the oldest dead (overflow) with no attempt", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<number>(uniqueQueueName("events"), { maxLength: 2, overflow: "drop-oldest" });
    const first = await queue.publish(1, { dedupKey: "k" });
    const again = await queue.publish(2, { dedupKey: "k" });
    expect(again).toMatchObject({ id: first.id, replaced: true });
    await queue.publish(3);
    const third = await queue.publish(4);
    const seen = await until(recorder, first.id, "dead");
    expect(seen.map((e) => e.type)).toEqual(["published", "dead"]);
    expect(seen[1]).toMatchObject({ reason: "overflow", attempt: 0 });
    await until(recorder, third.id, "published");
  });

  it("ackMany with some stale tokens: completed only for the acks that took; a release is released", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<number>(uniqueQueueName("events"));
    const published = await queue.publishMany([0, 1, 2].map((body) => ({ body })));
    const leased = await queue.lease({ max: 3 });
    expect(leased).toHaveLength(3);
    await queue.nack(leased[1].id, leased[1].leaseToken, { release: true });
    const outcomes = await queue.ackMany(leased.map((m) => ({ id: m.id, leaseToken: m.leaseToken })));
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    await until(recorder, published[0].id, "completed");
    await until(recorder, published[2].id, "completed");
    const released = await until(recorder, leased[1].id, "released");
    await letWakeUpsRun();
    expect(released.map((e) => e.type)).toEqual(["published", "active", "released"]);
    expect(recorder.of(leased[1].id).map((e) => e.type)).toEqual(["published", "active", "released"]);
  });

  it("replaying many dead letters: each is replayed once, in its own order after its dead", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<number>(uniqueQueueName("events"), { maxAttempts: 1 });
    const published = await queue.publishMany(Array.from({ length: 40 }, (_, body) => ({ body })));
    const leased = await queue.lease({ max: 40 });
    for (const m of leased) await queue.nack(m.id, m.leaseToken, { error: { message: "no", kind: "error" } });
    expect(await queue.replayDead({ all: true })).toBe(40);
    for (const { id } of published) {
      expect((await until(recorder, id, "replayed")).map((e) => e.type)).toEqual(["published", "active", "failed", "dead", "replayed"]);
    }
  });

  it("a rate-limited queue: active only for what the limit let through", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<number>(uniqueQueueName("events"), { rateLimit: { max: 2, intervalMs: 60_000 } });
    const published = await queue.publishMany([0, 1, 2, 3].map((body) => ({ body })));
    const leased = await queue.lease({ max: 4 });
    expect(leased).toHaveLength(2);
    for (const m of leased) await until(recorder, m.id, "active");
    const rest = published.filter((p) => !leased.some((m) => m.id === p.id));
    for (const { id } of rest) await until(recorder, id, "published");
    await letWakeUpsRun();
    for (const { id } of rest) expect(recorder.of(id).map((e) => e.type)).toEqual(["published"]);
  });

  it("a worker closing past its deadline releases what is still running: released, not failed", async () => {
    const { spool } = await open();
    const recorder = record(spool);
    const queue = spool.queue<number>(uniqueQueueName("events"));
    const { id } = await queue.publish(1);
    let started = false;
    const worker = queue.work(async (_m, ctx) => {
      started = true;
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
      throw new Error("aborted");
    });
    await pollUntil(() => started, { what: "the handler running" });
    await worker.close({ timeoutMs: 10 });
    const seen = await until(recorder, id, "released");
    await letWakeUpsRun();
    expect(recorder.of(id).map((e) => e.type)).toEqual(["published", "active", "released"]);
    expect(seen[2]).toMatchObject({ type: "released" });
  });

  itOnClock(
    suite,
    "a schedule's fire is a publish",
    async () => {
      const ctx = await open();
      const clock = manualClock(ctx);
      const recorder = record(ctx.spool);
      const queue = uniqueQueueName("events");
      await ctx.spool.schedule(uniqueQueueName("sched"), { everyMs: 1_000, queue, body: 1 });
      clock.advance(1_000);
      const event = await pollUntil(() => recorder.events.find((e) => e.queue === queue), { what: "the schedule's publish" });
      expect(event).toMatchObject({ type: "published", queue, at: clock.now() });
    },
    async () => {
      const { spool } = await open();
      const recorder = record(spool);
      const queue = uniqueQueueName("events");
      const name = uniqueQueueName("sched");
      await spool.schedule(name, { everyMs: 50, queue, body: 1 });
      const event = await pollUntil(() => recorder.events.find((e) => e.queue === queue), { what: "the schedule's publish" });
      await spool.removeSchedule(name);
      expect(event).toMatchObject({ type: "published", queue });
    },
  );
};
