import { describe, expect, it } from "vitest";
import { decideOverflow } from "../../../src/core/overflow.js";
import { leftWindow, windowAllows, windowReopensAt } from "../../../src/core/rate-window.js";
import { completedStatusVisible, forgetsOldestCompleted, idempotencyExpiresAt, idempotencyKeyHolds, keepsCompletedStatus } from "../../../src/core/retention.js";

describe("decideOverflow", () => {
  it("accepts while the queue fits, and without a maxLength", () => {
    expect(decideOverflow({ waiting: 8, adding: 2, maxLength: 10, overflow: "reject" })).toEqual({ action: "accept" });
    expect(decideOverflow({ waiting: 1e9, adding: 1, maxLength: undefined, overflow: "reject" })).toEqual({ action: "accept" });
  });
  it("reject refuses the whole publish once it would not fit", () => {
    expect(decideOverflow({ waiting: 9, adding: 2, maxLength: 10, overflow: "reject" })).toEqual({ action: "reject" });
  });
  it("drop-oldest accepts and drops exactly the excess", () => {
    expect(decideOverflow({ waiting: 9, adding: 3, maxLength: 10, overflow: "drop-oldest" })).toEqual({ action: "drop-oldest", count: 2 });
    expect(decideOverflow({ waiting: 12, adding: 0, maxLength: 10, overflow: "drop-oldest" })).toEqual({ action: "drop-oldest", count: 2 });
  });
});

describe("retention", () => {
  const options = { completedRetentionMs: 1_000, completedRetentionCount: 3 };
  it("keeps completed statuses only when both the time and the count allow some", () => {
    expect(keepsCompletedStatus(options)).toBe(true);
    expect(keepsCompletedStatus({ completedRetentionMs: 0, completedRetentionCount: 3 })).toBe(false);
    expect(keepsCompletedStatus({ completedRetentionMs: 1_000, completedRetentionCount: 0 })).toBe(false);
  });
  it("a status is visible until its retention ends, and the oldest goes when it aged out or the count is exceeded", () => {
    expect(completedStatusVisible(5_000, 5_999, options)).toBe(true);
    expect(completedStatusVisible(5_000, 6_000, options)).toBe(false);
    expect(forgetsOldestCompleted(5_000, 3, 5_500, options)).toBe(false);
    expect(forgetsOldestCompleted(5_000, 4, 5_500, options)).toBe(true);
    expect(forgetsOldestCompleted(5_000, 1, 6_000, options)).toBe(true);
  });
  it("an idempotency key holds for its window and not at its end", () => {
    const until = idempotencyExpiresAt(1_000, 500);
    expect(until).toBe(1_500);
    expect(idempotencyKeyHolds(until, 1_499)).toBe(true);
    expect(idempotencyKeyHolds(until, 1_500)).toBe(false);
  });
});

describe("rate window", () => {
  it("a lease counts for exactly intervalMs; the window allows max minus those in it, never below 0", () => {
    expect(leftWindow(1_000, 1_999, 1_000)).toBe(false);
    expect(leftWindow(1_000, 2_000, 1_000)).toBe(true);
    expect(windowAllows(5, 3)).toBe(2);
    expect(windowAllows(5, 7)).toBe(0);
    expect(windowReopensAt(1_000, 1_000)).toBe(2_000);
  });
});
