/**
 * Read after a refused write: a caller told `unavailable` must not read its refused change back.
 *
 * Found by the black-box test test/faults/write-faults.test.ts: `spool serve` answered an ack
 * 503, and a `GET /v1/messages/:id` sent right after showed the message `completed`; a refused
 * publish showed in the queue's stats. The store did rebuild itself from the disk after the
 * refusal, but in the background: the rejection reached the caller first. Now a durable write
 * rejects only once the rebuild has run, so what the caller reads next is what the disk has.
 */
import { afterEach, describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore } from "../../src/index.js";
import { nodeJournalFs } from "../../src/log/journal-fs.js";
import { FaultyFs } from "../helpers/faulty-fs.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

const dirs: string[] = [];
const open: Spool[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((spool) => spool.close()));
  await Promise.all(dirs.splice(0).map((dir) => removeTempDir(dir)));
});

async function setup() {
  const dir = await makeTempDir("spool-refused-read-");
  dirs.push(dir);
  const fs = new FaultyFs(nodeJournalFs);
  const store = journalStore({ dataDir: dir, fs, clock: new ManualClock(), fsync: "always" }) as JournalStore;
  const spool = await Spool.open({ store });
  open.push(spool);
  const queue = spool.queue<{ n: number }>("jobs", { leaseMs: 600_000 });
  await queue.publish({ n: 1 });
  const [leased] = await queue.lease();
  await queue.setOptions({ maxAttempts: 3 }); // a durable write: the lease is on disk now
  return { fs, spool, queue, leased };
}

describe("a write the disk refused is not visible to the caller it was refused to", () => {
  for (const [what, inject] of [
    ["a failed write (ENOSPC)", (fs: FaultyFs) => fs.failNext("write", "ENOSPC", { path: "seg-" })],
    ["a failed fdatasync (EIO)", (fs: FaultyFs) => fs.failNext("fdatasync", "EIO", { path: "seg-" })],
  ] as const) {
    it(`${what}: an ack rejected unavailable leaves the message leased, at once`, async () => {
      const { fs, spool, queue, leased } = await setup();
      inject(fs);
      await expect(queue.ack(leased.id, leased.leaseToken)).rejects.toMatchObject({ code: "unavailable" });
      expect((await spool.status(leased.id))?.state).toBe("leased");
      expect(await queue.stats()).toMatchObject({ leased: 1, ready: 0, totals: { completed: 0 } });
      await queue.ack(leased.id, leased.leaseToken); // and the lease still holds
      expect((await spool.status(leased.id))?.state).toBe("completed");
    });

    it(`${what}: a publish rejected unavailable is not counted, at once`, async () => {
      const { fs, queue } = await setup();
      inject(fs);
      await expect(queue.publishMany([{ body: { n: 2 } }, { body: { n: 3 } }])).rejects.toMatchObject({ code: "unavailable" });
      expect(await queue.stats()).toMatchObject({ ready: 0, leased: 1, totals: { published: 1 } });
    });
  }
});
