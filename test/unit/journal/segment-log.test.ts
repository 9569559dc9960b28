import { describe, expect, it } from "vitest";
import { UnavailableError } from "../../../src/core/errors.js";
import { segmentFileName, segmentsIn, type LogPosition } from "../../../src/log/layout.js";
import { decodeFrames } from "../../../src/log/record-codec.js";
import { readLog } from "../../../src/log/recovery.js";
import { SegmentLog } from "../../../src/log/segment-log.js";
import { ManualClock } from "../../../src/util/clock.js";
import { CrashFs } from "../../helpers/crash-fs.js";
import { pollUntil } from "../../helpers/poll-until.js";
import { randomInt, seededRandom, testSeed } from "../../helpers/seeded-random.js";
import { DIR, nextTurn, openLog, payloadsOn, text } from "./log-helpers.js";

describe("SegmentLog: group commit", () => {
  it("shares one write and one fdatasync among all appends of one loop turn", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    const appends = Array.from({ length: 500 }, (_, i) => log.append(1, text(i)));
    await Promise.all(appends);
    expect(fs.calls.write).toBe(1);
    expect(fs.calls.fdatasync).toBe(1);
    expect(log.stats).toMatchObject({ records: 500, groups: 1, fdatasyncs: 1, syncedRecords: 500, recordsPerFdatasync: 500 });
    expect(await payloadsOn(fs)).toEqual(Array.from({ length: 500 }, (_, i) => `record-${i}`));
    await log.close();
  });

  it("copies each payload at append: the caller may reuse its buffer at once", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    const scratch = Buffer.alloc(16);
    const appends = ["first", "second", "third!"].map((word) => {
      scratch.fill(0);
      const length = scratch.write(word);
      return log.append(1, scratch.subarray(0, length));
    });
    scratch.fill(0x58);
    await Promise.all(appends);
    expect(await payloadsOn(fs)).toEqual(["first", "second", "third!"]);
    await log.close();
  });

  it("makes an append that arrives while an fdatasync is in flight wait for the next one (R1)", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    const settled: string[] = [];
    const first = fs.hold("fdatasync");
    const a = log.append(1, text("a")).then(() => settled.push("a"));
    await first.reached; // a's fdatasync has started

    const b = log.append(1, text("b")).then(() => settled.push("b"));
    const second = fs.hold("fdatasync");
    first.release();
    await a;
    await second.reached; // b rides its own, second fdatasync
    expect(settled).toEqual(["a"]);
    expect(fs.calls.fdatasync).toBe(2);
    second.release();
    await b;
    expect(settled).toEqual(["a", "b"]);
    await log.close();
  });

  it("batches appends from continuations of the previous group into the next group", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    // 64 producers, each appending again as soon as its previous append resolved.
    await Promise.all(
      Array.from({ length: 64 }, async (_, p) => {
        for (let i = 0; i < 20; i++) await log.append(1, text(`${p}-${i}`));
      }),
    );
    expect(log.stats.records).toBe(64 * 20);
    expect(log.stats.fdatasyncs).toBeLessThanOrEqual(21);
    expect(log.stats.recordsPerFdatasync).toBeGreaterThanOrEqual(60);
    await log.close();
  });
});

describe("SegmentLog: fsync policies", () => {
  it("never: resolves after the write with no fdatasync; flush() syncs", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs, { fsync: "never" });
    await Promise.all([log.append(1, text(1)), log.append(1, text(2))]);
    expect(fs.calls.write).toBe(1);
    expect(fs.calls.fdatasync).toBe(0);
    await log.flush();
    expect(fs.calls.fdatasync).toBe(1);
    await log.flush(); // nothing new: no second sync
    expect(fs.calls.fdatasync).toBe(1);
    await log.close();
  });

  it("interval: resolves after the write, then fdatasyncs once per interval of unsynced writes", async () => {
    const fs = new CrashFs();
    const clock = new ManualClock();
    const log = await openLog(fs, { fsync: "interval", fsyncIntervalMs: 100, clock });
    await log.append(1, text(1));
    await log.append(1, text(2));
    expect(fs.calls.fdatasync).toBe(0);
    clock.advance(99);
    await nextTurn();
    expect(fs.calls.fdatasync).toBe(0);
    clock.advance(1);
    await pollUntil(() => fs.calls.fdatasync === 1, { what: "the interval fdatasync" });
    expect(log.stats.syncedRecords).toBe(2);
    clock.advance(1000); // nothing unsynced: no timer, no sync
    await nextTurn();
    await nextTurn();
    expect(fs.calls.fdatasync).toBe(1);
    await log.close();
  });

  it("always: a record is durable when its append resolves (power cut right after)", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    await log.append(1, text(1));
    expect(await payloadsOn(fs.crash())).toEqual(["record-1"]);
  });
});

describe("SegmentLog: segments", () => {
  it("rotates at the size limit: syncs the old segment, creates the next, fsyncs the directory (R4)", async () => {
    const fs = new CrashFs();
    const trace: string[] = [];
    const log = await openLog(fs, { segmentMaxBytes: 40, fsync: "never" });
    fs.beforeOp = (op, path) => trace.push(`${op} ${path.replace(`${DIR}/`, "")}`);
    for (let i = 0; i < 6; i++) await log.append(1, text(i)); // 17-byte frames: the third reaches 51 bytes, over the limit
    await log.flush();
    fs.beforeOp = undefined;
    const segments = (await fs.readdir(DIR)).sort();
    expect(segments).toEqual([segmentFileName(1), segmentFileName(2)]);
    const rotation = trace.indexOf(`open ${segmentFileName(2)}`);
    expect(trace.slice(rotation - 2, rotation + 3)).toEqual([
      `fdatasync ${segmentFileName(1)}`,
      `close ${segmentFileName(1)}`,
      `open ${segmentFileName(2)}`,
      `fstat ${segmentFileName(2)}`,
      `fsyncDir ${DIR}`,
    ]);
    expect(await payloadsOn(fs)).toEqual(Array.from({ length: 6 }, (_, i) => `record-${i}`));
    await log.close();
  });

  it("seal() starts a new segment with the next append and reports the position a snapshot covers", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    expect(log.seal()).toEqual({ segment: 1, offset: 0 }); // empty: nothing to seal
    await log.append(1, text(1));
    const sealed = log.seal();
    expect(sealed).toEqual({ segment: 2, offset: 0 });
    expect(log.seal()).toEqual(sealed);
    expect(log.position).toEqual(sealed);
    await log.append(1, text(2));
    expect(log.position).toEqual({ segment: 2, offset: 9 + text(2).length });
    expect((await fs.readdir(DIR)).sort()).toEqual([segmentFileName(1), segmentFileName(2)]);
    await log.close();
  });

  it("position (taken before an append, counting appends not yet written) is exactly where that record lands", async () => {
    const baseSeed = testSeed();
    for (let run = 0; run < 20; run++) await positionRun(baseSeed + run);
  });

  async function positionRun(seed: number): Promise<void> {
    const random = seededRandom(seed);
    const fs = new CrashFs();
    const log = await openLog(fs, { segmentMaxBytes: 60 });
    const promised = new Map<string, LogPosition>();
    const promises: Promise<void>[] = [];
    for (let round = 0; round < 40; round++) {
      for (let i = randomInt(random, 0, 4); i > 0; i--) {
        const name = `${round}-${i}`;
        promised.set(name, log.position);
        promises.push(log.append(1, text(name)));
      }
      if (random() < 0.2) log.seal();
      if (random() < 0.5) await nextTurn();
    }
    await Promise.all(promises);
    const landed = new Map<string, LogPosition>();
    for (const segment of segmentsIn(await fs.readdir(DIR))) {
      for (const record of decodeFrames(await fs.readFile(`${DIR}/${segmentFileName(segment)}`)).records) {
        landed.set(record.payload.toString().slice("record-".length), { segment, offset: record.offset });
      }
    }
    expect(landed, `seed ${seed}`).toEqual(promised);
    await log.close();
  }

  it("continues an existing log where readLog says it ends", async () => {
    const fs = new CrashFs();
    const first = await openLog(fs);
    await first.append(1, text(1));
    await first.close();
    const second = await openLog(fs);
    await second.append(2, text(2));
    await second.close();
    const { records } = await readLog(fs, DIR);
    expect(records.map((r) => [r.type, r.payload.toString()])).toEqual([
      [1, "record-1"],
      [2, "record-2"],
    ]);
  });

  it("refuses to open at a position the directory does not match", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs);
    await log.append(1, text(1));
    await log.close();
    await expect(SegmentLog.open({ fs, dir: DIR, end: { segment: 1, offset: 3 } })).rejects.toBeInstanceOf(UnavailableError);
    await fs.open(`${DIR}/${segmentFileName(2)}`, "createNew");
    await expect(SegmentLog.open({ fs, dir: DIR, end: { segment: 1, offset: 9 + text(1).length } })).rejects.toMatchObject({ code: "unavailable" });
  });
});

describe("SegmentLog: API edges", () => {
  it("rejects bad records without writing anything", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs, { maxPayloadBytes: 10 });
    await expect(log.append(0, text(1))).rejects.toBeInstanceOf(RangeError);
    await expect(log.append(256, text(1))).rejects.toBeInstanceOf(RangeError);
    await expect(log.append(1, Buffer.alloc(11))).rejects.toMatchObject({ code: "too_large" });
    expect(fs.calls.write).toBe(0);
    await log.close();
  });

  it("close() flushes, is idempotent, and later calls reject unavailable", async () => {
    const fs = new CrashFs();
    const log = await openLog(fs, { fsync: "never" });
    const pending = log.append(1, text(1));
    const closing = log.close();
    expect(log.close()).toBe(closing);
    await closing;
    await pending;
    expect(fs.calls.fdatasync).toBe(1);
    await expect(log.append(1, text(2))).rejects.toMatchObject({ code: "unavailable" });
    await expect(log.flush()).rejects.toMatchObject({ code: "unavailable" });
    expect(await payloadsOn(fs.crash())).toEqual(["record-1"]);
  });
});
