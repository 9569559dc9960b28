import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nextAttemptDelay, type BackoffPolicy } from "../../../src/core/backoff.js";

const exact = (type: BackoffPolicy["type"], baseMs: number, factor: number, maxMs: number, incrementMs = 0): BackoffPolicy => ({ type, baseMs, factor, incrementMs, maxMs, jitter: "none" });
const jittered = (policy: BackoffPolicy): BackoffPolicy => ({ ...policy, jitter: "full" });

describe("nextAttemptDelay", () => {
  it("fixed: baseMs after every attempt, capped at maxMs", () => {
    const policy = exact("fixed", 2_000, 2, 300_000);
    expect([1, 2, 3, 10, 100].map((attempt) => nextAttemptDelay(attempt, policy))).toEqual([2_000, 2_000, 2_000, 2_000, 2_000]);
    expect(nextAttemptDelay(5, exact("fixed", 2_000, 2, 1_500))).toBe(1_500);
  });

  it("exponential: baseMs × factor^(attempt−1), capped at maxMs", () => {
    const policy = exact("exponential", 1_000, 2, 10_000);
    expect([1, 2, 3, 4, 5, 6].map((attempt) => nextAttemptDelay(attempt, policy))).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect([1, 2, 3].map((attempt) => nextAttemptDelay(attempt, exact("exponential", 100, 3, 1e9)))).toEqual([100, 300, 900]);
    expect([1, 2, 3].map((attempt) => nextAttemptDelay(attempt, exact("exponential", 100, 1.5, 1e9)))).toEqual([100, 150, 225]);
  });

  it("linear: baseMs + incrementMs × (attempt−1), capped at maxMs (MassTransit's incremental)", () => {
    const policy = exact("linear", 1_000, 99, 4_500, 1_500);
    expect([1, 2, 3, 4, 5].map((attempt) => nextAttemptDelay(attempt, policy))).toEqual([1_000, 2_500, 4_000, 4_500, 4_500]);
    expect(nextAttemptDelay(0, policy)).toBe(1_000);
    expect(nextAttemptDelay(1_000_000, policy)).toBe(4_500);
    expect(nextAttemptDelay(3, jittered(policy), () => 0.5)).toBe(2_000);
    expect([1, 2, 3].map((attempt) => nextAttemptDelay(attempt, exact("linear", 0, 1, 1e9, 250)))).toEqual([0, 250, 500]);
  });

  it("treats attempt 0 or less as the first attempt", () => {
    const policy = exact("exponential", 1_000, 2, 10_000);
    expect(nextAttemptDelay(0, policy)).toBe(1_000);
    expect(nextAttemptDelay(-3, policy)).toBe(1_000);
  });

  it("does not overflow for huge attempts: the cap holds", () => {
    const policy = exact("exponential", 1_000, 2, 300_000);
    expect(nextAttemptDelay(1_000_000, policy)).toBe(300_000);
    expect(nextAttemptDelay(1_000_000, jittered(policy), () => 0.5)).toBe(150_000);
  });

  it("baseMs 0 means no delay, even after so many attempts that factor^(attempt−1) overflows", () => {
    expect(nextAttemptDelay(1, exact("exponential", 0, 2, 1_000))).toBe(0);
    expect(nextAttemptDelay(2_000, exact("exponential", 0, 2, 1_000))).toBe(0);
    expect(nextAttemptDelay(2_000, jittered(exact("exponential", 0, 2, 1_000)), () => 0.5)).toBe(0);
  });

  it("full jitter draws uniformly from [0, delay] with the random source given", () => {
    const policy = jittered(exact("exponential", 1_000, 2, 3_000));
    expect([1, 2, 3, 4].map((attempt) => nextAttemptDelay(attempt, policy, () => 0.5))).toEqual([500, 1_000, 1_500, 1_500]);
    expect(nextAttemptDelay(2, policy, () => 0)).toBe(0);
    expect(nextAttemptDelay(2, policy, () => 0.25)).toBe(500);
    expect(nextAttemptDelay(2, policy, () => 0.9999)).toBe(2_000);
    expect(nextAttemptDelay(1, jittered(exact("fixed", 2_000, 2, 60_000)), () => 0.75)).toBe(1_500);
  });

  it("jitter none ignores the random source", () => {
    const policy = exact("exponential", 1_000, 2, 60_000);
    expect(nextAttemptDelay(3, policy, () => 0)).toBe(4_000);
    expect(nextAttemptDelay(3, policy, () => 0.99)).toBe(4_000);
  });

  it("rounds to whole milliseconds", () => {
    expect(nextAttemptDelay(1, jittered(exact("fixed", 3, 2, 100)), () => 0.5)).toBe(2); // 1.5 → 2
    expect(nextAttemptDelay(2, exact("exponential", 10, 1.05, 100))).toBe(11); // 10.5 → 11
  });

  it("property: 0 ≤ delay ≤ min(maxMs, raw), integer; without jitter exactly the capped raw delay", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<BackoffPolicy["type"]>("fixed", "exponential", "linear"),
        fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 86_400_000 })),
        fc.double({ min: 1, max: 100, noNaN: true }),
        fc.integer({ min: 0, max: 7 * 86_400_000 }),
        fc.integer({ min: 1, max: 2_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 86_400_000 }),
        (type, baseMs, factor, maxMs, attempt, r, incrementMs) => {
          const policy = exact(type, baseMs, factor, maxMs, incrementMs);
          const raw = type === "linear" ? baseMs + incrementMs * (attempt - 1) : type === "fixed" || baseMs === 0 ? baseMs : baseMs * Math.pow(factor, attempt - 1);
          const capped = Math.min(maxMs, raw);
          expect(nextAttemptDelay(attempt, policy)).toBe(Math.round(capped));
          const delay = nextAttemptDelay(attempt, jittered(policy), () => r);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.round(capped));
        },
      ),
    );
  });

  it("property: without jitter, delays never decrease as attempts grow", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 1, max: 10, noNaN: true }), fc.integer({ min: 0, max: 1e7 }), fc.integer({ min: 1, max: 200 }), (baseMs, factor, maxMs, attempt) => {
        const policy = exact("exponential", baseMs, factor, maxMs);
        expect(nextAttemptDelay(attempt + 1, policy)).toBeGreaterThanOrEqual(nextAttemptDelay(attempt, policy));
      }),
    );
  });
});
