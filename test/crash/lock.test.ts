/**
 * One writer per data directory (RELIABILITY.md R7): a lock that survives kill -9, knows a dead
 * owner from a live one, and is released only by the handle that took it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Spool } from "../../src/index.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { spawnHost, type HostHandle } from "./spawn-host.js";

const dirs: string[] = [];
const spools: Spool[] = [];
const children: HostHandle[] = [];
afterEach(async () => {
  for (const host of children.splice(0)) {
    if (host.child.exitCode === null && host.child.signalCode === null) host.child.kill("SIGKILL");
    await host.ended;
  }
  await Promise.allSettled(spools.splice(0).map((spool) => spool.close()));
  await Promise.all(dirs.splice(0).map((dir) => removeTempDir(dir)));
});

async function tempDir(): Promise<string> {
  const dir = await makeTempDir("spool-lock-");
  dirs.push(dir);
  return dir;
}

async function openSpool(dataDir: string): Promise<Spool> {
  const spool = await Spool.open({ dataDir, journal: { fsync: "always" } });
  spools.push(spool);
  return spool;
}

function refusal(dataDir: string, detail?: string) {
  return expect.objectContaining({ code: "unavailable", message: expect.stringContaining(detail === undefined ? dataDir : `${dataDir} is in use by process ${detail}`) });
}

describe("data directory lock (R7)", () => {
  it("a second open in the same process is refused naming the directory, and does not free the first one's lock", async () => {
    const dataDir = await tempDir();
    const first = await openSpool(dataDir);
    await expect(Spool.open({ dataDir })).rejects.toEqual(refusal(dataDir));
    // The refused open released nothing: the first keeps writing, a third open is refused too.
    await first.publish("jobs", { n: 1 });
    await expect(Spool.open({ dataDir })).rejects.toEqual(refusal(dataDir));
    // Closing an unrelated store (another directory) does not free it either.
    const other = await openSpool(await tempDir());
    await other.close();
    await expect(Spool.open({ dataDir })).rejects.toEqual(refusal(dataDir));
    await first.close();
    const again = await openSpool(dataDir);
    expect((await again.queue("jobs").stats()).ready).toBe(1);
  });

  it("a directory held by a live child process cannot be opened; once the child is SIGKILLed the stale lock is taken over", async () => {
    const dataDir = await tempDir();
    const host = spawnHost(["hold", dataDir]);
    children.push(host);
    await host.waitFor((m) => m.t === "ready", "the child opened the directory");

    await expect(Spool.open({ dataDir })).rejects.toEqual(refusal(dataDir, String(host.pid)));
    await expect(Spool.open({ dataDir }), "still held on a second try").rejects.toEqual(refusal(dataDir, String(host.pid)));

    host.child.kill("SIGKILL");
    expect((await host.ended).signal).toBe("SIGKILL");
    // The LOCK file is still there, naming a dead process: the parent takes it over.
    const spool = await openSpool(dataDir);
    await spool.publish("jobs", { after: "takeover" });
    expect((await spool.queue("jobs").stats()).ready).toBe(1);
  });

  it("a child process cannot open a directory this process holds", async () => {
    const dataDir = await tempDir();
    await openSpool(dataDir);
    const host = spawnHost(["hold", dataDir]);
    children.push(host);
    const message = await host.waitFor((m) => m.t === "error" || m.t === "ready", "the child's open to finish");
    expect(message.t).toBe("error");
    expect(message.t === "error" && message.message).toContain(`${dataDir} is in use by process ${process.pid}`);
    expect((await host.ended).code).toBe(1);
  });
});
