import zlib from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32, crc32Table } from "../../../src/log/crc32.js";

describe("crc32", () => {
  it("matches the standard check value", () => {
    const input = Buffer.from("123456789");
    expect(crc32Table(input)).toBe(0xcbf43926);
    expect(crc32(input)).toBe(0xcbf43926);
  });

  it("the table version agrees with zlib on any bytes and range, and continues a running crc", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const buffer = Buffer.from(bytes);
        const start = buffer.length === 0 ? 0 : a % buffer.length;
        const end = start + (buffer.length === 0 ? 0 : b % (buffer.length - start + 1));
        const expected = zlib.crc32(buffer.subarray(start, end));
        expect(crc32Table(buffer, start, end)).toBe(expected);
        expect(crc32(buffer, start, end)).toBe(expected);
        expect(crc32(buffer, end, buffer.length, crc32(buffer, start, end))).toBe(zlib.crc32(buffer.subarray(start)));
      }),
    );
  });
});
