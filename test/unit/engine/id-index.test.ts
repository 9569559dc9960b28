import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hashWords, IdIndex } from "../../../src/engine/id-index.js";

/** An owner of ids whose words the test controls; slot s holds key s's words. */
class Owner {
  idWords = new Uint32Array(4 * 16);
  set(slot: number, words: [number, number, number, number]): void {
    if ((slot + 1) * 4 > this.idWords.length) {
      const next = new Uint32Array(Math.max(this.idWords.length * 2, (slot + 1) * 4));
      next.set(this.idWords);
      this.idWords = next; // the index must follow the owner's new array
    }
    this.idWords.set(words, slot * 4);
  }
}

const wordsArb = fc.tuple(fc.nat(3), fc.nat(3), fc.nat(7), fc.nat(63)) as fc.Arbitrary<[number, number, number, number]>;

describe("IdIndex", () => {
  it("finds nothing when empty, and a key only while inserted", () => {
    const owner = new Owner();
    const index = new IdIndex(owner);
    expect(index.find(1, 2, 3, 4)).toBe(-1);
    owner.set(0, [1, 2, 3, 4]);
    expect(index.insert(0)).toBe(true);
    expect(index.find(1, 2, 3, 4)).toBe(0);
    owner.set(1, [1, 2, 3, 4]);
    expect(index.insert(1)).toBe(false); // the same id under another slot: refused
    expect(index.size).toBe(1);
    expect(index.find(1, 2, 3, 5)).toBe(-1);
    expect(index.remove(0)).toBe(true);
    expect(index.remove(0)).toBe(false);
    expect(index.find(1, 2, 3, 4)).toBe(-1);
    expect(index.size).toBe(0);
  });

  it("keeps every key findable through growth, shrinking and backward-shift deletes (model-based)", () => {
    // Few distinct word values force long probe runs and wrap-around at the table's end.
    const op = fc.oneof(
      { weight: 3, arbitrary: fc.record({ op: fc.constant("insert" as const), words: wordsArb }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("remove" as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("find" as const), words: wordsArb }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const owner = new Owner();
        const index = new IdIndex(owner);
        const model = new Map<string, number>(); // key → slot
        const freeSlots: number[] = [];
        let nextSlot = 0;
        for (const o of ops) {
          if (o.op === "insert") {
            const key = o.words.join(",");
            if (model.has(key)) continue;
            const slot = freeSlots.pop() ?? nextSlot++;
            owner.set(slot, o.words);
            expect(index.insert(slot)).toBe(true);
            model.set(key, slot);
          } else if (o.op === "remove") {
            if (model.size === 0) continue;
            const [key, slot] = [...model][o.pick % model.size];
            expect(index.remove(slot)).toBe(true);
            model.delete(key);
            freeSlots.push(slot);
          } else {
            expect(index.find(...o.words)).toBe(model.get(o.words.join(",")) ?? -1);
          }
          expect(index.size).toBe(model.size);
        }
        for (const [key, slot] of model) {
          const [w0, w1, w2, w3] = key.split(",").map(Number);
          expect(index.find(w0, w1, w2, w3)).toBe(slot);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("handles words across the whole unsigned range", () => {
    const owner = new Owner();
    const index = new IdIndex(owner);
    const keys: Array<[number, number, number, number]> = [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0x80000000, 0, 0, 1],
      [0, 0, 0, 0],
    ];
    keys.forEach((k, slot) => {
      owner.set(slot, k);
      index.insert(slot);
    });
    keys.forEach((k, slot) => expect(index.find(...k)).toBe(slot));
    expect(hashWords(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff)).toBe(hashWords(-1, -1, -1, -1));
  });
});
