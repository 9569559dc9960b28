import { spawnSync } from "node:child_process";
import fsSync from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnavailableError } from "../../../src/core/errors.js";
import { nodeJournalFs } from "../../../src/log/journal-fs.js";
import { acquireDirLock, isProcessAlive } from "../../../src/log/lock-file.js";
import { CrashFs } from "../../helpers/crash-fs.js";
import { FaultyFs } from "../../helpers/faulty-fs.js";
import { makeTempDir, removeTempDir } from "../../helpers/temp-dir.js";

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  expect(child.status).toBe(0);
  expect(isProcessAlive(child.pid!)).toBe(false);
  return child.pid!;
}

describe("data directory lock (R7)", () => {
  let dir: string;
  let lockFile: string;
  beforeEach(async () => {
    dir = await makeTempDir("spool-lock-");
    lockFile = path.join(dir, "LOCK");
  });
  afterEach(async () => removeTempDir(dir));

  it("holds the pid; a second open in this process fails; release frees it", async () => {
    const lock = await acquireDirLock(nodeJournalFs, dir);
    expect(fsSync.readFileSync(lockFile, "utf8")).toMatch(new RegExp(`^${process.pid} `));
    await expect(acquireDirLock(nodeJournalFs, dir)).rejects.toMatchObject({ code: "unavailable" });
    await lock.release();
    await lock.release(); // idempotent
    expect(fsSync.existsSync(lockFile)).toBe(false);
    const again = await acquireDirLock(nodeJournalFs, dir);
    await again.release();
    expect(fsSync.readdirSync(dir)).toEqual([]);
  });

  it("refuses a directory locked by a live process, naming it", async () => {
    const holder = process.ppid; // alive: it started this test process
    fsSync.writeFileSync(lockFile, `${holder} someone-else\n`);
    const error = await acquireDirLock(nodeJournalFs, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).message).toContain(String(holder));
    expect(fsSync.readFileSync(lockFile, "utf8")).toBe(`${holder} someone-else\n`);
  });

  it("takes over a stale lock left by a dead process (kill -9)", async () => {
    fsSync.writeFileSync(lockFile, `${deadPid()} gone\n`);
    const lock = await acquireDirLock(nodeJournalFs, dir);
    expect(fsSync.readFileSync(lockFile, "utf8")).toMatch(new RegExp(`^${process.pid} `));
    await lock.release();
  });

  it("takes over a lock with unreadable content, or with our own pid from a previous run (pid reuse)", async () => {
    fsSync.writeFileSync(lockFile, "garbage");
    await (await acquireDirLock(nodeJournalFs, dir)).release();
    fsSync.writeFileSync(lockFile, `${process.pid} previous-incarnation\n`);
    await (await acquireDirLock(nodeJournalFs, dir)).release();
  });

  it("release() never removes a lock someone else now holds", async () => {
    const lock = await acquireDirLock(nodeJournalFs, dir);
    fsSync.writeFileSync(lockFile, `${process.ppid} the-new-owner\n`);
    await lock.release();
    expect(fsSync.readFileSync(lockFile, "utf8")).toBe(`${process.ppid} the-new-owner\n`);
  });

  it("of two processes racing for a free or a stale directory, exactly one wins", async () => {
    for (const stale of [false, true, true, true]) {
      if (stale) fsSync.writeFileSync(lockFile, `${deadPid()} gone\n`);
      // Two "processes": separate fs instances with different live pids.
      const results = await Promise.allSettled([
        acquireDirLock(new FaultyFs(nodeJournalFs), dir, { pid: process.pid }),
        acquireDirLock(new FaultyFs(nodeJournalFs), dir, { pid: process.ppid }),
      ]);
      const winners = results.filter((r) => r.status === "fulfilled");
      expect(winners).toHaveLength(1);
      expect(results.find((r) => r.status === "rejected")).toMatchObject({ reason: { code: "unavailable" } });
      await (winners[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
      expect(fsSync.readdirSync(dir)).toEqual([]);
    }
  });

  it("cleans up temp files left by processes that died while locking", async () => {
    const dead = deadPid();
    fsSync.writeFileSync(path.join(dir, `LOCK.${dead}.abc.tmp`), "x");
    fsSync.writeFileSync(path.join(dir, `LOCK.stale.${dead}.abc`), "x");
    const lock = await acquireDirLock(nodeJournalFs, dir);
    expect(fsSync.readdirSync(dir)).toEqual(["LOCK"]);
    await lock.release();
  });
});

describe("data directory lock across a power loss", () => {
  it("survives the crash (made durable), and the restarted process takes it over", async () => {
    const fs = new CrashFs();
    await fs.mkdir("/data");
    await acquireDirLock(fs, "/data");
    const rebooted = fs.crash();
    expect((await rebooted.readFile("/data/LOCK")).toString()).toMatch(new RegExp(`^${process.pid} `));
    const lock = await acquireDirLock(rebooted, "/data");
    await lock.release();
    expect(await rebooted.crash().readdir("/data")).toEqual([]);
  });
});
