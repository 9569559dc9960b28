import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnavailableError } from "../../../src/core/errors.js";
import { nodeJournalFs } from "../../../src/log/journal-fs.js";
import { segmentFileName } from "../../../src/log/layout.js";
import { readLog } from "../../../src/log/recovery.js";
import { ManualClock } from "../../../src/util/clock.js";
import { CrashFs } from "../../helpers/crash-fs.js";
import { FaultyFs } from "../../helpers/faulty-fs.js";
import { pollUntil } from "../../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../../helpers/temp-dir.js";
import { DIR, openLog, payloadsOn, text } from "./log-helpers.js";

const SEGMENT_1 = `${DIR}/${segmentFileName(1)}`;

function settle(promises: Promise<void>[]) {
  return Promise.allSettled(promises);
}

describe("SegmentLog: write faults (R2, R8)", () => {
  it("disk full: the group rejects unavailable, nothing of it stays in the file, writes resume when space returns", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    await log.append(1, text("before"));
    const sizeBefore = fs.disk.fileBytes(SEGMENT_1)!.length;
    fs.disk.capacityBytes = sizeBefore + 30; // room for part of the next group: a short write

    const results = await settle([log.append(1, text("a")), log.append(1, text("b")), log.append(1, text("c"))]);
    for (const result of results) expect(result).toMatchObject({ status: "rejected", reason: { code: "unavailable" } });
    expect(fs.disk.fileBytes(SEGMENT_1)!.length).toBe(sizeBefore);
    expect(log.stats.poisoned).toBe(false);
    const { records, warnings } = await readLog(fs, DIR);
    expect(records.map((r) => r.payload.toString())).toEqual(["record-before"]);
    expect(warnings).toEqual([]);

    fs.disk.capacityBytes = Infinity;
    await log.append(1, text("after"));
    expect(await payloadsOn(fs.crash())).toEqual(["record-before", "record-after"]);
  });

  it("ENOSPC thrown by write: rejects, rolls back, resumes after the fault clears", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    await log.append(1, text(1));
    const clear = fs.failAlways("write", "ENOSPC");
    await expect(log.append(1, text(2))).rejects.toMatchObject({ code: "unavailable", cause: { code: "ENOSPC" } });
    await expect(log.append(1, text(3))).rejects.toBeInstanceOf(UnavailableError);
    clear();
    await log.append(1, text(4));
    expect(await payloadsOn(fs.crash({ tornPrefix: () => 0.99 }))).toEqual(["record-1", "record-4"]);
  });

  it("a short write is truncated back before the next append, so later records are not lost behind a torn one", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    await log.append(1, text(1));
    fs.shortWriteNext(5);
    await expect(log.append(1, text(2))).rejects.toMatchObject({ code: "unavailable", cause: { code: "ESHORTWRITE" } });
    expect(fs.calls.ftruncate).toBe(1);
    await log.append(1, text(3));
    const after = fs.crash();
    const { records, warnings } = await readLog(after, DIR);
    expect(records.map((r) => r.payload.toString())).toEqual(["record-1", "record-3"]);
    expect(warnings).toEqual([]);
  });

  it("a failed rollback after a failed write poisons the log", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    fs.shortWriteNext(5);
    fs.failNext("ftruncate", "EIO");
    await expect(log.append(1, text(1))).rejects.toMatchObject({ code: "unavailable" });
    expect(log.stats.poisoned).toBe(true);
    await expect(log.append(1, text(2))).rejects.toMatchObject({ code: "unavailable" });
    const { records } = await log.recover();
    expect(records).toEqual([]);
    await log.append(1, text(3));
    expect(await payloadsOn(fs)).toEqual(["record-3"]);
  });
});

describe("SegmentLog: the owner's state diverges when an append is rejected", () => {
  it("needsRecovery is set and flush() refuses until recover(), so a snapshot cannot persist a refused change", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    await log.append(1, text(1));
    fs.failNext("write", "ENOSPC");
    await expect(log.append(1, text(2))).rejects.toMatchObject({ code: "unavailable" });
    expect(log.needsRecovery).toBe(true);
    expect(log.fault).toMatchObject({ code: "unavailable", cause: { code: "ENOSPC" } });
    expect(log.stats).toMatchObject({ failedGroups: 1, poisoned: false });
    await log.append(1, text(3)); // writes still resume (R8)
    await expect(log.flush()).rejects.toMatchObject({ code: "unavailable" });
    await log.recover();
    expect(log.needsRecovery).toBe(false);
    expect(log.fault).toBeUndefined();
    await log.flush();
    await log.close(); // the earlier rejection is not reported again
  });

  it("a flush() waiting behind a flight that then fails rejects too", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    const gate = fs.hold("write");
    const doomed = log.append(1, text(1));
    await gate.reached;
    fs.failNext("write", "EIO");
    const flushed = log.flush();
    gate.release();
    await expect(doomed).rejects.toMatchObject({ code: "unavailable" });
    await expect(flushed).rejects.toMatchObject({ code: "unavailable" });
  });
});

describe("SegmentLog: fdatasync faults (R3, fsyncgate)", () => {
  it("EIO on fdatasync fails every waiter of the group, poisons the log, and recover() removes those records", async () => {
    const fs = new CrashFs();
    const faults: UnavailableError[] = [];
    const log = await openLog(fs, { onFault: (error) => faults.push(error) });
    await log.append(1, text("kept"));
    fs.failNext("fdatasync", "EIO");
    const group = await settle([log.append(1, text("x")), log.append(1, text("y")), log.append(1, text("z"))]);
    for (const result of group) expect(result).toMatchObject({ status: "rejected", reason: { code: "unavailable" } });
    expect(faults).toHaveLength(1);
    expect(log.fault).toBe(faults[0]);

    // Poisoned: nothing is accepted, even though the next fdatasync would succeed.
    await expect(log.append(1, text("refused"))).rejects.toMatchObject({ code: "unavailable" });
    await expect(log.flush()).rejects.toMatchObject({ code: "unavailable" });
    // The failed group's bytes are still in the page cache; recovery must not bring them back.
    expect(fs.disk.fileBytes(SEGMENT_1)!.toString()).toContain("record-x");

    const recovered = await log.recover();
    expect(recovered.records.map((r) => r.payload.toString())).toEqual(["record-kept"]);
    expect(log.stats.poisoned).toBe(false);
    await log.append(1, text("after"));
    expect(await payloadsOn(fs.crash({ tornPrefix: () => 0.99 }))).toEqual(["record-kept", "record-after"]);
  });

  it("appends queued behind the failing flight are rejected too", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    const gate = fs.hold("fdatasync");
    fs.failNext("fdatasync", "EIO");
    const first = log.append(1, text(1));
    await gate.reached;
    const queued = log.append(1, text(2));
    gate.release();
    await expect(first).rejects.toMatchObject({ code: "unavailable" });
    await expect(queued).rejects.toMatchObject({ code: "unavailable" });
    expect(fs.calls.fdatasync).toBe(1);
  });

  it("recover() fails and stays poisoned while the disk is still failing, and succeeds once it is back", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    fs.failNext("fdatasync", "EIO");
    await expect(log.append(1, text(1))).rejects.toMatchObject({ code: "unavailable" });
    const clear = fs.failAlways("readFile", "EIO");
    await expect(log.recover()).rejects.toMatchObject({ code: "unavailable" });
    await expect(log.append(1, text(2))).rejects.toMatchObject({ code: "unavailable" });
    clear();
    await log.recover();
    await log.append(1, text(3));
    expect(await payloadsOn(fs)).toEqual(["record-3"]);
  });

  it("a failed fdatasync of the old segment at rotation poisons, and the new segment is not started", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs, { fsync: "never", segmentMaxBytes: 10 });
    await log.append(1, text(1));
    fs.failNext("fdatasync", "EIO");
    await expect(log.append(1, text(2))).rejects.toMatchObject({ code: "unavailable" });
    expect(log.stats.poisoned).toBe(true);
    expect(await fs.exists(`${DIR}/${segmentFileName(2)}`)).toBe(false);
  });

  it("a failed directory fsync after creating a segment poisons, and recover() removes that segment", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs, { segmentMaxBytes: 10 });
    await log.append(1, text(1));
    fs.failNext("fsyncDir", "EIO");
    await expect(log.append(1, text(2))).rejects.toMatchObject({ code: "unavailable" });
    expect(log.stats.poisoned).toBe(true);
    const { end } = await log.recover();
    expect(end).toEqual({ segment: 1, offset: 9 + text(1).length });
    expect(await fs.readdir(DIR)).toEqual([segmentFileName(1)]);
    await log.append(1, text(3));
    expect(await payloadsOn(fs.crash())).toEqual(["record-1", "record-3"]);
  });

  it("interval: a failed background fdatasync poisons the log and reports through onFault", async () => {
    const fs = new CrashFs();
    const clock = new ManualClock();
    const faults: UnavailableError[] = [];
    const log = await openLog(fs, { fsync: "interval", fsyncIntervalMs: 50, clock, onFault: (error) => faults.push(error) });
    await log.append(1, text(1)); // acknowledged after the write
    fs.failNext("fdatasync", "EIO");
    clock.advance(50);
    await pollUntil(() => faults.length === 1, { what: "the background fdatasync to fail" });
    await expect(log.append(1, text(2))).rejects.toMatchObject({ code: "unavailable" });
    // An acknowledged record is not cut by recovery, even though its sync failed.
    const { records } = await log.recover();
    expect(records.map((r) => r.payload.toString())).toEqual(["record-1"]);
  });
});

describe("SegmentLog on the real disk with injected faults", () => {
  let dir: string;
  beforeEach(async () => void (dir = await makeTempDir("spool-segment-log-")));
  afterEach(async () => removeTempDir(dir));

  it("ENOSPC on write and EIO on fdatasync: rejects, recovers, resumes; nothing unacknowledged comes back", async () => {
    const fs = new FaultyFs(nodeJournalFs);
    const log = await openLog(fs, {}, dir);
    await log.append(1, text(1));
    fs.failNext("write", "ENOSPC");
    await expect(log.append(1, text(2))).rejects.toMatchObject({ code: "unavailable" });
    await log.append(1, text(3));
    fs.failNext("fdatasync", "EIO");
    await expect(log.append(1, text(4))).rejects.toMatchObject({ code: "unavailable" });
    await log.recover();
    await log.append(1, text(5));
    await log.close();
    expect(await payloadsOn(nodeJournalFs, dir)).toEqual(["record-1", "record-3", "record-5"]);
    expect((await nodeJournalFs.readdir(dir)).map((name) => path.basename(name))).toEqual([segmentFileName(1)]);
  });
});
