/**
 * Schedules in the journal: what the log and the snapshots keep. A power cut right after firings
 * (replayed from the log's records), a clean close (from the final snapshot), a snapshot in the
 * middle and records after it: each reopen has the same schedules, the same messages, and fires
 * on from where the last durable firing left off — never a slot twice, and the slots missed while
 * down once (catchUp "one") or not at all ("none").
 */
import { describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, type LeasedMessage } from "../../src/index.js";
import { CrashFs } from "../helpers/crash-fs.js";
import { pollUntil } from "../helpers/poll-until.js";

const DIR = "/data/spool";
const T0 = Date.UTC(2031, 0, 1);

async function open(fs: CrashFs, clock: ManualClock): Promise<Spool> {
  return Spool.open({ store: journalStore({ dataDir: DIR, fs, clock, onWarning: () => undefined }) });
}

async function slots(spool: Spool, queue: string): Promise<number[]> {
  const out: LeasedMessage[] = [];
  for (;;) {
    const batch = await spool.queue(queue).lease({ max: 1000 });
    if (batch.length === 0) break;
    out.push(...batch);
  }
  return out.map((m) => Date.parse(m.headers["spool-schedule-slot"]));
}

let barriers = 0;

/**
 * Waits until `queue` has `n` messages published and the firing that published them is durable:
 * a later durable write is (the log writes in order), so one is made and awaited.
 */
async function publishedIs(spool: Spool, queue: string, n: number): Promise<void> {
  await pollUntil(async () => (await spool.queueInfo(queue)) !== undefined && (await spool.queueStats(queue)).totals.published === n, { what: `${n} published` });
  await spool.store.ensureQueue(`barrier-${++barriers}`);
}

describe("schedules in the journal", () => {
  it("a power cut after firings: the reopened store has every durable firing, and catches up once", async () => {
    const fs = new CrashFs();
    const clock = new ManualClock(T0);
    let spool = await open(fs, clock);
    await spool.schedule("one", { everyMs: 1000, queue: "a", body: 1 });
    await spool.schedule("none", { everyMs: 4000, queue: "b", body: 2, catchUp: "none" });
    for (let n = 1; n <= 3; n++) {
      clock.advance(1000);
      await publishedIs(spool, "a", n);
    }
    await spool.store.snapshot!(); // the schedules' records in a snapshot…
    clock.advance(1000); // …and one more firing only in the log after it
    await publishedIs(spool, "a", 4);
    await publishedIs(spool, "b", 1);

    const rebooted = fs.crash({});
    await spool.close().catch(() => undefined); // the dead process's timers must not fire on
    clock.advance(5_500); // down over five slots of "one", and "none"'s slot at 8 s (1.5 s late at the start)
    spool = await open(rebooted, clock);
    await publishedIs(spool, "a", 5); // "one": a single message for the missed stretch
    expect(await spool.getSchedule("one")).toMatchObject({ fired: 5, lastSlotAt: T0 + 9000, nextRunAt: T0 + 10_000 });
    expect(await spool.getSchedule("none")).toMatchObject({ fired: 1, skipped: 1, lastSlotAt: T0 + 4000, nextRunAt: T0 + 12_000 });
    expect(await slots(spool, "a")).toEqual([T0 + 1000, T0 + 2000, T0 + 3000, T0 + 4000, T0 + 9000]);
    expect(await slots(spool, "b")).toEqual([T0 + 4000]);
    await spool.close();
  });

  it("a clean close and reopen keeps paused schedules paused and fires nothing twice", async () => {
    const fs = new CrashFs();
    const clock = new ManualClock(T0);
    let spool = await open(fs, clock);
    await spool.schedule("run", { cron: "*/2 * * * * *", queue: "c", body: "x" });
    await spool.schedule("held", { everyMs: 500, queue: "d", body: "y" });
    await spool.pauseSchedule("held");
    clock.advance(2000);
    await publishedIs(spool, "c", 1);
    await spool.close();
    spool = await open(fs, clock); // the same instant: nothing is due again
    await spool.fireDueSchedules();
    expect((await spool.queueStats("c")).totals.published).toBe(1);
    expect(await spool.getSchedule("held")).toMatchObject({ paused: true, fired: 0 });
    expect((await spool.schedules()).map((s) => s.name)).toEqual(["held", "run"]);
    expect(await spool.removeSchedule("run")).toBe(true);
    await spool.close();
    spool = await open(fs, clock);
    expect((await spool.schedules()).map((s) => s.name)).toEqual(["held"]);
    await spool.close();
  });
});
