import { describe, expect, it } from "vitest";
import { checkScheduleTiming, defineSchedule, pauseSchedule, planFire, SCHEDULE_LATE_TOLERANCE_MS, slotAfter, type ScheduleRecord } from "../../../src/core/schedule.js";
import type { SpoolError } from "../../../src/core/errors.js";

const T0 = Date.UTC(2030, 2, 30, 0, 0, 0); // the night Europe/Paris moves to summer time (2:00 → 3:00 on the 31st)

function record(over: Partial<ScheduleRecord> & Pick<ScheduleRecord, "catchUp">): ScheduleRecord {
  return { ...defineSchedule({ name: "s", everyMs: 1000, queue: "q", body: "1", options: {}, catchUp: over.catchUp }, undefined, T0), ...over };
}

describe("core/schedule", () => {
  it("everyMs slots are anchor + k × everyMs, the first one interval after the anchor", () => {
    const r = { everyMs: 1000, anchorAt: T0 };
    expect(slotAfter(r, T0)).toBe(T0 + 1000);
    expect(slotAfter(r, T0 + 999)).toBe(T0 + 1000);
    expect(slotAfter(r, T0 + 1000)).toBe(T0 + 2000);
    expect(slotAfter(r, T0 - 5000)).toBe(T0 + 1000);
  });

  it("cron slots follow the time zone across a DST change", () => {
    const r = { cron: "0 30 2 * * *", tz: "Europe/Paris", anchorAt: T0 };
    const first = slotAfter(r, T0) as number; // 02:30 Paris on the 30th = 00:30 UTC (winter, +1)
    expect(new Date(first).toISOString()).toBe("2030-03-30T01:30:00.000Z");
    const second = slotAfter(r, first) as number; // 02:30 does not exist on the 31st: the next valid time
    expect(second).toBeGreaterThan(first);
    const nine = slotAfter({ cron: "0 0 9 * * *", tz: "Europe/Paris", anchorAt: T0 }, T0 + 86_400_000) as number;
    expect(new Date(nine).toISOString()).toBe("2030-03-31T07:00:00.000Z"); // summer time, +2
  });

  it("firing late: catchUp one fires the latest slot, none skips a slot past the tolerance; both go on after now", () => {
    const due = T0 + 1000;
    const one = planFire(record({ catchUp: "one", nextRunAt: due }), due + 5500);
    expect(one).toEqual({ name: "s", due, slot: due + 5000, nextRunAt: due + 6000 });
    const none = planFire(record({ catchUp: "none", nextRunAt: due, everyMs: 10_000 }), due + SCHEDULE_LATE_TOLERANCE_MS + 1);
    expect(none).toEqual({ name: "s", due, nextRunAt: T0 + 10_000 });
    const onTime = planFire(record({ catchUp: "none", nextRunAt: due }), due + 3);
    expect(onTime?.slot).toBe(due);
    expect(planFire(record({ catchUp: "one", nextRunAt: due }), due - 1)).toBeUndefined();
    expect(planFire(record({ catchUp: "one", nextRunAt: due, paused: true }), due)).toBeUndefined();
  });

  it("replace keeps the place for the same timing; a paused schedule resumes after now", () => {
    const base = defineSchedule({ name: "s", everyMs: 1000, queue: "q", body: "1", options: {}, catchUp: "one" }, undefined, T0);
    const same = defineSchedule({ name: "s", everyMs: 1000, queue: "q", body: "2", options: {}, catchUp: "one" }, { ...base, fired: 7 }, T0 + 500);
    expect(same).toMatchObject({ body: "2", nextRunAt: T0 + 1000, fired: 7, anchorAt: T0, updatedAt: T0 + 500 });
    const moved = defineSchedule({ name: "s", cron: "* * * * * *", queue: "q", body: "2", options: {}, catchUp: "one" }, same, T0 + 500);
    expect(moved).toMatchObject({ nextRunAt: T0 + 1000, cron: "* * * * * *", fired: 7 });
    expect(moved.everyMs).toBeUndefined();
    const paused = pauseSchedule(base, true, T0 + 100);
    expect(pauseSchedule(paused, false, T0 + 4200)).toMatchObject({ paused: false, nextRunAt: T0 + 5000 });
  });

  it("timing errors name the field", () => {
    const path = (timing: Parameters<typeof checkScheduleTiming>[0]) => {
      try {
        checkScheduleTiming(timing, "schedule");
      } catch (error) {
        return (error as SpoolError).details[0]?.path;
      }
      return undefined;
    };
    expect(path({ cron: "* * * * *" })).toBeUndefined();
    expect(path({ cron: "*/5 * * * * *" })).toBeUndefined();
    expect(path({ cron: "1 2 3 4 5 6 7" })).toBe("/cron");
    expect(path({ cron: "0 0 30 2 *" })).toBe("/cron"); // February 30th never comes
    expect(path({ cron: "* * * * *", tz: "Atlantis/Capital" })).toBe("/tz");
    expect(path({})).toBe("/");
  });
});
