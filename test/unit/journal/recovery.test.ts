import { describe, expect, it } from "vitest";
import { JournalCorruptError } from "../../../src/log/errors.js";
import { segmentFileName, snapshotFileName } from "../../../src/log/layout.js";
import { encodeFrames, frameBytes } from "../../../src/log/record-codec.js";
import { readLog } from "../../../src/log/recovery.js";
import { writeSnapshot } from "../../../src/log/snapshot-file.js";
import { CrashFs } from "../../helpers/crash-fs.js";

const DIR = "/data";
const seg = (n: number) => `${DIR}/${segmentFileName(n)}`;

function frames(...names: string[]): Buffer {
  return encodeFrames(names.map((name) => ({ type: 1, payload: Buffer.from(name) })));
}

async function setup(segments: Buffer[]): Promise<CrashFs> {
  const fs = new CrashFs();
  await fs.mkdir(DIR);
  segments.forEach((bytes, i) => fs.disk.setFileBytes(seg(i + 1), bytes));
  return fs;
}

const names = (result: { records: { payload: Buffer }[] }) => result.records.map((r) => r.payload.toString());

async function corruptError(promise: Promise<unknown>): Promise<JournalCorruptError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(JournalCorruptError);
  return error as JournalCorruptError;
}

describe("readLog", () => {
  it("an empty or missing directory is an empty log starting at segment 1", async () => {
    const fs = await setup([]);
    expect(await readLog(fs, DIR)).toEqual({ snapshot: undefined, records: [], end: { segment: 1, offset: 0 }, warnings: [] });
    expect((await readLog(fs, "/nowhere")).end).toEqual({ segment: 1, offset: 0 });
  });

  it("reads every segment in order and ends at the last byte", async () => {
    const fs = await setup([frames("a", "b"), frames("c"), Buffer.alloc(0)]);
    const result = await readLog(fs, DIR);
    expect(names(result)).toEqual(["a", "b", "c"]);
    expect(result.end).toEqual({ segment: 3, offset: 0 });
    expect(result.warnings).toEqual([]);
  });

  it("truncates a torn tail of the last segment durably, with a warning naming file, offset and bytes (R5), once (R6)", async () => {
    const full = frames("a", "b", "c");
    const cut = full.subarray(0, full.length - 2);
    const fs = await setup([frames("x"), cut]);
    const result = await readLog(fs, DIR);
    expect(names(result)).toEqual(["x", "a", "b"]);
    const offset = 2 * frameBytes(1);
    expect(result.warnings).toEqual([
      expect.objectContaining({ kind: "torn-tail", file: seg(2), offset, bytesDropped: cut.length - offset, reason: "torn" }),
    ]);
    expect(result.end).toEqual({ segment: 2, offset });
    expect(fs.crash().disk.fileBytes(seg(2))!.length).toBe(offset);
    const again = await readLog(fs.crash(), DIR);
    expect(names(again)).toEqual(["x", "a", "b"]);
    expect(again.warnings).toEqual([]);
  });

  it("a bad CRC in the last frame is a tail too", async () => {
    const bytes = frames("a", "b");
    bytes[bytes.length - 1] ^= 0x40;
    const result = await readLog(await setup([bytes]), DIR);
    expect(names(result)).toEqual(["a"]);
    expect(result.warnings[0]).toMatchObject({ kind: "torn-tail", reason: "crc" });
  });

  it("refuses a bad frame followed by valid ones, touching nothing; repair cuts there and reports the loss", async () => {
    const bytes = frames("a", "b", "c", "d");
    bytes[frameBytes(1) + 9] ^= 0xff; // b's payload
    const fs = await setup([bytes]);
    const error = await corruptError(readLog(fs, DIR));
    expect(error).toMatchObject({ code: "unavailable", file: seg(1), offset: frameBytes(1) });
    expect(error.details).toEqual([{ path: seg(1), message: `offset ${frameBytes(1)}` }]);
    expect(fs.disk.fileBytes(seg(1))!.equals(bytes)).toBe(true);

    const repaired = await readLog(fs, DIR, { repair: true });
    expect(names(repaired)).toEqual(["a"]);
    expect(repaired.warnings).toEqual([
      expect.objectContaining({ kind: "repaired", file: seg(1), offset: frameBytes(1), recordsDropped: 2, bytesDropped: 3 * frameBytes(1), segmentsDropped: [] }),
    ]);
    const after = await readLog(fs.crash(), DIR);
    expect(names(after)).toEqual(["a"]);
    expect(after.warnings).toEqual([]);
  });

  it("refuses a bad frame in a segment that is not the last; repair drops the later segments", async () => {
    const first = frames("a", "b");
    const fs = await setup([first.subarray(0, first.length - 1), frames("c"), frames("d")]);
    await corruptError(readLog(fs, DIR));
    const repaired = await readLog(fs, DIR, { repair: true });
    expect(names(repaired)).toEqual(["a"]);
    expect(repaired.warnings[0]).toMatchObject({ kind: "repaired", recordsDropped: 2, segmentsDropped: [segmentFileName(2), segmentFileName(3)] });
    expect(await fs.crash().readdir(DIR)).toEqual([segmentFileName(1)]);
  });

  it("refuses a missing segment in the sequence; repair drops what follows the gap", async () => {
    const fs = await setup([frames("a"), frames("b"), frames("c")]);
    await fs.unlink(seg(2));
    const error = await corruptError(readLog(fs, DIR));
    expect(error.file).toBe(seg(2));
    const repaired = await readLog(fs, DIR, { repair: true });
    expect(names(repaired)).toEqual(["a"]);
    expect(repaired.end).toEqual({ segment: 1, offset: frameBytes(1) });
    expect(repaired.warnings[0]).toMatchObject({ kind: "repaired", file: seg(2), recordsDropped: 1, segmentsDropped: [segmentFileName(3)] });
  });

  it("replays only what follows the snapshot's position; older segments are ignored", async () => {
    const fs = await setup([frames("a", "b"), frames("c", "d")]);
    await writeSnapshot(fs, DIR, { segment: 2, offset: frameBytes(1) }, Buffer.from("state"));
    const result = await readLog(fs, DIR);
    expect(result.snapshot?.data.toString()).toBe("state");
    expect(names(result)).toEqual(["d"]);
    expect(result.end).toEqual({ segment: 2, offset: 2 * frameBytes(1) });
  });

  it("a snapshot at the start of a segment never written is a complete log", async () => {
    const fs = await setup([frames("a")]);
    await writeSnapshot(fs, DIR, { segment: 2, offset: 0 }, Buffer.from("state"));
    const result = await readLog(fs, DIR);
    expect(result.records).toEqual([]);
    expect(result.end).toEqual({ segment: 2, offset: 0 });
  });

  it("falls back to the previous snapshot when the newest is bad, replaying from there", async () => {
    const fs = await setup([frames("a"), frames("b"), frames("c")]);
    await writeSnapshot(fs, DIR, { segment: 2, offset: 0 }, Buffer.from("older"));
    const { file } = await writeSnapshot(fs, DIR, { segment: 3, offset: 0 }, Buffer.from("newest"));
    fs.disk.setFileBytes(file, Buffer.from("garbage"));
    const result = await readLog(fs, DIR);
    expect(result.snapshot?.data.toString()).toBe("older");
    expect(names(result)).toEqual(["b", "c"]);
    expect(result.warnings).toEqual([expect.objectContaining({ kind: "snapshot-invalid", file })]);
  });

  it("refuses when the only fallback needs segments that were deleted", async () => {
    const fs = await setup([frames("a"), frames("b"), frames("c")]);
    const { file } = await writeSnapshot(fs, DIR, { segment: 3, offset: 0 }, Buffer.from("only"));
    await fs.unlink(seg(1));
    await fs.unlink(seg(2));
    fs.disk.setFileBytes(file, Buffer.from("garbage"));
    const error = await corruptError(readLog(fs, DIR));
    expect(error.file).toBe(seg(1));
  });

  it("refuses a snapshot that covers more of a segment than the segment holds", async () => {
    const fs = await setup([frames("a")]);
    await writeSnapshot(fs, DIR, { segment: 1, offset: 1000 }, Buffer.from("state"));
    await corruptError(readLog(fs, DIR));
    await corruptError(readLog(fs, DIR, { repair: true }));
  });

  it("removes a snapshot temp file left by a crash", async () => {
    const fs = await setup([frames("a")]);
    const temp = `${DIR}/${snapshotFileName({ segment: 2, offset: 0 })}.tmp`;
    fs.disk.setFileBytes(temp, Buffer.from("half"));
    const result = await readLog(fs, DIR);
    expect(result.warnings).toEqual([expect.objectContaining({ kind: "temp-file-removed", file: temp })]);
    expect(await fs.exists(temp)).toBe(false);
  });

  it("surfaces a read error as unavailable instead of guessing", async () => {
    const fs = await setup([frames("a")]);
    fs.failNext("readFile", "EIO");
    await expect(readLog(fs, DIR)).rejects.toMatchObject({ code: "unavailable", cause: { code: "EIO" } });
  });

  it("a repair cut short by a power loss, run again, ends with the same log (R6)", async () => {
    for (let n = 1; n <= 12; n++) {
      const middle = frames("c", "d", "e");
      middle[frameBytes(1) + 9] ^= 0xff;
      const fs = await setup([frames("a", "b"), middle, frames("f"), frames("g")]);
      const next = fs.crashAtOp(n);
      await readLog(fs, DIR, { repair: true }).catch(() => undefined);
      const after = fs.beforeOp ? fs.crash() : await next;
      const result = await readLog(after, DIR, { repair: true });
      expect(names(result), `power lost at op ${n}`).toEqual(["a", "b", "c"]);
      expect((await after.readdir(DIR)).sort()).toEqual([segmentFileName(1), segmentFileName(2)]);
    }
  });
});
