import { describe, expect, it } from "vitest";
import { segmentFileName, snapshotFileName } from "../../../src/log/layout.js";
import {
  decodeSnapshot,
  deleteCoveredSegments,
  pruneSnapshots,
  readNewestSnapshot,
  writeSnapshot,
} from "../../../src/log/snapshot-file.js";
import { CrashFs } from "../../helpers/crash-fs.js";

const DIR = "/data";

async function setup(): Promise<CrashFs> {
  const fs = new CrashFs();
  await fs.mkdir(DIR);
  return fs;
}

describe("snapshot files", () => {
  it("round-trip: data and covered position come back from the newest snapshot", async () => {
    const fs = await setup();
    await writeSnapshot(fs, DIR, { segment: 1, offset: 10 }, Buffer.from("old"));
    const written = await writeSnapshot(fs, DIR, { segment: 3, offset: 0 }, Buffer.from("new state"));
    expect(written).toEqual({ file: `${DIR}/${snapshotFileName({ segment: 3, offset: 0 })}`, position: { segment: 3, offset: 0 } });
    const { snapshot, invalid } = await readNewestSnapshot(fs, DIR);
    expect(invalid).toEqual([]);
    expect(snapshot?.position).toEqual({ segment: 3, offset: 0 });
    expect(snapshot?.data.toString()).toBe("new state");
    expect(await readNewestSnapshot(await setup(), DIR)).toEqual({ snapshot: undefined, invalid: [] });
  });

  it("writes data given in chunks as one snapshot, with one CRC over all of them", async () => {
    const fs = await setup();
    const chunks = [Buffer.from("first,"), Buffer.alloc(0), Buffer.from("second,"), Buffer.alloc(5000, 7)];
    await writeSnapshot(fs, DIR, { segment: 2, offset: 0 }, chunks);
    const { snapshot, invalid } = await readNewestSnapshot(fs, DIR);
    expect(invalid).toEqual([]);
    expect(snapshot?.data.equals(Buffer.concat(chunks))).toBe(true);
    // The same bytes in one piece make the same file.
    const whole = await setup();
    await writeSnapshot(whole, DIR, { segment: 2, offset: 0 }, Buffer.concat(chunks));
    const file = `${DIR}/${snapshotFileName({ segment: 2, offset: 0 })}`;
    expect((await fs.readFile(file)).equals(await whole.readFile(file))).toBe(true);
  });

  it("is written temp → write → fdatasync → rename → directory fsync (R4)", async () => {
    const fs = await setup();
    const trace: string[] = [];
    fs.beforeOp = (op) => trace.push(op);
    await writeSnapshot(fs, DIR, { segment: 2, offset: 0 }, Buffer.from("state"));
    expect(trace.filter((op) => op !== "unlink")).toEqual(["open", "write", "write", "fdatasync", "close", "rename", "fsyncDir"]);
  });

  it("a power cut at any point of a write leaves either the new snapshot, whole, or the previous one", async () => {
    for (let n = 1; n <= 9; n++) {
      const fs = await setup();
      await writeSnapshot(fs, DIR, { segment: 1, offset: 5 }, Buffer.from("previous"));
      const next = fs.crashAtOp(n, { tornPrefix: () => 0.5 });
      await writeSnapshot(fs, DIR, { segment: 2, offset: 0 }, Buffer.from("newer state")).catch(() => undefined);
      const after = fs.beforeOp ? fs.crash({ tornPrefix: () => 0.5 }) : await next;
      const { snapshot } = await readNewestSnapshot(after, DIR);
      expect([`previous`, `newer state`], `crash at op ${n}`).toContain(snapshot?.data.toString());
    }
  });

  it("falls back to an older snapshot when the newest is damaged, and names the bad one", async () => {
    const fs = await setup();
    await writeSnapshot(fs, DIR, { segment: 1, offset: 7 }, Buffer.from("older"));
    const { file } = await writeSnapshot(fs, DIR, { segment: 4, offset: 0 }, Buffer.from("newest"));
    const bytes = Buffer.from(fs.disk.fileBytes(file)!);
    bytes[bytes.length - 1] ^= 0x01;
    fs.disk.setFileBytes(file, bytes);
    const { snapshot, invalid } = await readNewestSnapshot(fs, DIR);
    expect(snapshot?.data.toString()).toBe("older");
    expect(invalid).toEqual([{ file, reason: "crc mismatch" }]);
  });

  it("rejects truncated, foreign and misnamed snapshot files", async () => {
    const fs = await setup();
    const { file } = await writeSnapshot(fs, DIR, { segment: 2, offset: 0 }, Buffer.from("state"));
    const bytes = fs.disk.fileBytes(file)!;
    expect(decodeSnapshot(bytes.subarray(0, bytes.length - 1))).toMatch(/size/);
    expect(decodeSnapshot(Buffer.from("not a snapshot at all, but long enough to have a header"))).toMatch(/magic/);
    fs.disk.setFileBytes(`${DIR}/${snapshotFileName({ segment: 9, offset: 0 })}`, bytes);
    const { snapshot, invalid } = await readNewestSnapshot(fs, DIR);
    expect(snapshot?.position).toEqual({ segment: 2, offset: 0 });
    expect(invalid).toHaveLength(1);
  });

  it("a failed write rejects unavailable and leaves no temp file", async () => {
    const fs = await setup();
    fs.failNext("fdatasync", "EIO");
    await expect(writeSnapshot(fs, DIR, { segment: 2, offset: 0 }, Buffer.from("state"))).rejects.toMatchObject({ code: "unavailable" });
    fs.shortWriteNext(3);
    await expect(writeSnapshot(fs, DIR, { segment: 2, offset: 0 }, Buffer.from("state"))).rejects.toMatchObject({ code: "unavailable" });
    expect(await fs.readdir(DIR)).toEqual([]);
  });

  it("keeps the newest two snapshots and deletes only the segments the older one does not need", async () => {
    const fs = await setup();
    for (let segment = 1; segment <= 5; segment++) fs.disk.setFileBytes(`${DIR}/${segmentFileName(segment)}`, Buffer.alloc(0));
    await writeSnapshot(fs, DIR, { segment: 2, offset: 0 }, Buffer.from("a"));
    expect(await pruneSnapshots(fs, DIR)).toBeUndefined(); // one snapshot: no fallback yet, delete nothing
    await writeSnapshot(fs, DIR, { segment: 3, offset: 4 }, Buffer.from("b"));
    await writeSnapshot(fs, DIR, { segment: 5, offset: 0 }, Buffer.from("c"));
    const keepFrom = await pruneSnapshots(fs, DIR);
    expect(keepFrom).toEqual({ segment: 3, offset: 4 });
    expect(await deleteCoveredSegments(fs, DIR, keepFrom!)).toEqual([segmentFileName(1), segmentFileName(2)]);
    const after = fs.crash(); // both the prune and the delete were made durable
    expect((await after.readdir(DIR)).sort()).toEqual([
      segmentFileName(3),
      segmentFileName(4),
      segmentFileName(5),
      snapshotFileName({ segment: 3, offset: 4 }),
      snapshotFileName({ segment: 5, offset: 0 }),
    ]);
    await expect(pruneSnapshots(fs, DIR, 0)).rejects.toBeInstanceOf(RangeError);
  });
});
