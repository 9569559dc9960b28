/** core/dead-letter.ts: the copy's headers, the loop rule, the routing key. */
import { describe, expect, it } from "vitest";
import { deadLetterHeaders, deadLetterRoutingKey, mayDeadLetter } from "../../../src/core/dead-letter.js";
import { decideFailure } from "../../../src/core/retry-policy.js";
import { defaults } from "../../../src/config/defaults.js";

describe("dead-letter rules", () => {
  it("the copy keeps the original headers and adds x-death-*", () => {
    const headers = deadLetterHeaders({ tenant: "t", "x-death-last-error": "old" }, { id: "ID", queue: "orders", reason: "expired", attempts: 0, lastError: undefined });
    expect(headers).toEqual({ tenant: "t", "x-death-reason": "expired", "x-death-attempts": "0", "x-death-queue": "orders", "x-death-id": "ID", "x-death-path": "orders" });
  });

  it("extends the path and cuts a long last error", () => {
    const headers = deadLetterHeaders({ "x-death-path": "a,b" }, { id: "ID", queue: "c", reason: "rejected", attempts: 2, lastError: { message: "e".repeat(5000), kind: "error" } });
    expect(headers["x-death-path"]).toBe("a,b,c");
    expect(headers["x-death-last-error"]).toHaveLength(1000);
  });

  it("never out of a queue the lineage already died in", () => {
    expect(mayDeadLetter(undefined, "a")).toBe(true);
    expect(mayDeadLetter({ "x-death-path": "b,c" }, "a")).toBe(true);
    expect(mayDeadLetter({ "x-death-path": "b,a" }, "a")).toBe(false);
    expect(mayDeadLetter({ "x-death-path": "ab" }, "a")).toBe(true);
  });

  it("routes by the target's key, else the queue's name", () => {
    expect(deadLetterRoutingKey({ routingKey: "k" }, "q")).toBe("k");
    expect(deadLetterRoutingKey({}, "q")).toBe("q");
  });
});

describe("reject", () => {
  it("is dead at once with reason rejected, whatever attempts remain or kind says", () => {
    for (const kind of ["error", "transient", "permanent"] as const) {
      expect(decideFailure({ attempt: 1, maxAttempts: 10, kind, backoff: defaults.queue.backoff, reject: true })).toEqual({ action: "dead", reason: "rejected" });
    }
  });
});
