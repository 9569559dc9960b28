/**
 * The journal store logs the successful acks made at one time with nothing else logged between
 * them as one `acks` record. The record must replay to exactly what the engine did: acks
 * interleaved with other writes, failed acks, snapshots and a power cut.
 */
import { afterEach, describe, expect, it } from "vitest";
import { JournalStore, ManualClock } from "../../src/index.js";
import type { LeasedStoredMessage } from "../../src/core/message.js";
import { CrashFs } from "../helpers/crash-fs.js";

const DIR = "/data/spool";
const open: JournalStore[] = [];

async function openStore(fs: CrashFs, clock: ManualClock, snapshotEveryOps = 1_000_000): Promise<JournalStore> {
  const store = new JournalStore({ dataDir: DIR, fs, clock, fsync: "always", snapshotEveryOps, onWarning: () => {} });
  await store.open();
  open.push(store);
  return store;
}

async function setup(count: number, snapshotEveryOps?: number) {
  const fs = new CrashFs();
  const clock = new ManualClock(1_000_000);
  const store = await openStore(fs, clock, snapshotEveryOps);
  await store.ensureQueue("q");
  const published = await store.publish(Array.from({ length: count }, (_, i) => ({ queue: "q", body: String(i), priority: 0 })));
  await new Promise((resolve) => setImmediate(resolve)); // visible once durable
  const leased = await store.lease("q", { max: count, leaseMs: 60_000 });
  expect(leased.length).toBe(count);
  await store.ensureQueue("q"); // a durable write: the lease record is on disk too
  return { fs, clock, store, ids: published.map((p) => p.id), leased };
}

async function statuses(store: JournalStore, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await store.status(id))?.state ?? "missing"));
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((store) => store.close()));
});

describe("journal ack runs", () => {
  it("log the acks of one turn as one record, durable for every caller, and replay them", async () => {
    const { fs, clock, store, ids, leased } = await setup(8);
    const before = store.logStats.records;
    const acks = leased.map((m) => store.ack(m.id, m.leaseToken));
    expect(acks.every((p) => p === acks[0])).toBe(true); // one shared promise
    await Promise.all(acks);
    expect(store.logStats.records - before).toBe(1);
    const reopened = await openStore(fs.crash(), new ManualClock(clock.now()));
    expect(await statuses(reopened, ids)).toEqual(ids.map(() => "completed"));
  });

  it("keep the order of acks, failed acks and other writes made in the same turn", async () => {
    const { fs, clock, store, ids, leased } = await setup(6);
    const [a, b, c, d, e, f] = leased as [LeasedStoredMessage, LeasedStoredMessage, LeasedStoredMessage, LeasedStoredMessage, LeasedStoredMessage, LeasedStoredMessage];
    const results = await Promise.allSettled([
      store.ack(a.id, a.leaseToken),
      store.ack(b.id, "not-the-token"), // lease_lost: not in the run
      store.ack(b.id, b.leaseToken),
      store.nack(c.id, c.leaseToken, { release: true }), // ends the run: its record comes after a and b
      store.ack(d.id, d.leaseToken),
      store.ack(a.id, a.leaseToken), // acked already: lease_lost
      store.extend(e.id, e.leaseToken, 5_000),
      store.ack(e.id, e.leaseToken),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
    clock.advance(1); // a new time: a new run
    await store.ack(f.id, f.leaseToken);
    const live = await statuses(store, ids);
    expect(live).toEqual(["completed", "completed", "ready", "completed", "completed", "completed"]);
    const reopened = await openStore(fs.crash(), new ManualClock(clock.now()));
    expect(await statuses(reopened, ids)).toEqual(live);
    expect(await reopened.stats("q")).toEqual(await store.stats("q"));
  });

  it("log a run before a write of the same turn that depends on it (a group's next message)", async () => {
    const fs = new CrashFs();
    const clock = new ManualClock(1_000_000);
    const store = await openStore(fs, clock);
    await store.ensureQueue("q");
    const [first, second] = await store.publish([
      { queue: "q", body: "1", priority: 0, groupKey: "g" },
      { queue: "q", body: "2", priority: 0, groupKey: "g" },
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    const [held] = await store.lease("q", { max: 2, leaseMs: 60_000 });
    expect(held?.id).toBe(first!.id); // one at a time per group
    const acked = store.ack(held!.id, held!.leaseToken);
    const next = await store.lease("q", { max: 2, leaseMs: 60_000 }); // the ack freed the group
    expect(next.map((m) => m.id)).toEqual([second!.id]);
    await acked;
    await store.ensureQueue("q");
    const reopened = await openStore(fs.crash(), new ManualClock(clock.now()));
    expect(await statuses(reopened, [first!.id, second!.id])).toEqual(["completed", "leased"]);
    await reopened.ack(second!.id, next[0]!.leaseToken);
  });

  it("put a run before the seal of a snapshot taken in its turn", async () => {
    const { fs, clock, store, ids, leased } = await setup(6, 10);
    // The acks push the op count past snapshotEveryOps: the snapshot starts inside the run.
    await Promise.all(leased.map((m) => store.ack(m.id, m.leaseToken)));
    await store.snapshot();
    const reopened = await openStore(fs.crash(), new ManualClock(clock.now()));
    expect(await statuses(reopened, ids)).toEqual(ids.map(() => "completed"));
  });

  it("refuse every ack of a run whose group the disk refused, and show none of them after the rebuild", async () => {
    const { fs, store, ids, leased } = await setup(4);
    fs.failNext("fdatasync", "EIO", { path: "seg-" });
    const results = await Promise.allSettled(leased.map((m) => store.ack(m.id, m.leaseToken)));
    for (const result of results) {
      expect(result.status).toBe("rejected");
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: "unavailable" });
    }
    expect(await statuses(store, ids)).toEqual(ids.map(() => "leased"));
  });
});
