import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ResolvedCircuitBreakerOptions } from "../../../src/config/schemas.js";
import { ManualClock } from "../../../src/util/clock.js";
import { CircuitBreaker, type CircuitState } from "../../../src/worker/circuit-breaker.js";

function breaker(options: Partial<ResolvedCircuitBreakerOptions> = {}) {
  const clock = new ManualClock();
  const changes: CircuitState[] = [];
  const cb = new CircuitBreaker({ sampleSize: 4, failureThreshold: 0.5, openMs: 1_000, ...options }, clock, (state) => changes.push(state));
  /** Records outcomes as closed-state deliveries ("S" success, "F" failure). */
  const run = (outcomes: string) => {
    for (const o of outcomes) {
      cb.started();
      cb.record(o === "S");
    }
  };
  /** Opens the circuit and lets openMs pass: half-open. */
  const toHalfOpen = () => {
    run("FFFF");
    expect(cb.state).toBe("open");
    clock.advance(1_000);
    expect(cb.state).toBe("half-open");
  };
  return { cb, clock, changes, run, toHalfOpen };
}

describe("CircuitBreaker", () => {
  it("starts closed and lets everything through", () => {
    const { cb, changes } = breaker();
    expect(cb.state).toBe("closed");
    expect(cb.allowance()).toBe(Infinity);
    expect(cb.started()).toBe(0); // not a trial
    expect(changes).toEqual([]);
  });

  it("does not open before sampleSize outcomes, however many fail", () => {
    const { cb, run } = breaker({ sampleSize: 4 });
    run("FFF");
    expect(cb.state).toBe("closed");
    run("F");
    expect(cb.state).toBe("open");
  });

  it("opens when the failure ratio over the window reaches the threshold, not below", () => {
    const below = breaker({ sampleSize: 4, failureThreshold: 0.5 });
    below.run("SSSF");
    expect(below.cb.state).toBe("closed");
    const at = breaker({ sampleSize: 4, failureThreshold: 0.5 });
    at.run("SSFF");
    expect(at.cb.state).toBe("open");
    expect(at.changes).toEqual(["open"]);
  });

  it("judges only the last sampleSize outcomes (a sliding window)", () => {
    const { cb, run } = breaker({ sampleSize: 4, failureThreshold: 0.5 });
    run("FSSS"); // 1/4
    run("S"); // window SSSS... the oldest failure dropped: 0/4
    run("F"); // SSSF: 1/4
    expect(cb.state).toBe("closed");
    run("F"); // SSFF: 2/4
    expect(cb.state).toBe("open");
  });

  it("with threshold 1 only a window of all failures opens it", () => {
    const { cb, run } = breaker({ sampleSize: 3, failureThreshold: 1 });
    run("FFSFF");
    expect(cb.state).toBe("closed");
    run("F");
    expect(cb.state).toBe("open");
  });

  it("while open lets nothing through and ignores stragglers' outcomes; half-opens after exactly openMs", () => {
    const { cb, clock, changes, run } = breaker({ openMs: 1_000 });
    run("FFFF");
    expect(cb.allowance()).toBe(0);
    cb.record(true); // a delivery that started before it opened
    cb.record(false);
    expect(cb.state).toBe("open");
    clock.advance(999);
    expect(cb.state).toBe("open");
    expect(cb.allowance()).toBe(0);
    clock.advance(1);
    expect(cb.state).toBe("half-open");
    expect(changes).toEqual(["open", "half-open"]);
  });

  it("half-open lets exactly one trial through; its success closes the circuit with a fresh window", () => {
    const { cb, changes, run, toHalfOpen } = breaker();
    toHalfOpen();
    expect(cb.allowance()).toBe(1);
    const trial = cb.started();
    expect(trial).toBeGreaterThan(0);
    expect(cb.allowance()).toBe(0);
    cb.record(true, trial);
    expect(cb.state).toBe("closed");
    expect(cb.allowance()).toBe(Infinity);
    expect(changes).toEqual(["open", "half-open", "closed"]);
    run("FFF"); // the old failures were forgotten: the window is not full yet
    expect(cb.state).toBe("closed");
  });

  it("a failed trial re-opens the circuit for another openMs", () => {
    const { cb, clock, changes, toHalfOpen } = breaker({ openMs: 1_000 });
    toHalfOpen();
    const trial = cb.started();
    cb.record(false, trial);
    expect(cb.state).toBe("open");
    expect(cb.allowance()).toBe(0);
    clock.advance(999);
    expect(cb.state).toBe("open");
    clock.advance(1);
    expect(cb.state).toBe("half-open");
    expect(changes).toEqual(["open", "half-open", "open", "half-open"]);
  });

  it("in half-open, outcomes of deliveries that are not the trial do not decide", () => {
    const { cb, toHalfOpen } = breaker();
    toHalfOpen();
    cb.record(true); // a straggler from before the circuit opened
    expect(cb.state).toBe("half-open");
    expect(cb.allowance()).toBe(1);
    const trial = cb.started();
    cb.record(false); // another straggler, while the trial runs
    expect(cb.state).toBe("half-open");
    cb.record(false, trial);
    expect(cb.state).toBe("open");
  });

  it("a trial that ends with no outcome frees the slot for another trial", () => {
    const { cb, toHalfOpen } = breaker();
    toHalfOpen();
    const first = cb.started();
    expect(cb.allowance()).toBe(0);
    cb.finished(first); // e.g. its lease was lost
    expect(cb.state).toBe("half-open");
    expect(cb.allowance()).toBe(1);
    const second = cb.started();
    expect(second).not.toBe(first);
    cb.record(true, first); // a late word from the abandoned trial does not decide
    expect(cb.state).toBe("half-open");
    cb.record(true, second);
    cb.finished(second); // after an outcome, finishing changes nothing
    expect(cb.state).toBe("closed");
  });

  it("finishing a non-trial delivery changes nothing", () => {
    const { cb, toHalfOpen } = breaker();
    toHalfOpen();
    const trial = cb.started();
    cb.finished(0);
    expect(cb.allowance()).toBe(0);
    cb.record(true, trial);
    expect(cb.state).toBe("closed");
  });

  it("dispose() cancels the pending half-open", () => {
    const { cb, clock, changes, run } = breaker();
    run("FFFF");
    cb.dispose();
    clock.advance(10_000);
    expect(cb.state).toBe("open");
    expect(changes).toEqual(["open"]);
  });

  it("property: while closed, it opens exactly when the last sampleSize outcomes reach the threshold", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.double({ min: 0.05, max: 1, noNaN: true }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        (sampleSize, failureThreshold, outcomes) => {
          const { cb } = breaker({ sampleSize, failureThreshold });
          const seen: boolean[] = [];
          for (const success of outcomes) {
            cb.record(success);
            seen.push(success);
            const window = seen.slice(-sampleSize);
            const shouldOpen = window.length === sampleSize && window.filter((s) => !s).length / sampleSize >= failureThreshold;
            expect(cb.state).toBe(shouldOpen ? "open" : "closed");
            if (shouldOpen) return;
          }
        },
      ),
    );
  });
});
