import { describe, expect, it } from "vitest";
import { availableAtFor, decideLeaseExpiry, decidePublish, decideRelease, expiresAtFor, isExpired, passesGroupTurn, replayed } from "../../../src/core/lifecycle.js";

describe("decidePublish", () => {
  it("an idempotency key seen within its window wins: nothing is enqueued, whatever the dedup key holds", () => {
    for (const dedupHolder of ["waiting", "leased", "none"] as const) expect(decidePublish({ duplicateOf: "01ORIG", dedupHolder })).toBe("duplicate");
  });
  it("a dedup key held by a waiting message replaces it in place; a leased holder or none makes a new message", () => {
    expect(decidePublish({ duplicateOf: undefined, dedupHolder: "waiting" })).toBe("replace");
    expect(decidePublish({ duplicateOf: undefined, dedupHolder: "leased" })).toBe("new");
    expect(decidePublish({ duplicateOf: undefined, dedupHolder: "none" })).toBe("new");
  });
});

describe("publish times", () => {
  it("delayMs counts from the store's now; availableAt in the future delays; in the past or absent means now", () => {
    expect(availableAtFor(undefined, 250, 1_000)).toBe(1_250);
    expect(availableAtFor(2_000, undefined, 1_000)).toBe(2_000);
    expect(availableAtFor(500, undefined, 1_000)).toBe(1_000);
    expect(availableAtFor(undefined, undefined, 1_000)).toBe(1_000);
  });
  it("the message's TTL wins over the queue's; none means it never expires", () => {
    expect(expiresAtFor(100, 5_000, 1_000)).toBe(1_100);
    expect(expiresAtFor(undefined, 5_000, 1_000)).toBe(6_000);
    expect(expiresAtFor(undefined, undefined, 1_000)).toBeUndefined();
  });
  it("a TTL has run out at its instant, not before", () => {
    expect(isExpired(1_000, 999)).toBe(false);
    expect(isExpired(1_000, 1_000)).toBe(true);
    expect(isExpired(undefined, Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});

describe("leases ending without an ack", () => {
  it("an expired lease retries while attempts remain, and is dead (max_attempts) on the last one", () => {
    expect(decideLeaseExpiry(1, 3)).toEqual({ action: "retry" });
    expect(decideLeaseExpiry(3, 3)).toEqual({ action: "dead", reason: "max_attempts" });
  });
  it("a release gives the attempt back (never below 0) and is due now or after its delay", () => {
    expect(decideRelease(2, undefined, 1_000)).toEqual({ attempt: 1, availableAt: 1_000 });
    expect(decideRelease(0, 250, 1_000)).toEqual({ attempt: 0, availableAt: 1_250 });
  });
});

describe("replay and groups", () => {
  it("a replayed dead letter starts over: attempt 0, ready now, a fresh TTL from its own ttlMs", () => {
    expect(replayed(500, 10_000)).toEqual({ attempt: 0, availableAt: 10_000, expiresAt: 10_500 });
    expect(replayed(undefined, 10_000)).toEqual({ attempt: 0, availableAt: 10_000, expiresAt: undefined });
  });
  it("a group's turn passes on completion or death, never on a retry or a release", () => {
    expect([passesGroupTurn("completed"), passesGroupTurn("dead"), passesGroupTurn("retried"), passesGroupTurn("released")]).toEqual([true, true, false, false]);
  });
});
