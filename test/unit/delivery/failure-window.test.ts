import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BUCKETS, FailureWindow } from "../../../src/delivery/channels/failure-window.js";
import { ManualClock } from "../../../src/util/clock.js";

/** A 10 s window: ten buckets of one second; the manual clock starts on a bucket boundary. */
function setup(windowMs = 10_000) {
  const clock = new ManualClock();
  expect(clock.now() % (windowMs / BUCKETS)).toBe(0);
  const window = new FailureWindow(windowMs);
  return { clock, window, totals: () => window.totals(clock.now()), record: (failed: boolean) => window.record(failed, clock.now()) };
}

describe("FailureWindow", () => {
  it("counts calls and failures recorded within the window", () => {
    const { clock, totals, record } = setup();
    expect(totals()).toEqual({ calls: 0, failures: 0 });
    record(false);
    record(true);
    clock.advance(4_000);
    record(true);
    expect(totals()).toEqual({ calls: 3, failures: 2 });
  });

  it("forgets a bucket once time has moved a whole window past its start", () => {
    const { clock, totals, record } = setup();
    record(true); // bucket 0, at its start
    clock.advance(999);
    record(false); // still bucket 0, near its end
    clock.advance(1);
    record(false); // bucket 1
    clock.advance(8_999); // the last moment of bucket 9
    expect(totals()).toEqual({ calls: 3, failures: 1 });
    clock.advance(1); // bucket 10 replaces bucket 0: 9 001 ms after its last record, 10 000 after its first
    expect(totals()).toEqual({ calls: 1, failures: 0 });
    clock.advance(1_000);
    expect(totals()).toEqual({ calls: 0, failures: 0 });
  });

  it("after a silence longer than the window holds nothing, and counts afresh", () => {
    const { clock, totals, record } = setup();
    for (let i = 0; i < 5; i++) record(true);
    clock.advance(3_600_000);
    expect(totals()).toEqual({ calls: 0, failures: 0 });
    record(false);
    expect(totals()).toEqual({ calls: 1, failures: 0 });
  });

  it("a clock that steps back counts into the newest bucket, which expires on schedule", () => {
    const { window } = setup();
    const t0 = 1_000_000;
    window.record(true, t0 + 5_000);
    window.record(true, t0); // earlier than the newest bucket
    expect(window.totals(t0 + 5_000)).toEqual({ calls: 2, failures: 2 });
    expect(window.totals(t0 + 14_999)).toEqual({ calls: 2, failures: 2 });
    expect(window.totals(t0 + 15_000)).toEqual({ calls: 0, failures: 0 });
  });

  it("clear() empties it", () => {
    const { clock, window, totals, record } = setup();
    record(true);
    record(false);
    window.clear();
    expect(totals()).toEqual({ calls: 0, failures: 0 });
    clock.advance(10_000); // expiring the cleared buckets does not drive the totals below zero
    record(true);
    expect(totals()).toEqual({ calls: 1, failures: 1 });
  });

  it("refuses a window shorter than its bucket count", () => {
    expect(() => new FailureWindow(BUCKETS - 1)).toThrow(RangeError);
  });

  it("property: totals equal the records whose bucket is one of the last BUCKETS, whatever the timing", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: BUCKETS, max: 60_000 }),
        fc.array(fc.record({ afterMs: fc.integer({ min: 0, max: 5_000 }), failed: fc.boolean() }), { maxLength: 200 }),
        (windowMs, steps) => {
          const window = new FailureWindow(windowMs);
          const bucketMs = windowMs / BUCKETS;
          const seen: Array<{ bucket: number; failed: boolean }> = [];
          let now = 0;
          for (const { afterMs, failed } of steps) {
            now += afterMs;
            window.record(failed, now);
            seen.push({ bucket: Math.floor(now / bucketMs), failed });
            const current = Math.floor(now / bucketMs);
            const live = seen.filter((s) => s.bucket > current - BUCKETS);
            expect(window.totals(now)).toEqual({ calls: live.length, failures: live.filter((s) => s.failed).length });
          }
        },
      ),
    );
  });
});
