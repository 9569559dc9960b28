import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ResolvedHostCircuitOptions } from "../../../src/config/schemas.js";
import { HostCircuit, type CircuitOutcome } from "../../../src/delivery/channels/host-circuit.js";
import { ManualClock } from "../../../src/util/clock.js";
import type { CircuitState } from "../../../src/worker/circuit-breaker.js";

const OPTIONS: ResolvedHostCircuitOptions = { failureThreshold: 0.5, windowMs: 10_000, minimumCalls: 4, openMs: 1_000, halfOpenTrials: 4 };
const CODES: Record<string, CircuitOutcome> = { S: "success", F: "failure", I: "ignored" };

function circuit(options: Partial<ResolvedHostCircuitOptions> = {}) {
  const clock = new ManualClock();
  const changes: CircuitState[] = [];
  const c = new HostCircuit({ ...OPTIONS, ...options }, clock, (state) => changes.push(state));
  /** Sends and settles one request per letter ("S" success, "F" failure, "I" ignored); false if one was refused. */
  const run = (outcomes: string): boolean => {
    for (const code of outcomes) {
      const permit = c.tryAcquire();
      if (permit === undefined) return false;
      c.record(permit, CODES[code]);
    }
    return true;
  };
  /** Opens the circuit and lets openMs pass. */
  const toHalfOpen = () => {
    run("FFFF");
    expect(c.state).toBe("open");
    clock.advance(c.msUntilHalfOpen());
    expect(c.state).toBe("half-open");
  };
  return { c, clock, changes, run, toHalfOpen };
}

describe("HostCircuit (time-based sliding window)", () => {
  it("does not judge a window with fewer than minimumCalls outcomes, however many fail", () => {
    const { c, run } = circuit({ minimumCalls: 4 });
    run("FFF");
    expect(c.state).toBe("closed");
    run("F");
    expect(c.state).toBe("open");
  });

  it("opens when the window's failure rate reaches the threshold, not below", () => {
    const below = circuit();
    below.run("SSSF");
    expect(below.c.state).toBe("closed");
    const at = circuit();
    at.run("SSFF");
    expect(at.c.state).toBe("open");
    expect(at.changes).toEqual(["open"]);
  });

  it("a burst of failures in a row among the window's successes does not open it", () => {
    const { c, run } = circuit({ minimumCalls: 30 });
    run("S".repeat(40));
    run("F".repeat(10)); // 10 of 50
    run("S".repeat(73));
    run("F".repeat(10)); // 20 of 133: the failure rate, not the run of failures, decides
    expect(c.state).toBe("closed");
  });

  it("judges only the last windowMs: failures that have left the window do not count", () => {
    const { c, clock, run } = circuit({ windowMs: 10_000 });
    run("FFF");
    clock.advance(10_000);
    run("SSF"); // 1 of 3 in the window: too few to judge
    run("S"); // 1 of 4
    expect(c.state).toBe("closed");
    run("F"); // 2 of 5
    run("F"); // 3 of 6
    expect(c.state).toBe("open");
  });

  it("successes that have left the window no longer hold it closed", () => {
    const { c, clock, run } = circuit({ windowMs: 10_000 });
    run("SSSSSSSS");
    clock.advance(5_000);
    run("FFFFFFF"); // 7 of 15
    expect(c.state).toBe("closed");
    clock.advance(5_000); // the successes leave the window
    run("F");
    expect(c.state).toBe("open");
  });

  it("ignored outcomes (the host's own pacing) count neither as successes nor as failures", () => {
    const { c, run } = circuit({ minimumCalls: 4 });
    run("FFIIIIII"); // 2 outcomes in the window: not judged
    expect(c.state).toBe("closed");
    run("SS"); // 2 of 4: the ignored ones did not dilute the failures
    expect(c.state).toBe("open");
  });

  it("while open refuses every request until openMs has passed, then half-opens", () => {
    const { c, clock, changes, run } = circuit({ openMs: 1_000 });
    run("FFFF");
    expect(c.tryAcquire()).toBeUndefined();
    expect(c.msUntilHalfOpen()).toBe(1_000);
    clock.advance(999);
    expect(c.msUntilHalfOpen()).toBe(1);
    expect(c.tryAcquire()).toBeUndefined();
    clock.advance(1);
    expect(c.tryAcquire()).toBeDefined();
    expect(c.state).toBe("half-open");
    expect(c.msUntilHalfOpen()).toBe(0);
    expect(changes).toEqual(["open", "half-open"]);
  });

  it("half-open lets exactly halfOpenTrials requests through at once", () => {
    const { c, toHalfOpen } = circuit({ halfOpenTrials: 3 });
    toHalfOpen();
    const permits = [c.tryAcquire(), c.tryAcquire(), c.tryAcquire()];
    expect(permits.every((p) => p !== undefined)).toBe(true);
    expect(c.tryAcquire()).toBeUndefined();
  });

  it("half-open closes, with an empty window, once the trials' failure rate can no longer reach the threshold", () => {
    const { c, changes, run, toHalfOpen } = circuit({ halfOpenTrials: 5, failureThreshold: 0.5 });
    toHalfOpen();
    const permits = [c.tryAcquire()!, c.tryAcquire()!, c.tryAcquire()!, c.tryAcquire()!, c.tryAcquire()!];
    c.record(permits[0], "failure");
    c.record(permits[1], "success");
    c.record(permits[2], "success");
    expect(c.state).toBe("half-open"); // 1 failure + 2 undecided of 5 could still reach 50%
    c.record(permits[3], "success"); // 1 failure + 1 undecided of 5 cannot
    expect(c.state).toBe("closed");
    expect(changes).toEqual(["open", "half-open", "closed"]);
    c.record(permits[4], "failure"); // the last trial, answered after the verdict: a straggler
    run("FFF"); // the failures from before closing were forgotten: 3 outcomes, too few to judge
    expect(c.state).toBe("closed");
  });

  it("half-open opens again for another openMs once the trials' failures reach the threshold", () => {
    const { c, clock, changes, toHalfOpen } = circuit({ halfOpenTrials: 4, failureThreshold: 0.5, openMs: 1_000 });
    toHalfOpen();
    const permits = [c.tryAcquire()!, c.tryAcquire()!, c.tryAcquire()!];
    c.record(permits[0], "success");
    c.record(permits[1], "failure");
    expect(c.state).toBe("half-open");
    c.record(permits[2], "failure"); // 2 of 4 failed: whatever the fourth says
    expect(c.state).toBe("open");
    expect(c.tryAcquire()).toBeUndefined();
    clock.advance(999);
    expect(c.state).toBe("open");
    clock.advance(1);
    expect(c.state).toBe("half-open");
    expect(changes).toEqual(["open", "half-open", "open", "half-open"]);
  });

  it("an ignored trial frees its place for another", () => {
    const { c, toHalfOpen } = circuit({ halfOpenTrials: 1 });
    toHalfOpen();
    const first = c.tryAcquire()!;
    expect(c.tryAcquire()).toBeUndefined();
    c.record(first, "ignored"); // e.g. a 429 with Retry-After
    expect(c.state).toBe("half-open");
    const second = c.tryAcquire()!;
    expect(second).toBeDefined();
    c.record(second, "success");
    expect(c.state).toBe("closed");
  });

  it("outcomes of requests that started before the circuit changed state are not counted", () => {
    const { c, clock, run } = circuit({ halfOpenTrials: 1 });
    const before = [c.tryAcquire()!, c.tryAcquire()!];
    run("FFFF");
    expect(c.state).toBe("open");
    c.record(before[0], "success"); // answered while open
    clock.advance(c.msUntilHalfOpen());
    expect(c.state).toBe("half-open");
    c.record(before[1], "success"); // answered while half-open: not a trial
    expect(c.state).toBe("half-open");
    const trial = c.tryAcquire()!;
    c.record(trial, "failure");
    expect(c.state).toBe("open");
  });

  it("property: while closed, it opens exactly when a counted outcome leaves the window holding minimumCalls outcomes failing at the threshold", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.array(fc.record({ afterMs: fc.integer({ min: 0, max: 3_000 }), outcome: fc.constantFrom<CircuitOutcome>("success", "failure", "ignored") }), { maxLength: 60 }),
        (minimumCalls, failureThreshold, steps) => {
          const { c, clock } = circuit({ minimumCalls, failureThreshold, windowMs: 10_000 });
          const seen: Array<{ at: number; failed: boolean }> = [];
          for (const { afterMs, outcome } of steps) {
            clock.advance(afterMs);
            c.record(c.tryAcquire()!, outcome);
            // An ignored outcome (the host's own pacing) is not counted, so the circuit decides nothing on it.
            if (outcome === "ignored") {
              expect(c.state).toBe("closed");
              continue;
            }
            seen.push({ at: clock.now(), failed: outcome === "failure" });
            // One-second buckets: the window holds what was recorded in the last ten whole seconds.
            const live = seen.filter((s) => Math.floor(s.at / 1_000) > Math.floor(clock.now() / 1_000) - 10);
            const failures = live.filter((s) => s.failed).length;
            const shouldOpen = live.length >= minimumCalls && failures / live.length >= failureThreshold;
            expect(c.state).toBe(shouldOpen ? "open" : "closed");
            if (shouldOpen) return;
          }
        },
      ),
    );
  });
});
