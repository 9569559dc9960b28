import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  countValidFrames,
  decodeFrames,
  encodeFrames,
  FRAME_HEADER_BYTES,
  frameBytes,
  type LogRecordInput,
} from "../../../src/log/record-codec.js";

const recordArb = fc.record({ type: fc.integer({ min: 1, max: 255 }), payload: fc.uint8Array({ maxLength: 200 }) });
const recordsArb = fc.array(recordArb, { minLength: 1, maxLength: 30 });

/** Where each frame starts, plus the total length at the end. */
function boundaries(records: LogRecordInput[]): number[] {
  const starts = [0];
  for (const record of records) starts.push(starts[starts.length - 1] + frameBytes(record.payload.length));
  return starts;
}

function plain(records: { type: number; payload: Uint8Array }[]) {
  return records.map((r) => ({ type: r.type, payload: Buffer.from(r.payload).toString("hex") }));
}

describe("record codec", () => {
  it("round-trips any group of records, with frame offsets", () => {
    fc.assert(
      fc.property(recordsArb, (records) => {
        const buffer = encodeFrames(records);
        const starts = boundaries(records);
        expect(buffer.length).toBe(starts[starts.length - 1]);
        const decoded = decodeFrames(buffer);
        expect(plain(decoded.records)).toEqual(plain(records));
        expect(decoded.records.map((r) => r.offset)).toEqual(starts.slice(0, -1));
        expect(decoded.validBytes).toBe(buffer.length);
        expect(decoded.tail).toBeUndefined();
        expect(decoded.midCorruption).toBeUndefined();
      }),
    );
  });

  it("frames as [u32 length][u32 crc][u8 type][payload]", () => {
    const buffer = encodeFrames([{ type: 7, payload: Buffer.from("abc") }]);
    expect(buffer.length).toBe(FRAME_HEADER_BYTES + 3);
    expect(buffer.readUInt32LE(0)).toBe(4);
    expect(buffer[8]).toBe(7);
    expect(buffer.subarray(9).toString()).toBe("abc");
  });

  it("a log cut at any byte decodes to exactly the complete records before the cut, as a torn tail", () => {
    fc.assert(
      fc.property(recordsArb, fc.nat(), (records, cutSeed) => {
        const buffer = encodeFrames(records);
        const cut = cutSeed % (buffer.length + 1);
        const starts = boundaries(records);
        const complete = starts.filter((s) => s <= cut).length - 1;
        const decoded = decodeFrames(buffer.subarray(0, cut));
        expect(plain(decoded.records)).toEqual(plain(records.slice(0, complete)));
        expect(decoded.validBytes).toBe(starts[complete]);
        expect(decoded.midCorruption).toBeUndefined();
        if (cut === starts[complete]) expect(decoded.tail).toBeUndefined();
        else expect(decoded.tail).toEqual({ offset: starts[complete], reason: "torn" });
      }),
    );
  });

  it("byte flips in the last frame are a corrupt tail; the records before it survive", () => {
    fc.assert(
      fc.property(recordsArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.boolean(), (records, flips, cut) => {
        const buffer = encodeFrames(records);
        const starts = boundaries(records);
        const last = starts[records.length - 1];
        // One flip per byte: two equal flips of the same byte would cancel out and leave the frame intact.
        const flipped = new Set<number>();
        for (const [at, mask] of flips) {
          const position = last + (at % (buffer.length - last));
          if (flipped.has(position)) continue;
          flipped.add(position);
          buffer[position] ^= mask;
        }
        // Sometimes also tear what is left of the damaged frame.
        const bytes = cut ? buffer.subarray(0, last + ((flips[0][0] >> 3) % (buffer.length - last)) + 1) : buffer;
        const decoded = decodeFrames(bytes);
        expect(plain(decoded.records)).toEqual(plain(records.slice(0, -1)));
        expect(decoded.validBytes).toBe(last);
        expect(decoded.tail?.offset).toBe(last);
        expect(decoded.midCorruption).toBeUndefined();
      }),
    );
  });

  it("a bad frame followed by valid frames is mid-log corruption, never a tail", () => {
    fc.assert(
      fc.property(recordsArb.filter((r) => r.length >= 2), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), (records, which, at, mask) => {
        const buffer = encodeFrames(records);
        const starts = boundaries(records);
        const k = which % (records.length - 1); // not the last frame
        const frameLength = starts[k + 1] - starts[k];
        buffer[starts[k] + (at % frameLength)] ^= mask;
        const decoded = decodeFrames(buffer);
        expect(decoded.tail).toBeUndefined();
        expect(decoded.midCorruption?.offset).toBe(starts[k]);
        // The scan finds the next intact frame (or, by chance, something valid-looking before it).
        expect(decoded.midCorruption?.nextValidOffset).toBeGreaterThan(starts[k]);
        expect(decoded.midCorruption?.nextValidOffset).toBeLessThanOrEqual(starts[k + 1]);
        expect(plain(decoded.records)).toEqual(plain(records.slice(0, k)));
        expect(decoded.validBytes).toBe(starts[k]);
      }),
    );
  });

  it("zeros after the last frame (size extended, data never written) are a tail", () => {
    const records = [{ type: 1, payload: Buffer.from("one") }, { type: 2, payload: Buffer.from("two") }];
    const buffer = Buffer.concat([encodeFrames(records), Buffer.alloc(4096)]);
    const decoded = decodeFrames(buffer);
    expect(decoded.records).toHaveLength(2);
    expect(decoded.tail).toEqual({ offset: buffer.length - 4096, reason: "header" });
  });

  it("decodes from a start offset", () => {
    const records = [{ type: 1, payload: Buffer.from("a") }, { type: 2, payload: Buffer.from("bb") }];
    const buffer = encodeFrames(records);
    const decoded = decodeFrames(buffer, frameBytes(1));
    expect(plain(decoded.records)).toEqual(plain(records.slice(1)));
    expect(decoded.records[0].offset).toBe(frameBytes(1));
  });

  it("gives up scanning huge garbage after its budget and reports it as mid-log corruption (the safe side)", () => {
    const garbage = Buffer.alloc(64 * 1024);
    // Every fourth offset claims a 1000-byte frame (type 0xe8) with a wrong CRC.
    for (let i = 0; i + 4 <= garbage.length; i += 4) garbage.writeUInt32LE(1000, i);
    const decoded = decodeFrames(garbage, 0, { scanBudgetBytes: 10_000 });
    expect(decoded.midCorruption).toEqual({ offset: 0, reason: "crc", nextValidOffset: undefined });
    const unlimited = decodeFrames(garbage);
    expect(unlimited.tail?.offset).toBe(0);
  });

  it("refuses records it cannot frame", () => {
    expect(() => encodeFrames([{ type: 0, payload: Buffer.alloc(1) }])).toThrow(RangeError);
    expect(() => encodeFrames([{ type: 256, payload: Buffer.alloc(1) }])).toThrow(RangeError);
    expect(() => encodeFrames([{ type: 1.5, payload: Buffer.alloc(1) }])).toThrow(RangeError);
  });

  it("counts the valid frames after a corruption, skipping further damage", () => {
    const records = Array.from({ length: 6 }, (_, i) => ({ type: 1, payload: Buffer.from(`record-${i}`) }));
    const buffer = encodeFrames(records);
    const starts = boundaries(records);
    buffer[starts[1] + 10] ^= 0xff;
    buffer[starts[3] + 10] ^= 0xff;
    expect(countValidFrames(buffer, starts[1] + 1)).toBe(3); // frames 2, 4 and 5
  });
});
