/**
 * A queue handle whose declaration was refused (the disk failed for a moment) recovers with its
 * store: the call that waited on the refused declaration fails `unavailable`, the next call
 * declares again and goes through, with the options the handle was given. A refused
 * `setOptions` is not applied later behind the caller's back.
 */
import { describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore } from "../../src/index.js";
import { CrashFs } from "../helpers/crash-fs.js";

function openOn(fs: CrashFs) {
  const store = journalStore({ dataDir: "/data/spool", fs, clock: new ManualClock(Date.UTC(2031, 0, 1)), onWarning: () => undefined }) as JournalStore;
  return Spool.open({ store });
}

describe("a queue handle after a refused declaration", () => {
  it("declares again on the next call, with the options it was given", async () => {
    const fs = new CrashFs();
    const spool = await openOn(fs);
    const restore = fs.failAlways("fdatasync", "EIO");
    const queue = spool.queue<string>("jobs", { maxAttempts: 7 });
    await expect(queue.publish("refused")).rejects.toMatchObject({ code: "unavailable" });
    restore();
    const { id } = await queue.publish("accepted");
    expect((await spool.status(id))?.state).toBe("ready");
    expect((await queue.info()).options.maxAttempts).toBe(7);
    await spool.close();
  });

  it("a handle without options declares plainly once the disk works again", async () => {
    const fs = new CrashFs();
    const spool = await openOn(fs);
    const restore = fs.failAlways("fdatasync", "EIO");
    const queue = spool.queue<string>("plain");
    await expect(queue.publish("refused")).rejects.toMatchObject({ code: "unavailable" });
    restore();
    await expect(queue.publish("accepted")).resolves.toMatchObject({ id: expect.any(String) });
    await spool.close();
  });

  it("a refused setOptions is not applied by a later call", async () => {
    const fs = new CrashFs();
    const spool = await openOn(fs);
    const queue = spool.queue<string>("jobs", { maxAttempts: 3 });
    await queue.info();
    const restore = fs.failAlways("fdatasync", "EIO");
    await expect(queue.setOptions({ maxAttempts: 9 })).rejects.toMatchObject({ code: "unavailable" });
    restore();
    await queue.publish("after");
    expect((await queue.info()).options.maxAttempts).toBe(3);
    await spool.close();
  });
});
