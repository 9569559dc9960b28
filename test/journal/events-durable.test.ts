/**
 * Queue events on the journal report changes the disk holds: an event is handed on only once
 * the record of its change is durable, so a write the disk refuses is never heard of — not the
 * refused ack's `completed`, nor the refused publish's `published` — while later changes are.
 */
import { afterEach, describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore, type QueueEvent } from "../../src/index.js";
import { nodeJournalFs } from "../../src/log/journal-fs.js";
import { FaultyFs } from "../helpers/faulty-fs.js";
import { pollUntil } from "../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

const dirs: string[] = [];
const open: Spool[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((spool) => spool.close()));
  await Promise.all(dirs.splice(0).map((dir) => removeTempDir(dir)));
});

async function setup() {
  const dir = await makeTempDir("spool-events-durable-");
  dirs.push(dir);
  const fs = new FaultyFs(nodeJournalFs);
  const store = journalStore({ dataDir: dir, fs, clock: new ManualClock(), fsync: "always" }) as JournalStore;
  const spool = await Spool.open({ store });
  open.push(spool);
  const events: QueueEvent[] = [];
  spool.on("*", (event) => void events.push(event));
  const queue = spool.queue<{ n: number }>("jobs", { leaseMs: 600_000 });
  return { fs, spool, queue, events };
}

describe("journal: queue events only for durable changes", () => {
  for (const [what, inject] of [
    ["a failed write (ENOSPC)", (fs: FaultyFs) => fs.failNext("write", "ENOSPC", { path: "seg-" })],
    ["a failed fdatasync (EIO)", (fs: FaultyFs) => fs.failNext("fdatasync", "EIO", { path: "seg-" })],
  ] as const) {
    it(`${what}: the refused publish and the refused ack make no event; the ones after do`, async () => {
      const { fs, queue, events } = await setup();
      const { id } = await queue.publish({ n: 1 });
      const [leased] = await queue.lease();
      await pollUntil(() => events.some((e) => e.type === "active"), { what: "the lease's event" });

      inject(fs);
      await expect(queue.ack(leased.id, leased.leaseToken)).rejects.toMatchObject({ code: "unavailable" });
      inject(fs);
      await expect(queue.publish({ n: 2 })).rejects.toMatchObject({ code: "unavailable" });

      await queue.ack(leased.id, leased.leaseToken); // the lease still holds
      const after = await queue.publish({ n: 3 });
      await pollUntil(() => events.some((e) => e.id === after.id), { what: "the later publish's event" });
      expect(events.map((e) => `${e.type}:${e.id === id ? "1" : e.id === after.id ? "3" : "?"}`)).toEqual(["published:1", "active:1", "completed:1", "published:3"]);
    });

    it(`${what} under a lease running out: the refused tick makes no event; after the rebuild its events come once`, async () => {
      const { fs, spool, queue, events } = await setup();
      const clock = (spool.store as JournalStore).clock as ManualClock;
      const { id } = await queue.publish({ n: 1 });
      await queue.lease({ leaseMs: 1_000 });
      await pollUntil(() => events.some((e) => e.type === "active"), { what: "the lease's event" });
      const rebuilds = fs.calls.readdir;
      inject(fs);
      clock.advance(1_000);
      await pollUntil(() => events.some((e) => e.type === "retry"), { what: "the lease's end heard after the rebuild" });
      await queue.publish({ n: 2 }); // later changes are heard too, and nothing of the refused tick comes late
      await pollUntil(() => events.filter((e) => e.type === "published").length === 2, { what: "the later publish heard" });
      expect(events.filter((e) => e.id === id).map((e) => e.type)).toEqual(["published", "active", "failed", "retry"]);
      expect(fs.calls.readdir, "the refused tick made the store rebuild from disk").toBeGreaterThan(rebuilds);
    });
  }
});
