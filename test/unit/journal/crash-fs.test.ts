import { describe, expect, it } from "vitest";
import { CrashFs } from "../../helpers/crash-fs.js";
import { seededRandom } from "../../helpers/seeded-random.js";

const DIR = "/data";

async function setup(): Promise<CrashFs> {
  const fs = new CrashFs();
  await fs.mkdir(DIR);
  return fs;
}

async function writeFile(fs: CrashFs, name: string, text: string, { sync = false, syncDir = false } = {}) {
  const file = await fs.open(`${DIR}/${name}`, "readWrite");
  const size = await file.size();
  await file.write(Buffer.from(text), 0, text.length, size);
  if (sync) await file.datasync();
  if (syncDir) await fs.fsyncDir(DIR);
  return file;
}

describe("CrashFs, the power-loss double", () => {
  it("keeps fdatasynced bytes and loses the rest", async () => {
    const fs = await setup();
    const file = await writeFile(fs, "a", "durable", { sync: true, syncDir: true });
    await file.write(Buffer.from("-lost"), 0, 5, 7);
    expect((await fs.readFile(`${DIR}/a`)).toString()).toBe("durable-lost");
    const after = fs.crash();
    expect((await after.readFile(`${DIR}/a`)).toString()).toBe("durable");
  });

  it("forgets a created file until its directory is fsynced", async () => {
    const fs = await setup();
    await writeFile(fs, "a", "x", { sync: true });
    expect(await fs.crash().exists(`${DIR}/a`)).toBe(false);

    const fs2 = await setup();
    await writeFile(fs2, "b", "data-not-synced", { syncDir: true });
    const after = fs2.crash();
    expect((await after.readFile(`${DIR}/b`)).length).toBe(0);
  });

  it("undoes renames and unlinks that no directory fsync covered", async () => {
    const fs = await setup();
    await writeFile(fs, "old", "content", { sync: true });
    await writeFile(fs, "gone", "x", { sync: true, syncDir: true });
    await fs.rename(`${DIR}/old`, `${DIR}/new`);
    await fs.unlink(`${DIR}/gone`);
    const after = fs.crash();
    expect((await after.readdir(DIR)).sort()).toEqual(["gone", "old"]);
    expect((await after.readFile(`${DIR}/old`)).toString()).toBe("content");
  });

  it("can keep a torn prefix of unsynced appended bytes, possibly ending in zeros", async () => {
    const random = seededRandom(42);
    for (let run = 0; run < 50; run++) {
      const fs = await setup();
      const file = await writeFile(fs, "a", "synced|", { sync: true, syncDir: true });
      await file.write(Buffer.from("appended-bytes"), 0, 14, 7);
      const after = fs.crash({ tornPrefix: random, zeroFill: true });
      const bytes = await after.readFile(`${DIR}/a`);
      expect(bytes.subarray(0, 7).toString()).toBe("synced|");
      const torn = bytes.subarray(7);
      const expected = Buffer.from("appended-bytes").subarray(0, torn.length);
      for (let i = 0; i < torn.length; i++) {
        if (torn[i] !== expected[i]) expect(torn.subarray(i).every((b) => b === 0)).toBe(true);
      }
    }
  });

  it("a crashed process can do nothing more", async () => {
    const fs = await setup();
    const file = await writeFile(fs, "a", "x", { sync: true, syncDir: true });
    fs.crash();
    await expect(file.write(Buffer.from("y"), 0, 1, 1)).rejects.toMatchObject({ code: "EIO" });
    await expect(fs.readdir(DIR)).rejects.toMatchObject({ code: "EIO" });
  });

  it("a full disk gives a short write first, then ENOSPC", async () => {
    const fs = await setup();
    fs.disk.capacityBytes = 10;
    const file = await fs.open(`${DIR}/a`, "readWrite");
    expect(await file.write(Buffer.alloc(6), 0, 6, 0)).toBe(6);
    expect(await file.write(Buffer.alloc(6), 0, 6, 6)).toBe(4);
    await expect(file.write(Buffer.alloc(6), 0, 6, 10)).rejects.toMatchObject({ code: "ENOSPC" });
  });

  it("injects errors, short writes and held calls, and counts calls", async () => {
    const fs = await setup();
    const file = await fs.open(`${DIR}/a`, "readWrite");
    fs.failNext("fdatasync", "EIO");
    await expect(file.datasync()).rejects.toMatchObject({ code: "EIO" });
    await file.datasync();

    const clear = fs.failAlways("write", "ENOSPC", { path: "/b" });
    expect(await file.write(Buffer.alloc(3), 0, 3, 0)).toBe(3);
    const other = await fs.open(`${DIR}/b`, "readWrite");
    await expect(other.write(Buffer.alloc(3), 0, 3, 0)).rejects.toMatchObject({ code: "ENOSPC" });
    clear();
    expect(await other.write(Buffer.alloc(3), 0, 3, 0)).toBe(3);

    fs.shortWriteNext(2);
    expect(await file.write(Buffer.alloc(5), 0, 5, 0)).toBe(2);

    const gate = fs.hold("fdatasync");
    let synced = false;
    const pending = file.datasync().then(() => (synced = true));
    await gate.reached;
    expect(synced).toBe(false);
    gate.release();
    await pending;
    expect(synced).toBe(true);
    expect(fs.calls.fdatasync).toBe(3);
  });

  it("crashAtOp cuts the power just before the n-th call", async () => {
    const fs = await setup();
    const file = await writeFile(fs, "a", "one", { sync: true, syncDir: true });
    const next = fs.crashAtOp(2);
    await file.write(Buffer.from("two"), 0, 3, 3);
    await expect(file.datasync()).rejects.toMatchObject({ code: "EIO" });
    const after = await next;
    expect((await after.readFile(`${DIR}/a`)).toString()).toBe("one");
  });
});
