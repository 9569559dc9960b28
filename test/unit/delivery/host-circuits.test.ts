import { describe, expect, it } from "vitest";
import { HostCircuits } from "../../../src/delivery/channels/host-circuits.js";
import { ManualClock } from "../../../src/util/clock.js";
import type { CircuitState } from "../../../src/worker/circuit-breaker.js";

describe("HostCircuits", () => {
  it("keeps one circuit per host, and tells a refused request when to come back", () => {
    const clock = new ManualClock();
    const changes: Array<[string, CircuitState]> = [];
    const circuits = new HostCircuits({ minimumCalls: 2, openMs: 8_000, halfOpenTrials: 1 }, (host, state) => changes.push([host, state]), clock);
    for (let i = 0; i < 2; i++) {
      const admission = circuits.admit("dead:80");
      if (!admission.admitted) throw new Error("refused while closed");
      circuits.record("dead:80", admission.permit, "failure");
    }
    expect(circuits.state("dead:80")).toBe("open");
    expect(circuits.state("live:80")).toBe("closed");
    expect(circuits.admit("live:80")).toMatchObject({ admitted: true });
    clock.advance(3_000);
    expect(circuits.admit("dead:80")).toEqual({ admitted: false, retryInMs: 5_000 });
    clock.advance(5_000);
    const trial = circuits.admit("dead:80");
    expect(trial).toMatchObject({ admitted: true });
    // Its one trial in flight: the others look again after a quarter of openMs, at most a second.
    expect(circuits.admit("dead:80")).toEqual({ admitted: false, retryInMs: 1_000 });
    expect(circuits.states()).toEqual({ "dead:80": "half-open", "live:80": "closed" });
    expect(changes).toEqual([
      ["dead:80", "open"],
      ["dead:80", "half-open"],
    ]);
  });

  it("reads the former sampleSize setting as minimumCalls", () => {
    const circuits = new HostCircuits({ sampleSize: 3 });
    const fail = () => {
      const admission = circuits.admit("h:80");
      if (admission.admitted) circuits.record("h:80", admission.permit, "failure");
    };
    fail();
    fail();
    expect(circuits.state("h:80")).toBe("closed");
    fail();
    expect(circuits.state("h:80")).toBe("open");
  });
});
