import { describe, expect, it } from "vitest";
import { BinaryWriter } from "../../../src/store/journal/binary.js";
import { decodeOp, encodeAcks, encodeOp, NO_DECISIONS } from "../../../src/store/journal/journal-ops.js";
import type { PublishInput } from "../../../src/core/operations.js";

const inputs: PublishInput[] = [
  { queue: "a", body: '{"n":1}', priority: 0 },
  { queue: "a", body: '"ünï"', priority: 9, headers: { h: "v" }, ttlMs: 5, dedupKey: "d" },
  { queue: "b", body: "2", priority: 1, availableAt: 1.5e12, groupKey: "g", correlationId: "c", causationId: "x" },
  { queue: "a", body: "3", priority: 0, maxAttempts: 3, idempotencyKey: "i" },
  { queue: "c", body: "4", priority: 2 },
];
const ids = ["01ARZ3NDEKTSV4RRFFQ69G5FA1", "01ARZ3NDEKTSV4RRFFQ69G5FA2", "01ARZ3NDEKTSV4RRFFQ69G5FA3", "01ARZ3NDEKTSV4RRFFQ69G5FA4", "01ARZ3NDEKTSV4RRFFQ69G5FA5"];

describe("journal operation records", () => {
  it("round-trip a publish to several queues, every option included", () => {
    const payload = encodeOp({ o: "publish", inputs }, 1234.5, { ids, tokens: [], randoms: [] });
    expect(decodeOp(Buffer.from(payload))).toEqual({ o: "publish", t: 1234.5, inputs, ids });
  });

  it("write a delayMs as the absolute availableAt it makes at the record's time, which replay reads back", () => {
    const delayed: PublishInput[] = [{ queue: "a", body: "1", priority: 0, delayMs: 250 }, { queue: "a", body: "2", priority: 0, delayMs: 0 }];
    const payload = encodeOp({ o: "publish", inputs: delayed }, 1_000, { ids: ids.slice(0, 2), tokens: [], randoms: [] });
    expect(decodeOp(Buffer.from(payload))).toEqual({
      o: "publish",
      t: 1_000,
      inputs: [
        { queue: "a", body: "1", priority: 0, availableAt: 1_250 },
        { queue: "a", body: "2", priority: 0, availableAt: 1_000 },
      ],
      ids: ids.slice(0, 2),
    });
  });

  it("write each queue name once per publish record", () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ queue: "a-rather-long-queue-name-0123456789", body: String(i), priority: 0 }));
    const payload = encodeOp({ o: "publish", inputs: many }, 1, NO_DECISIONS);
    expect(payload.length).toBeLessThan(100 * 8);
  });

  it("still read the earlier publish layout (queue name per input)", () => {
    const w = new BinaryWriter();
    w.uint(1).double(99).uint(2);
    w.uint(0).string("a").string("1").uint(0);
    w.uint(64).string("b").string("2").uint(3).string("group");
    w.uint(1).string(ids[0]);
    expect(decodeOp(Buffer.from(w.finish()))).toEqual({
      o: "publish",
      t: 99,
      inputs: [
        { queue: "a", body: "1", priority: 0 },
        { queue: "b", body: "2", priority: 3, groupKey: "group" },
      ],
      ids: [ids[0]],
    });
  });

  it("round-trip the rare operations as JSON with their decisions", () => {
    const payload = encodeOp({ o: "nack", id: ids[0], token: "tok", request: { delayMs: 5 } }, 7, { ids: [], tokens: [], randoms: [0.25] });
    expect(decodeOp(Buffer.from(payload))).toEqual({ o: "nack", id: ids[0], token: "tok", request: { delayMs: 5 }, t: 7, randoms: [0.25] });
  });

  it("round-trip a run of acks, written the same by encodeAcks and encodeOp", () => {
    const items = ids.slice(0, 3).map((id, i) => ({ id, leaseToken: `token-${i}` }));
    const payload = Buffer.from(encodeOp({ o: "acks", items }, 42, NO_DECISIONS));
    const tokens = items.map((item) => item.leaseToken);
    // encodeAcks writes only the first `count` of arrays that may be longer (reused buffers).
    const fast = Buffer.from(encodeAcks(42, [...ids.slice(0, 3), "left over"], [...tokens, "left over"], 3, new BinaryWriter(8)));
    expect(fast.equals(payload)).toBe(true);
    expect(decodeOp(payload)).toEqual({ o: "acks", t: 42, items });
  });

  it("refuse an acks record with no ack", () => {
    expect(() => decodeOp(Buffer.from(encodeAcks(1, [], [], 0, new BinaryWriter())))).toThrow(RangeError);
  });
  it("keep the binary forms for what they can hold, and write what they cannot (a result, a tick's or lease's ids) as JSON", () => {
    // Binary, as before: an old log reads the same, and the common records stay small.
    for (const op of [{ o: "tick" as const }, { o: "ack" as const, id: ids[0], token: "t" }]) {
      expect(Buffer.from(encodeOp(op, 5, NO_DECISIONS))[0]).not.toBe(0);
    }
    const cases = [
      [{ o: "ack", id: ids[0], token: "t", result: '{"ok":true}' }, NO_DECISIONS],
      [{ o: "ackMany", items: [{ id: ids[0], leaseToken: "a" }, { id: ids[1], leaseToken: "b", result: "[1]" }] }, NO_DECISIONS],
      [{ o: "tick" }, { ids: [ids[2]], tokens: [], randoms: [] }],
      [{ o: "lease", queue: "q", max: 2, visible: 9 }, { ids: [ids[3]], tokens: ["tok"], randoms: [] }],
      [{ o: "ack", id: ids[0], token: "t" }, { ids: [ids[4]], tokens: [], randoms: [] }],
      [{ o: "report", id: ids[0], token: "t", report: { progress: "5", log: ["a"] } }, NO_DECISIONS],
    ] as const;
    for (const [op, made] of cases) {
      const payload = Buffer.from(encodeOp(op as Parameters<typeof encodeOp>[0], 11, made));
      expect(payload[0], op.o).toBe(0); // the JSON code
      const expected: Record<string, unknown> = { ...op, t: 11 };
      if (made.ids.length > 0) expected.ids = made.ids;
      if (made.tokens.length > 0) expected.tokens = made.tokens;
      expect(decodeOp(payload)).toEqual(expected);
    }
  });
});
