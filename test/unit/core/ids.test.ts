import { describe, expect, it } from "vitest";
import { idFromWords, idToWords, newId } from "../../../src/core/ids.js";

describe("ids as 128-bit words", () => {
  it("round-trips every id newId makes", () => {
    const words = new Uint32Array(8);
    for (let i = 0; i < 5000; i++) {
      const id = newId(Date.now() + i * 7919);
      expect(idToWords(id, words, 4)).toBe(true);
      expect(idFromWords(words, 4)).toBe(id);
    }
  });

  it("covers the extremes of the range", () => {
    const words = new Uint32Array(4);
    for (const id of ["00000000000000000000000000", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01ARZ3NDEKTSV4RRFFQ69G5FAV"]) {
      expect(idToWords(id, words, 0)).toBe(true);
      expect(idFromWords(words, 0)).toBe(id);
    }
    idToWords("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", words, 0);
    expect([...words]).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
  });

  it("refuses what is not a canonical id, so distinct strings never share words", () => {
    const words = new Uint32Array(4);
    for (const id of ["", "01arz3ndektsv4rrffq69g5fav", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAVX", "01ARZ3NDEKTSV4RRFFQ69G5FAI", "01ARZ3NDEKTSV4RRFFQ69G5FAÜ"]) {
      expect(idToWords(id, words, 0)).toBe(false);
    }
  });
});
