/**
 * Disk faults at the store level (RELIABILITY.md R2, R3, R8), injected with `FaultyFs` over the
 * real file system (a temp dir) or over the in-memory `CrashFs`.
 *
 * What the journal guarantees, and these tests hold it to:
 * - A write the disk refused (ENOSPC, EIO, a short write) rejects its callers `unavailable` and
 *   acknowledges nothing (acked-after-fault = 0). The store rebuilds itself from the disk right
 *   away, so reads (stats, status, dead letters) keep working and stop showing the refused change
 *   without waiting for another write; the next write after the fault clears succeeds without a
 *   reopen (R8), and the state always equals what a fresh open of the directory finds.
 * - A failed fdatasync fails every waiter of its group AND every write queued behind it, and the
 *   writer never claims success for them on a retry (R3): recovery cuts the log back to the last
 *   acknowledged byte, so while the process lives those records are gone for good. `unavailable`
 *   still means "outcome unknown" to a client: if the power fails before that recovery runs, the
 *   kernel may already have persisted them, and they come back (the last test shows it).
 * - Writes queued behind a failed flight were computed from the refused record (an idempotent
 *   duplicate of it, an ack of its lease) and are refused with it, never written without it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore, type JournalWarning, type Queue } from "../../src/index.js";
import { nodeJournalFs, type JournalFs } from "../../src/log/journal-fs.js";
import { readLog } from "../../src/log/recovery.js";
import { SegmentLog } from "../../src/log/segment-log.js";
import { CrashFs } from "../helpers/crash-fs.js";
import { FaultyFs } from "../helpers/faulty-fs.js";
import { pollUntil } from "../helpers/poll-until.js";
import { observe, plain, type Observation } from "../helpers/store-observe.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

interface Body {
  name: string;
}

const dirs: string[] = [];
const open: Spool[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((spool) => spool.close()));
  await Promise.all(dirs.splice(0).map((dir) => removeTempDir(dir)));
});

async function openSpool(fs: JournalFs, dataDir: string, clock: ManualClock, extra: { snapshotEveryOps?: number; segmentMaxBytes?: number } = {}) {
  const warnings: JournalWarning[] = [];
  const store = journalStore({ dataDir, fs, clock, fsync: "always", snapshotEveryMs: 1_000_000_000, onWarning: (w) => warnings.push(w), ...extra }) as JournalStore;
  const spool = await Spool.open({ store });
  open.push(spool);
  return { spool, store, warnings };
}

async function tempDir(): Promise<string> {
  const dir = await makeTempDir("spool-faults-");
  dirs.push(dir);
  return dir;
}

/** Leases and acks everything ready; returns the bodies' names in delivery order. */
async function drainNames(queue: Queue<Body>): Promise<string[]> {
  const names: string[] = [];
  for (;;) {
    const leased = await queue.lease({ max: 100 });
    if (leased.length === 0) return names;
    for (const m of leased) {
      names.push(m.body.name);
      await queue.ack(m.id, m.leaseToken);
    }
  }
}

function unavailable() {
  return { code: "unavailable" };
}

/** Settles every promise; counts the ones that resolved (acknowledged) and checks the rest are `unavailable`. */
async function refusedAll(promises: Array<Promise<unknown>>): Promise<number> {
  const results = await Promise.allSettled(promises);
  let acknowledged = 0;
  for (const result of results) {
    if (result.status === "fulfilled") acknowledged++;
    else expect(result.reason).toMatchObject(unavailable());
  }
  return acknowledged;
}

/** A store with a dead letter, a held lease (on "a") and a ready message ("b"). */
async function seed(spool: Spool) {
  const queue = spool.queue<Body>("jobs", { maxAttempts: 1, leaseMs: 600_000 });
  const ids: string[] = [];
  ids.push((await queue.publish({ name: "doomed" })).id);
  const [doomed] = await queue.lease();
  await queue.nack(doomed.id, doomed.leaseToken, { error: { message: "bad input", kind: "permanent" } });
  ids.push((await queue.publish({ name: "a" })).id);
  ids.push((await queue.publish({ name: "b" })).id);
  const [leaseA] = await queue.lease();
  expect(leaseA.body.name).toBe("a");
  await queue.setOptions({ maxAttempts: 1 }); // a durable write: the lease record is on disk now
  return { queue, ids, leaseA };
}

/** Polls until the store shows `expected` (the background rebuild after a refused write has run). */
async function settlesTo(store: JournalStore, ids: string[], expected: Observation): Promise<void> {
  const want = JSON.stringify(plain(expected));
  await pollUntil(async () => JSON.stringify(plain(await observe(store, ids))) === want, { what: "the store to show the state on disk again", timeoutMs: 5000 });
}

describe("disk full (ENOSPC) — R8", () => {
  it("refused writes reject unavailable, reads keep working, nothing refused shows, and writes resume without a reopen", async () => {
    const dir = await tempDir();
    const fs = new FaultyFs(nodeJournalFs);
    const clock = new ManualClock();
    const { spool, store } = await openSpool(fs, dir, clock);
    const { queue, ids, leaseA } = await seed(spool);
    const before = await observe(store, ids);

    const clear = fs.failAlways("write", "ENOSPC", { path: "seg-" });
    const refused = [
      queue.publish({ name: "refused-1" }),
      queue.publishMany([{ body: { name: "refused-2" } }, { body: { name: "refused-3" } }]),
      queue.ack(leaseA.id, leaseA.leaseToken),
      spool.publish("other", { name: "refused-4" }),
    ];
    expect(await refusedAll(refused), "writes acknowledged while the disk was full").toBe(0);
    await expect(queue.publish({ name: "refused-5" })).rejects.toMatchObject(unavailable());
    await expect(queue.stats()).resolves.toMatchObject({ name: "jobs" }); // reads never wait for the disk
    await expect(spool.status(leaseA.id)).resolves.toBeDefined();
    await expect(queue.deadLetters()).resolves.toMatchObject({ items: [expect.anything()] });

    // Reads work throughout, and converge on the disk's state without another write.
    await settlesTo(store, ids, before);
    expect((await queue.stats()).ready).toBe(1);
    expect((await spool.status(leaseA.id))?.state).toBe("leased");
    expect((await queue.deadLetters()).items.map((d) => d.body.name)).toEqual(["doomed"]);
    expect(await spool.queues()).toHaveLength(1); // "other" was never created

    clear();
    const after = await queue.publish({ name: "after" }); // no reopen (R8)
    await queue.ack(leaseA.id, leaseA.leaseToken); // the lease survived the fault
    ids.push(after.id);
    const final = await observe(store, ids);
    await spool.close();

    const reopened = await openSpool(nodeJournalFs, dir, new ManualClock(clock.now()));
    expect(plain(await observe(reopened.store, ids)), "the state equals the disk").toEqual(plain(final));
    expect(await drainNames(reopened.spool.queue<Body>("jobs"))).toEqual(["b", "after"]);
    expect(reopened.warnings).toEqual([]);
  });

  it("a disk that really fills up (short write, then ENOSPC) refuses cleanly and accepts writes again once space returns", async () => {
    const fs = new CrashFs();
    const clock = new ManualClock();
    const { spool, store } = await openSpool(fs, "/data", clock);
    const { queue, ids } = await seed(spool);
    const before = await observe(store, ids);
    fs.disk.capacityBytes = fs.disk.usedBytes() + 60; // room for part of one record
    const big = "x".repeat(200);
    expect(await refusedAll([queue.publish({ name: big }), queue.publish({ name: `${big}2` })])).toBe(0);
    expect(await refusedAll([queue.publish({ name: `${big}3` })])).toBe(0);
    await settlesTo(store, ids, before);

    fs.disk.capacityBytes = Infinity;
    ids.push((await queue.publish({ name: "after" })).id);
    const final = await observe(store, ids);
    // Power loss right now: everything acknowledged is on disk, nothing refused is.
    const reopened = await openSpool(fs.crash(), "/data", new ManualClock(clock.now()));
    expect(plain(await observe(reopened.store, ids))).toEqual(plain(final));
    expect(await drainNames(reopened.spool.queue<Body>("jobs"))).toEqual(["b", "after"]);
    expect(reopened.warnings).toEqual([]);
  });

  it("ENOSPC while writing a snapshot fails only the snapshot: writes go on and the log still has everything", async () => {
    const dir = await tempDir();
    const fs = new FaultyFs(nodeJournalFs);
    const clock = new ManualClock();
    const { spool, store } = await openSpool(fs, dir, clock, { snapshotEveryOps: 5 });
    const queue = spool.queue<Body>("jobs");
    const ids: string[] = [];
    let snapshotWrites = 0;
    fs.beforeOp = (op, file) => void (op === "write" && file.includes(".snap") && snapshotWrites++);
    fs.failNext("write", "ENOSPC", { path: ".snap", times: 3 });
    // Snapshots come further apart as the state grows: publish until three have failed.
    for (let i = 0; i < 500 && snapshotWrites < 3; i++) ids.push((await queue.publish({ name: `m${i}` })).id);
    await pollUntil(() => snapshotWrites >= 3, { what: "three snapshot attempts" });
    await store.snapshot(); // this one goes through
    expect(snapshotWrites, "three snapshot writes failed, later ones were attempted").toBeGreaterThan(3);
    const final = await observe(store, ids);
    await spool.close();
    const reopened = await openSpool(nodeJournalFs, dir, new ManualClock(clock.now()));
    expect(plain(await observe(reopened.store, ids))).toEqual(plain(final));
    expect(reopened.warnings).toEqual([]);
  });
});

describe("a short write — R2", () => {
  it("is rolled back before the next record, so later records are not lost behind a torn one", async () => {
    const dir = await tempDir();
    const fs = new FaultyFs(nodeJournalFs);
    const clock = new ManualClock();
    const { spool, store } = await openSpool(fs, dir, clock);
    const queue = spool.queue<Body>("jobs");
    const first = await queue.publish({ name: "first" });
    fs.shortWriteNext(7, { path: "seg-" });
    await expect(queue.publish({ name: "torn" })).rejects.toMatchObject({ code: "unavailable", cause: { code: "ESHORTWRITE" } });
    const later = [await queue.publish({ name: "later-1" }), await queue.publish({ name: "later-2" })];
    expect(fs.calls.ftruncate).toBeGreaterThanOrEqual(1);
    const ids = [first.id, ...later.map((r) => r.id)];
    const final = await observe(store, ids);
    await spool.close();

    const reopened = await openSpool(nodeJournalFs, dir, new ManualClock(clock.now()));
    expect(reopened.warnings, "no torn record was left inside the log").toEqual([]);
    expect(plain(await observe(reopened.store, ids))).toEqual(plain(final));
    expect(await drainNames(reopened.spool.queue<Body>("jobs"))).toEqual(["first", "later-1", "later-2"]);
  });
});

describe("EIO on fdatasync (fsyncgate) — R3", () => {
  it("fails every waiter of the group and every write queued behind it; none is acknowledged, then or on a retry", async () => {
    const dir = await tempDir();
    const fs = new FaultyFs(nodeJournalFs);
    const clock = new ManualClock();
    const { spool, store } = await openSpool(fs, dir, clock);
    const { queue, ids, leaseA } = await seed(spool);
    const before = await observe(store, ids);

    const gate = fs.hold("fdatasync", { path: "seg-" });
    const group = [queue.publish({ name: "g1" }), queue.publish({ name: "g2" }), queue.ack(leaseA.id, leaseA.leaseToken), queue.publish({ name: "g3" })];
    await gate.reached; // the group's fdatasync is in flight
    const behind = [queue.publish({ name: "behind-1" }), queue.publishMany([{ body: { name: "behind-2" } }])];
    fs.failNext("fdatasync", "EIO", { path: "seg-" });
    gate.release();
    expect(await refusedAll([...group, ...behind]), "acked-after-fault").toBe(0);
    expect(store.logStats.failedGroups).toBeGreaterThanOrEqual(1);

    await settlesTo(store, ids, before);
    // The writer does not claim success on a retry: new writes succeed, the failed ones stay gone.
    ids.push((await queue.publish({ name: "after" })).id);
    await queue.ack(leaseA.id, leaseA.leaseToken);
    const final = await observe(store, ids);
    await spool.close();

    const reopened = await openSpool(nodeJournalFs, dir, new ManualClock(clock.now()));
    expect(plain(await observe(reopened.store, ids)), "after recovery the state equals the disk").toEqual(plain(final));
    expect(await drainNames(reopened.spool.queue<Body>("jobs"))).toEqual(["b", "after"]);
  });

  it("`unavailable` is an unknown outcome: if the power fails before recovery, the failed group may be on disk", async () => {
    const fs = new CrashFs();
    const clock = new ManualClock();
    const { spool } = await openSpool(fs, "/data", clock);
    const queue = spool.queue<Body>("jobs");
    await queue.publish({ name: "kept" });
    fs.failNext("fdatasync", "EIO", { path: "seg-" });
    const rollback = fs.hold("ftruncate"); // hold the recovery's cut-back, then cut the power
    // (The publish rejects only after that recovery: a caller told `unavailable` reads the disk's state.)
    const refused = queue.publish({ name: "unknown" });
    await rollback.reached;
    // The kernel wrote the bytes even though fdatasync reported EIO: a torn prefix that keeps them all.
    const after = fs.crash({ tornPrefix: () => 0.99999 });
    rollback.release();
    await expect(refused).rejects.toMatchObject(unavailable());
    const reopened = await openSpool(after, "/data", new ManualClock(clock.now()));
    expect(await drainNames(reopened.spool.queue<Body>("jobs"))).toEqual(["kept", "unknown"]);
  });
});

describe("writes queued behind a failed flight", () => {
  it("an idempotent duplicate of a refused publish is refused with it (and the log stays replayable)", async () => {
    const fs = new CrashFs();
    const clock = new ManualClock();
    const { spool, store } = await openSpool(fs, "/data", clock);
    const queue = spool.queue<Body>("jobs");
    await queue.info();
    const gate = fs.hold("write", { path: "seg-" });
    fs.failNext("write", "ENOSPC", { path: "seg-" });
    const original = queue.publish({ name: "original" }, { idempotencyKey: "k" });
    await gate.reached;
    const duplicate = queue.publish({ name: "retry" }, { idempotencyKey: "k" }); // a duplicate of "original", in memory
    gate.release();
    expect(await refusedAll([original, duplicate])).toBe(0);

    const next = await queue.publish({ name: "next" }, { idempotencyKey: "k" });
    expect(next.duplicate).toBe(false);
    const final = await observe(store, [next.id]);
    const reopened = await openSpool(fs.crash(), "/data", new ManualClock(clock.now()));
    expect(plain(await observe(reopened.store, [next.id]))).toEqual(plain(final));
    expect(await drainNames(reopened.spool.queue<Body>("jobs"))).toEqual(["next"]);
  });

  it("a message is not leased before its publish is durable, so no consumer acts on a refused publish", async () => {
    const fs = new CrashFs();
    const clock = new ManualClock();
    const { spool, store } = await openSpool(fs, "/data", clock);
    const queue = spool.queue<Body>("jobs");
    await queue.info();
    const gate = fs.hold("write", { path: "seg-" });
    fs.failNext("write", "ENOSPC", { path: "seg-" });
    const published = queue.publish({ name: "refused" });
    await gate.reached;
    expect((await queue.stats()).ready).toBe(1); // the engine has it…
    expect(await queue.lease()).toEqual([]); // …but hands it to nobody until it is durable
    gate.release();
    expect(await refusedAll([published]), "acked-after-fault").toBe(0);

    const later = await queue.publish({ name: "later" });
    expect((await queue.stats()).totals).toMatchObject({ published: 1, completed: 0 });
    const final = await observe(store, [later.id]);
    const reopened = await openSpool(fs.crash(), "/data", new ManualClock(clock.now()));
    expect(plain(await observe(reopened.store, [later.id]))).toEqual(plain(final));
    expect(await drainNames(reopened.spool.queue<Body>("jobs"))).toEqual(["later"]);
  });
});

describe("SegmentLog: appends queued behind a failed flight", () => {
  it("are rejected with it, even when the disk is fine again by the time their flight would run", async () => {
    const fs = new CrashFs();
    await fs.mkdir("/log");
    const log = await SegmentLog.open({ fs, dir: "/log", end: (await readLog(fs, "/log")).end });
    await log.append(1, Buffer.from("kept"));
    const gate = fs.hold("write");
    fs.failNext("write", "ENOSPC");
    const refused = log.append(1, Buffer.from("refused"));
    await gate.reached;
    const queued = [log.append(1, Buffer.from("derived-1")), log.append(1, Buffer.from("derived-2"))];
    gate.release();
    expect(await refusedAll([refused, ...queued])).toBe(0);
    await log.recover();
    await log.append(1, Buffer.from("after"));
    await log.close();
    expect((await readLog(fs.crash(), "/log")).records.map((r) => r.payload.toString())).toEqual(["kept", "after"]);
  });
});
