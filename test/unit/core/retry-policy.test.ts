import { describe, expect, it } from "vitest";
import type { BackoffPolicy } from "../../../src/core/backoff.js";
import { PermanentError, SpoolError, TransientError } from "../../../src/core/errors.js";
import type { FailureKind } from "../../../src/core/message.js";
import { classifyError, decideFailure, type FailureInput } from "../../../src/core/retry-policy.js";

class LibraryError extends Error {
  constructor(readonly retryable: boolean) {
    super("from a library");
  }
}

describe("classifyError", () => {
  it("PermanentError, and anything with retryable === false, is permanent", () => {
    expect(classifyError(new PermanentError("no"))).toBe("permanent");
    expect(classifyError(new LibraryError(false))).toBe("permanent");
    expect(classifyError({ retryable: false })).toBe("permanent");
    expect(classifyError(Object.assign(new TypeError("x"), { retryable: false }))).toBe("permanent");
  });

  it("TransientError is transient", () => {
    expect(classifyError(new TransientError("later"))).toBe("transient");
    class Flaky extends TransientError {}
    expect(classifyError(new Flaky("later"))).toBe("transient");
  });

  it("everything else is an ordinary error (retried with backoff)", () => {
    const others: unknown[] = [
      new Error("x"),
      new TypeError("x"),
      new LibraryError(true),
      { retryable: true },
      { retryable: "false" },
      { retryable: 0 },
      new SpoolError("unavailable", "x"),
      "a string",
      42,
      null,
      undefined,
      Symbol("s"),
    ];
    for (const error of others) expect(classifyError(error), String(error)).toBe("error");
  });

  it("a TransientError marked retryable = false is permanent (the explicit flag wins)", () => {
    const error = Object.assign(new TransientError("x"), {});
    Object.defineProperty(error, "retryable", { value: false });
    expect(classifyError(error)).toBe("permanent");
  });
});

describe("decideFailure", () => {
  const backoff: BackoffPolicy = { type: "exponential", baseMs: 1_000, factor: 2, incrementMs: 0, maxMs: 300_000, jitter: "full" };
  const input = (over: Partial<FailureInput>): FailureInput => ({ attempt: 1, maxAttempts: 5, kind: "error", backoff, ...over });
  const half = () => 0.5;

  it("an ordinary error retries with the backoff for this attempt", () => {
    expect(decideFailure(input({ attempt: 1 }), half)).toEqual({ action: "retry", delayMs: 500 });
    expect(decideFailure(input({ attempt: 3 }), half)).toEqual({ action: "retry", delayMs: 2_000 });
    expect(decideFailure(input({ attempt: 3 }), () => 0)).toEqual({ action: "retry", delayMs: 0 });
    expect(decideFailure(input({ attempt: 2, backoff: { ...backoff, jitter: "none" } }), half)).toEqual({ action: "retry", delayMs: 2_000 });
  });

  it("a permanent error is dead at once, whatever the attempt, delay or maxAttempts", () => {
    expect(decideFailure(input({ kind: "permanent" }))).toEqual({ action: "dead", reason: "permanent_error" });
    expect(decideFailure(input({ kind: "permanent", delayMs: 100 }))).toEqual({ action: "dead", reason: "permanent_error" });
    expect(decideFailure(input({ kind: "permanent", attempt: 5 }))).toEqual({ action: "dead", reason: "permanent_error" });
  });

  it("a transient error retries at once (no delay)", () => {
    expect(decideFailure(input({ kind: "transient", attempt: 4 }), half)).toEqual({ action: "retry", delayMs: 0 });
  });

  it("an explicit delayMs overrides the backoff, for ordinary and transient errors alike", () => {
    expect(decideFailure(input({ delayMs: 12_345 }), half)).toEqual({ action: "retry", delayMs: 12_345 });
    expect(decideFailure(input({ kind: "transient", delayMs: 250 }), half)).toEqual({ action: "retry", delayMs: 250 });
    expect(decideFailure(input({ delayMs: 0 }), half)).toEqual({ action: "retry", delayMs: 0 });
  });

  it("the last attempt goes dead with max_attempts, for every kind but permanent, even with delayMs", () => {
    for (const kind of ["error", "transient"] as FailureKind[]) {
      expect(decideFailure(input({ kind, attempt: 5 }))).toEqual({ action: "dead", reason: "max_attempts" });
      expect(decideFailure(input({ kind, attempt: 5, delayMs: 10 }))).toEqual({ action: "dead", reason: "max_attempts" });
      expect(decideFailure(input({ kind, attempt: 7 }))).toEqual({ action: "dead", reason: "max_attempts" });
      expect(decideFailure(input({ kind, attempt: 1, maxAttempts: 1 }))).toEqual({ action: "dead", reason: "max_attempts" });
      expect(decideFailure(input({ kind, attempt: 4 }), half).action).toBe("retry");
    }
  });

  it("draws jitter from the random source it is given", () => {
    let calls = 0;
    const random = () => {
      calls++;
      return 0.1;
    };
    expect(decideFailure(input({ attempt: 2 }), random)).toEqual({ action: "retry", delayMs: 200 });
    expect(calls).toBe(1);
    decideFailure(input({ kind: "transient" }), random);
    decideFailure(input({ delayMs: 5 }), random);
    expect(calls).toBe(1); // no draw when there is no backoff
  });
});
