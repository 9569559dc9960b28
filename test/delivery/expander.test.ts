/**
 * The expander: close() never waits out a retry pause; a chunk that landed before its record did
 * is recorded, not published again, and the queue remembers one idempotency key per chunk; it
 * keeps at most about `maxQueued` jobs in the channel's queue.
 */
import { afterEach, expect, it, vi } from "vitest";
import type { DeliveryRecord } from "../../src/delivery/delivery-state.js";
import type { DeliveryStorage } from "../../src/delivery/storage/delivery-storage.js";
import { memoryDeliveryStorage } from "../../src/delivery/storage/memory-storage.js";
import { Expander } from "../../src/delivery/expander.js";
import type { DeliveryJob } from "../../src/delivery/types.js";
import { memoryStore } from "../../src/index.js";
import { Spool } from "../../src/spool.js";
import { pollUntil } from "../helpers/poll-until.js";

afterEach(() => {
  vi.useRealTimers();
});

async function memoryBatch(store: DeliveryStorage, batchId: string, total: number, chunkSize?: number): Promise<void> {
  const file = store.recipients.create(batchId);
  for (let index = 0; index < total; index++) await file.write({ id: `u${index}`, vars: { name: `U${index}` } });
  await file.commit();
  const batch = { id: batchId, channel: "mock" as const, total, createdAt: Date.now(), template: { body: "Hi {{name}}", escape: "html" as const } };
  await store.write({ k: "batch", batch: chunkSize === undefined ? batch : { ...batch, chunkSize } });
}

/**
 * An expander (chunks of 10) publishes the first chunk, but its `expanded` record is refused (as a
 * crash between the publish and the record would lose it), and it stops before its retry.
 */
async function publishFirstChunkWithoutItsRecord(spool: Spool, store: DeliveryStorage, batchId: string): Promise<void> {
  const write = store.write.bind(store);
  let refused = 0;
  vi.spyOn(store, "write").mockImplementation(async (record: DeliveryRecord) => {
    if (record.k === "expanded" && refused++ === 0) throw new Error("delivery log unavailable");
    return write(record);
  });
  const first = new Expander(spool, store, { chunkSize: 10 });
  first.start(batchId);
  await first.idle();
  await first.close(); // its retry a second later never comes
  expect(store.state.batches.get(batchId)?.expandedUpTo).toBe(0);
}

it("close() during a failing publish returns without waiting out the retry pause", async () => {
  const store = memoryDeliveryStorage();
  const batchId = "b1";
  const file = store.recipients.create(batchId);
  await file.write({ id: "u1" });
  await file.commit();
  await store.write({ k: "batch", batch: { id: batchId, channel: "mock", total: 1, createdAt: Date.now(), template: { body: "Hi", escape: "html" } } });

  let failPublish!: (error: Error) => void;
  let publishing!: () => void;
  const publishStarted = new Promise<void>((resolve) => (publishing = resolve));
  const spool = {
    maxBodyBytes: 256 * 1024,
    idempotentId: async () => undefined,
    queueStats: async () => ({ ready: 0, delayed: 0, leased: 0 }),
    queue: () => ({
      name: "delivery.mock",
      publishMany: () => {
        publishing();
        return new Promise((_resolve, reject) => (failPublish = reject));
      },
    }),
  } as unknown as Spool;

  // With timers faked, a retry pause that ignores the abort would never end and close() would hang.
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  const expander = new Expander(spool, store);
  expander.start(batchId);
  await publishStarted;
  const closed = expander.close(); // aborts while the publish is in flight
  failPublish(new Error("store unavailable"));
  await closed;
  expect(store.state.batches.get(batchId)?.expandedUpTo).toBe(0);
  await store.close();
});

it("a chunk published before a fault kept its record from landing is recorded, not published again", async () => {
  const store = memoryDeliveryStorage();
  const batchId = "b2";
  const total = 25;
  await memoryBatch(store, batchId, total);
  const spool = await Spool.open({ store: memoryStore() });

  await publishFirstChunkWithoutItsRecord(spool, store, batchId);

  // A restarted expander resumes from the last record: chunk 0 again, which the queue already has.
  const second = new Expander(spool, store, { chunkSize: 10 });
  second.start(batchId);
  await second.idle();
  expect(store.state.batches.get(batchId)?.expandedUpTo).toBe(total);
  const queue = spool.queue<DeliveryJob>("delivery.mock");
  expect((await queue.stats()).totals.published).toBe(total);
  const jobs = await queue.lease({ max: 100 });
  expect(jobs.map((job) => job.body.logId).sort()).toEqual(Array.from({ length: total }, (_, index) => `${batchId}_${index}`).sort());
  // One key per chunk (0–9, 10–19, 20–24), none per recipient.
  for (const [from, count] of [[0, 10], [10, 10], [20, 5]]) expect(await spool.store.idempotentId(queue.name, `${batchId}@${from}+${count}`)).toBeDefined();
  for (const job of jobs) expect(await spool.store.idempotentId(queue.name, job.body.logId)).toBeUndefined();

  await second.close();
  await spool.close();
  await store.close();
});

it("a batch keeps the chunk size it was accepted with: a restart with another expandChunkSize still finds the landed chunk", async () => {
  const store = memoryDeliveryStorage();
  const batchId = "b-size";
  const total = 25;
  await memoryBatch(store, batchId, total, 10);
  const spool = await Spool.open({ store: memoryStore() });
  await publishFirstChunkWithoutItsRecord(spool, store, batchId);

  // Restarted with another setting: the batch's own chunk size (10) still names chunk 0.
  const second = new Expander(spool, store, { chunkSize: 2000 });
  second.start(batchId);
  await second.idle();
  expect(store.state.batches.get(batchId)?.expandedUpTo).toBe(total);
  expect((await spool.queue<DeliveryJob>("delivery.mock").stats()).totals.published).toBe(total);
  await second.close();
  await spool.close();
  await store.close();
});

it("keeps at most maxQueued jobs in the queue; the rest wait as pending recipients until moves make room", async () => {
  const store = memoryDeliveryStorage();
  const batchId = "b3";
  const total = 100;
  await memoryBatch(store, batchId, total);
  const spool = await Spool.open({ store: memoryStore() });
  const queue = spool.queue<DeliveryJob>("delivery.mock");
  const listeners = new Set<() => void>();
  const onMove = (listener: () => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  // No timed re-check: only the moves this test reports wake a waiting chunk.
  const expander = new Expander(spool, store, { chunkSize: 10, maxQueued: 30, onMove, roomRecheckMs: 3_600_000 });
  expander.start(batchId);
  const batch = store.state.batches.get(batchId)!;

  await pollUntil(() => batch.expandedUpTo === 30 && listeners.size === 1, { what: "the fourth chunk waiting for room" });
  expect((await queue.stats()).ready).toBe(30);
  expect(batch.counts[0]).toBe(70); // pending, in the recipient file

  let consumed = 0;
  let mostHeld = 0;
  while (consumed < total) {
    await pollUntil(async () => (await queue.stats()).ready > 0, { what: "jobs to lease" });
    const stats = await queue.stats();
    mostHeld = Math.max(mostHeld, stats.ready + stats.leased);
    const jobs = await queue.lease({ max: 7 });
    await queue.ackMany(jobs.map((job) => ({ id: job.id, leaseToken: job.leaseToken })));
    consumed += jobs.length;
    for (const listener of [...listeners]) for (let k = 0; k < jobs.length; k++) listener();
  }
  await expander.idle();
  expect(batch.expandedUpTo).toBe(total);
  expect(mostHeld).toBeLessThanOrEqual(30);
  expect((await queue.stats()).totals).toMatchObject({ published: total, completed: total });

  await expander.close();
  await spool.close();
  await store.close();
});

it("a webhook or mock job carries the recipient's vars, not the rendered message: its size does not follow the template's", async () => {
  const store = memoryDeliveryStorage();
  const spool = await Spool.open({ store: memoryStore() });
  const vars = { name: "Ann" };
  for (const [batchId, recipientId, body] of [
    ["small0000000000000000000000", "ann", "Hi {{name}}"],
    ["large0000000000000000000000", "bob", `<html>${"lorem ipsum ".repeat(1000)}{{name}}</html>`],
  ]) {
    const file = store.recipients.create(batchId);
    await file.write({ id: recipientId, vars });
    await file.commit();
    await store.write({ k: "batch", batch: { id: batchId, channel: "mock", total: 1, createdAt: Date.now(), template: { body, escape: "html" } } });
  }
  const expander = new Expander(spool, store);
  expander.start("small0000000000000000000000");
  expander.start("large0000000000000000000000");
  await expander.idle();

  const jobs = await spool.queue<DeliveryJob>("delivery.mock").lease({ max: 10 });
  expect(jobs).toHaveLength(2);
  for (const job of jobs) {
    expect(job.body).toEqual({ logId: `${job.body.batchId}_0`, batchId: job.body.batchId, recipientId: job.body.batchId.startsWith("small") ? "ann" : "bob", vars });
    expect(JSON.stringify(job.body)).not.toContain("lorem");
  }
  expect(JSON.stringify(jobs[0].body).length).toBe(JSON.stringify(jobs[1].body).length);

  await expander.close();
  await spool.close();
  await store.close();
});

it("a job over the body limit fails its recipient alone; the rest of its chunk is published", async () => {
  const store = memoryDeliveryStorage();
  const spool = await Spool.open({ store: memoryStore(), maxBodyBytes: 1024 });
  const batchId = "b4";
  const huge = "x".repeat(2000);
  const file = store.recipients.create(batchId);
  // Recipients 0 and 3 are too large: 0 is the one that would carry the chunk's key.
  for (let index = 0; index < 6; index++) await file.write({ id: `u${index}`, vars: { name: index === 0 || index === 3 ? huge : `U${index}` } });
  await file.commit();
  await store.write({ k: "batch", batch: { id: batchId, channel: "mock", total: 6, createdAt: Date.now(), template: { body: "Hi {{name}}", escape: "html" } } });
  const expander = new Expander(spool, store, { chunkSize: 10 });
  expander.start(batchId);
  await expander.idle();

  const batch = store.state.batches.get(batchId)!;
  expect(Array.from(batch.status)).toEqual([5, 1, 1, 5, 1, 1]); // failed, queued…
  expect(batch.errors.get(0)?.message).toBe("the recipient's delivery job is over the 1024-byte message body limit");
  const queue = spool.queue<DeliveryJob>("delivery.mock");
  expect((await queue.lease({ max: 10 })).map((job) => job.body.logId)).toEqual([1, 2, 4, 5].map((index) => `${batchId}_${index}`));
  expect(await spool.store.idempotentId(queue.name, `${batchId}@0+6`)).toBeDefined();

  await expander.close();
  await spool.close();
  await store.close();
});
