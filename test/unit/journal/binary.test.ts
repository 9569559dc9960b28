import { describe, expect, it } from "vitest";
import { BinaryReader, BinaryWriter } from "../../../src/store/journal/binary.js";

describe("BinaryWriter / BinaryReader", () => {
  it("round-trips strings of every kind: empty, ASCII, non-ASCII, long, lone surrogates", () => {
    const values = ["", "a", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "x".repeat(127), "y".repeat(128), "ünïcode €", "😀", "a😀b".repeat(100), "z".repeat(100_000), "\ud800"];
    const w = new BinaryWriter(8);
    for (const value of values) w.string(value).uint(7);
    const r = new BinaryReader(Buffer.from(w.finish()));
    for (const value of values) {
      expect(r.string()).toBe(Buffer.from(value, "utf8").toString("utf8")); // a lone surrogate becomes U+FFFD, as UTF-8 must
      expect(r.uint()).toBe(7);
    }
    expect(r.done).toBe(true);
  });

  it("writes a short non-ASCII string correctly after a failed ASCII attempt", () => {
    const w = new BinaryWriter(4);
    w.string("abcé").string("ok");
    const r = new BinaryReader(Buffer.from(w.finish()));
    expect([r.string(), r.string()]).toEqual(["abcé", "ok"]);
  });

  it("writes a string's length as the shortest varint, byte for byte what a length-first writer makes", () => {
    // Around each varint length boundary, in ASCII and in multi-byte text (43 × "€" = 129 bytes).
    const values = ["é".repeat(63), "é".repeat(64), "€".repeat(42), "€".repeat(43), "q".repeat(16_383), "q".repeat(16_384), "€".repeat(5_462), "x".repeat(2_097_152)];
    for (const value of values) {
      const w = new BinaryWriter(16);
      w.uint(3).string(value).uint(5);
      const bytes = Buffer.from(value, "utf8");
      const expected = new BinaryWriter(16).uint(3).uint(bytes.length).finish();
      expect(Buffer.from(w.finish()).equals(Buffer.concat([expected, bytes, Buffer.from([5])]))).toBe(true);
    }
  });

  it("reset starts over in the same buffer", () => {
    const w = new BinaryWriter(64);
    w.string("first record");
    w.reset().string("second");
    expect(new BinaryReader(Buffer.from(w.finish())).string()).toBe("second");
    expect(w.length).toBe(7);
  });
});
