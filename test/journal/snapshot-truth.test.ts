/**
 * A snapshot never says ok falsely, and a crash loop cannot grow the log without end:
 *
 *  - asked for while writes are failing, `snapshot()` rejects `unavailable` (and HTTP answers 503)
 *    instead of resolving with nothing written;
 *  - the operations a start replays count toward the next snapshot, so a process that never
 *    lives long enough to take one still leaves a short log to the next start.
 */
import { describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore } from "../../src/index.js";
import { readLog } from "../../src/log/recovery.js";
import { CrashFs } from "../helpers/crash-fs.js";
import { startTestServer } from "../helpers/http-server.js";
import { pollUntil } from "../helpers/poll-until.js";

const DIR = "/data/spool";

function open(fs: CrashFs, snapshotEveryOps = 1_000_000) {
  return journalStore({ dataDir: DIR, fs, clock: new ManualClock(Date.UTC(2031, 0, 1)), snapshotEveryOps, snapshotEveryMs: 1_000_000_000, onWarning: () => undefined, onFault: () => undefined }) as JournalStore;
}


describe("snapshots tell the truth", () => {
  it("while writes are failing, a snapshot rejects unavailable and writes no snapshot file", async () => {
    const fs = new CrashFs();
    const store = open(fs);
    const spool = await Spool.open({ store });
    await spool.queue("jobs").publish({ n: 1 });
    const restore = fs.failAlways("fdatasync", "EIO");
    await expect(spool.queue("jobs").publish({ n: 2 })).rejects.toMatchObject({ code: "unavailable" });
    expect(store.writeFault).toBeDefined();
    const before = (await fs.readdir(DIR)).filter((name) => name.endsWith(".snap")).length;
    await expect(store.snapshot()).rejects.toMatchObject({ code: "unavailable" });
    expect((await fs.readdir(DIR)).filter((name) => name.endsWith(".snap")).length).toBe(before);
    restore();
    // Once the disk works again, the next write recovers, and a snapshot goes through.
    await spool.queue("jobs").publish({ n: 3 });
    await store.snapshot();
    expect((await fs.readdir(DIR)).filter((name) => name.endsWith(".snap")).length).toBeGreaterThan(before);
    await spool.close();
  });

  it("POST /v1/admin/snapshot answers 503 unavailable while writes are failing", async () => {
    const fs = new CrashFs();
    const server = await startTestServer({ store: open(fs) });
    try {
      expect((await server.call("POST", "/v1/queues/jobs/messages", { body: 1 })).status).toBe(201);
      const restore = fs.failAlways("fdatasync", "EIO");
      expect((await server.call("POST", "/v1/queues/jobs/messages", { body: 2 })).status).toBe(503);
      const answer = await server.call("POST", "/v1/admin/snapshot");
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe("unavailable");
      restore();
      expect((await server.call("POST", "/v1/queues/jobs/messages", { body: 3 })).status).toBe(201);
      expect((await server.call("POST", "/v1/admin/snapshot")).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe("a crash loop", () => {
  it("takes a snapshot once the replayed operations reach the threshold, so the next start replays few", async () => {
    let fs = new CrashFs();
    const threshold = 50;
    const replayedAtStart: number[] = [];
    for (let start = 0; start < 6; start++) {
      replayedAtStart.push((await readLog(fs, DIR)).records.length);
      const store = open(fs, threshold);
      const spool = await Spool.open({ store });
      // Each life does 30 operations and dies before reaching the threshold on its own.
      for (let i = 0; i < 30; i++) await spool.queue("jobs").publish({ start, i });
      await pollUntil(async () => (await readLog(fs, DIR)).records.length < threshold + 30, { what: "the log to stay short" });
      fs = fs.crash();
    }
    // Without the replayed operations counted, the log would hold 30 more records at each start.
    expect(Math.max(...replayedAtStart), replayedAtStart.join(",")).toBeLessThan(threshold + 30);
  });
});
