/**
 * A journal-backed library host with one everyMs schedule, for schedule-crash.test.ts. Run as a
 * child process with IPC; the parent SIGKILLs it and starts it again on the same directory.
 *
 *   argv: <dataDir> <everyMs> [create]    `create`: define the schedule (the first start)
 *   { t: "ready", nextRunAt }             open (slots missed while down have been caught up)
 *   { t: "published", count }             the queue's published total, each time it grows
 */
import { Spool } from "../../src/index.js";
import { SCHEDULE_NAME, SCHEDULE_QUEUE } from "./schedule-spec.js";

async function main(dataDir: string, everyMs: number, create: boolean): Promise<void> {
  const spool = await Spool.open({ dataDir, journal: { fsync: "always", snapshotEveryOps: 25 } });
  if (create) await spool.schedule(SCHEDULE_NAME, { everyMs, queue: SCHEDULE_QUEUE, body: { beat: true } });
  const info = await spool.getSchedule(SCHEDULE_NAME);
  process.send!({ t: "ready", nextRunAt: info?.nextRunAt });
  let reported = -1;
  const report = async () => {
    const count = (await spool.queueInfo(SCHEDULE_QUEUE)) ? (await spool.queueStats(SCHEDULE_QUEUE)).totals.published : 0;
    if (count !== reported) process.send!({ t: "published", count });
    reported = count;
  };
  for (;;) {
    await report();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

process.on("disconnect", () => process.exit(0)); // never outlive the observer
const [dataDir, everyMs, create] = process.argv.slice(2);
main(dataDir, Number(everyMs), create === "create").catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
