import fsSync from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nodeJournalFs, writeAll } from "../../../src/log/journal-fs.js";
import { FaultyFs } from "../../helpers/faulty-fs.js";
import { makeTempDir, removeTempDir } from "../../helpers/temp-dir.js";

describe("nodeJournalFs (real disk)", () => {
  let dir: string;
  beforeEach(async () => void (dir = await makeTempDir("spool-journal-fs-")));
  afterEach(async () => removeTempDir(dir));

  it("opens in the three modes with Node's error codes", async () => {
    const file = path.join(dir, "a");
    await expect(nodeJournalFs.open(file, "read")).rejects.toMatchObject({ code: "ENOENT" });
    const created = await nodeJournalFs.open(file, "createNew");
    await created.close();
    await expect(nodeJournalFs.open(file, "createNew")).rejects.toMatchObject({ code: "EEXIST" });
    const again = await nodeJournalFs.open(file, "readWrite");
    await again.close();
  });

  it("writes at positions, reads, syncs, truncates and reports size", async () => {
    const handle = await nodeJournalFs.open(path.join(dir, "a"), "readWrite");
    expect(await handle.write(Buffer.from("hello world"), 0, 11, 0)).toBe(11);
    expect(await handle.write(Buffer.from("W"), 0, 1, 6)).toBe(1);
    await handle.datasync();
    expect(await handle.size()).toBe(11);
    const buffer = Buffer.alloc(5);
    expect(await handle.read(buffer, 0, 5, 6)).toBe(5);
    expect(buffer.toString()).toBe("World");
    await handle.truncate(5);
    expect(await handle.size()).toBe(5);
    await handle.close();
    expect((await nodeJournalFs.readFile(path.join(dir, "a"))).toString()).toBe("hello");
  });

  it("renames, links, unlinks, lists, makes and syncs directories, stats", async () => {
    const a = path.join(dir, "a");
    fsSync.writeFileSync(a, "x");
    await nodeJournalFs.link(a, path.join(dir, "b"));
    await expect(nodeJournalFs.link(a, path.join(dir, "b"))).rejects.toMatchObject({ code: "EEXIST" });
    await nodeJournalFs.rename(a, path.join(dir, "c"));
    await nodeJournalFs.mkdir(path.join(dir, "sub", "deeper"));
    await nodeJournalFs.mkdir(path.join(dir, "sub"));
    await nodeJournalFs.fsyncDir(dir);
    expect((await nodeJournalFs.readdir(dir)).sort()).toEqual(["b", "c", "sub"]);
    await nodeJournalFs.unlink(path.join(dir, "b"));
    expect(await nodeJournalFs.stat(path.join(dir, "c"))).toEqual({ size: 1 });
    expect(await nodeJournalFs.stat(path.join(dir, "b"))).toBeUndefined();
    expect(await nodeJournalFs.exists(path.join(dir, "c"))).toBe(true);
  });

  it("writeAll treats a short write as an error (ESHORTWRITE)", async () => {
    const fs = new FaultyFs(nodeJournalFs);
    const handle = await fs.open(path.join(dir, "a"), "readWrite");
    fs.shortWriteNext(3);
    await expect(writeAll(handle, Buffer.from("0123456789"), 0)).rejects.toMatchObject({ code: "ESHORTWRITE" });
    await handle.close();
  });

  it.runIf(fsSync.existsSync("/dev/full"))("surfaces a real ENOSPC (/dev/full)", async () => {
    const handle = await nodeJournalFs.open("/dev/full", "readWrite");
    try {
      await expect(handle.write(Buffer.alloc(10), 0, 10, 0)).rejects.toMatchObject({ code: "ENOSPC" });
    } finally {
      await handle.close();
    }
  });
});
