import { afterEach, describe, expect, it, vi } from "vitest";
import { Spool, type JournalStore, type SpoolOptions } from "../../src/index.js";
import { SpoolMetrics } from "../../src/metrics/metrics.js";
import { CrashFs } from "../helpers/crash-fs.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { openLog, text } from "../unit/journal/log-helpers.js";
import { parseMetrics } from "./prom-text.js";

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function journalSpool(journal: SpoolOptions["journal"] = {}): Promise<Spool> {
  const dataDir = await makeTempDir("spool-fsync-");
  cleanups.push(() => removeTempDir(dataDir));
  const spool = await Spool.open({ dataDir, journal });
  cleanups.push(() => spool.close());
  return spool;
}

async function fsyncCount(metrics: SpoolMetrics): Promise<number> {
  return parseMetrics(await metrics.render()).value("spool_journal_fsync_seconds_count") ?? 0;
}

describe("spool_journal_fsync_seconds", () => {
  it("counts every fdatasync of the journal, one per group commit", async () => {
    const spool = await journalSpool();
    const store = spool.store as JournalStore;
    const metrics = new SpoolMetrics(spool, { defaultMetrics: false });
    cleanups.push(() => metrics.close());
    const queue = spool.queue<number>("durable");
    await queue.info();

    const syncsBefore = store.logStats.fdatasyncs;
    const countBefore = await fsyncCount(metrics);
    for (let i = 0; i < 5; i++) await queue.publish(i); // one at a time: five group commits
    await queue.publishMany(Array.from({ length: 100 }, (_, i) => ({ body: i }))); // one more
    const [leased] = await queue.lease();
    await queue.ack(leased.id, leased.leaseToken);

    const syncs = store.logStats.fdatasyncs - syncsBefore;
    expect(syncs).toBeGreaterThanOrEqual(7);
    const parsed = parseMetrics(await metrics.render());
    expect(parsed.value("spool_journal_fsync_seconds_count")! - countBefore).toBe(syncs);
    expect(parsed.value("spool_journal_fsync_seconds_sum")).toBeGreaterThan(0);
    expect(parsed.value("spool_journal_fsync_seconds_bucket", { le: "+Inf" })).toBe(parsed.value("spool_journal_fsync_seconds_count"));
    expect(parsed.types.get("spool_journal_fsync_seconds")).toBe("histogram");
  });

  it("stops observing when the metrics close, and two metrics on one journal both count", async () => {
    const spool = await journalSpool();
    const first = new SpoolMetrics(spool, { defaultMetrics: false });
    const second = new SpoolMetrics(spool, { defaultMetrics: false });
    cleanups.push(() => second.close());
    const queue = spool.queue("q");
    await queue.publish(1);
    const firstCount = await fsyncCount(first);
    expect(firstCount).toBeGreaterThanOrEqual(1);
    expect(await fsyncCount(second)).toBe(firstCount);

    first.close();
    await queue.publish(2);
    expect(await fsyncCount(second)).toBeGreaterThan(firstCount);
  });

  it("takes an onFsync option through Spool.open", async () => {
    const seen: number[] = [];
    const spool = await journalSpool({ onFsync: (seconds) => seen.push(seconds) });
    await spool.queue("q").publish(1);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.every((s) => s > 0 && s < 60)).toBe(true);
  });
});

describe("SegmentLog.onFsync", () => {
  it("is called once per fdatasync that succeeded, rotation syncs included", async () => {
    const fs = new CrashFs();
    const seen: number[] = [];
    const log = await openLog(fs, { onFsync: (seconds) => seen.push(seconds), segmentMaxBytes: 64 });
    for (let i = 0; i < 6; i++) await log.append(1, text(`${i}-${"x".repeat(40)}`)); // rotates every other append
    expect(log.stats.segment).toBeGreaterThan(1);
    expect(seen).toHaveLength(log.stats.fdatasyncs);
    expect(seen).toHaveLength(fs.calls.fdatasync);
    expect(seen.every((s) => s >= 0)).toBe(true);
    await log.close();
  });

  it("costs nothing when unset, and can be set and cleared on an open log", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    const now = vi.spyOn(performance, "now");
    await log.append(1, text("a"));
    expect(now).not.toHaveBeenCalled();
    const seen: number[] = [];
    log.onFsync = (seconds) => seen.push(seconds);
    await log.append(1, text("b"));
    expect(seen).toHaveLength(1);
    expect(now).toHaveBeenCalledTimes(2);
    log.onFsync = undefined;
    await log.append(1, text("c"));
    expect(seen).toHaveLength(1);
    now.mockRestore();
    await log.close();
  });

  it("skips the sample of an fdatasync already running when the observer was set", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    const held = fs.hold("fdatasync");
    const appended = log.append(1, text("a"));
    await held.reached;
    const seen: number[] = [];
    log.onFsync = (seconds) => seen.push(seconds);
    held.release();
    await appended;
    expect(seen).toEqual([]);
    await log.append(1, text("b"));
    expect(seen).toHaveLength(1);
    await log.close();
  });

  it("reports a throwing observer as a process warning; the append still succeeds", async () => {
    const fs = new CrashFs();
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    const log = await openLog(fs, {
      onFsync: () => {
        throw new Error("observer bug");
      },
    });
    await expect(log.append(1, text("a"))).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("observer bug"));
    expect(log.stats).toMatchObject({ fdatasyncs: 1, poisoned: false, failedGroups: 0 });
    warn.mockRestore();
    await log.close();
  });
});
