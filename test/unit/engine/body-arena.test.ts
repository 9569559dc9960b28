import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BodyArena, MAX_CELL_BYTES } from "../../../src/engine/body-arena.js";

const bytesOf = (text: string) => Buffer.byteLength(text, "utf8");

describe("BodyArena", () => {
  it("stores and returns text of every size class, non-ASCII included", () => {
    const arena = new BodyArena();
    const texts = ["", "a", '{"x":1}', "é".repeat(100), "€😀".repeat(300), "x".repeat(255), "y".repeat(257), "z".repeat(MAX_CELL_BYTES), "w".repeat(MAX_CELL_BYTES + 1)];
    const refs = texts.map((text) => arena.put(text, bytesOf(text)));
    texts.forEach((text, i) => expect(arena.get(refs[i], bytesOf(text))).toBe(text));
  });

  it("copies bytes in and out (snapshots)", () => {
    const arena = new BodyArena();
    const text = '{"to":"ünïcode","n":42}';
    const source = Buffer.concat([Buffer.from("prefix"), Buffer.from(text)]);
    const ref = arena.putBytes(source, 6, bytesOf(text));
    expect(arena.get(ref, bytesOf(text))).toBe(text);
    const target = Buffer.alloc(bytesOf(text) + 2);
    expect(arena.copyTo(ref, bytesOf(text), target, 2)).toBe(target.length);
    expect(target.subarray(2).toString()).toBe(text);
    const large = "L".repeat(MAX_CELL_BYTES + 10);
    const largeRef = arena.putBytes(Buffer.from(large), 0, large.length);
    expect(arena.get(largeRef, large.length)).toBe(large);
  });

  it("never lets two live bodies share bytes, reuses freed cells, and gives pages back when a class empties (model-based)", () => {
    const op = fc.oneof(
      { weight: 3, arbitrary: fc.record({ op: fc.constant("put" as const), size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: MAX_CELL_BYTES + 100 })), fill: fc.nat(25) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("free" as const), pick: fc.nat() }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const arena = new BodyArena();
        const live: Array<{ ref: number; text: string }> = [];
        let counter = 0;
        for (const o of ops) {
          if (o.op === "put") {
            // Distinct content per body, so an overlap would show as a changed text.
            const stamp = `${counter++}:`;
            const text = (stamp + String.fromCharCode(97 + o.fill).repeat(Math.max(0, o.size - stamp.length))).slice(0, Math.max(o.size, stamp.length));
            live.push({ ref: arena.put(text, bytesOf(text)), text });
          } else if (live.length > 0) {
            const [gone] = live.splice(o.pick % live.length, 1);
            arena.free(gone.ref, bytesOf(gone.text));
          }
          for (const { ref, text } of live) expect(arena.get(ref, bytesOf(text))).toBe(text);
        }
        for (const { ref, text } of live.splice(0)) arena.free(ref, bytesOf(text));
        expect(arena.pageBytes).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it("keeps memory bounded under churn: a steady backlog reuses its cells", () => {
    const arena = new BodyArena();
    const text = "m".repeat(120);
    const refs: number[] = [];
    for (let i = 0; i < 5000; i++) refs.push(arena.put(text, 120));
    const held = arena.pageBytes;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 2500; i++) arena.free(refs.shift() as number, 120);
      for (let i = 0; i < 2500; i++) refs.push(arena.put(text, 120));
    }
    expect(arena.pageBytes).toBe(held);
  });

  it("while pinned, keeps freed bodies' bytes and never reuses their cells; unpinning frees them", () => {
    const arena = new BodyArena();
    const a = arena.put("a".repeat(100), 100);
    const large = "L".repeat(MAX_CELL_BYTES + 1);
    const b = arena.put(large, large.length);
    arena.pin();
    arena.free(a, 100);
    arena.free(b, large.length);
    const c = arena.put("c".repeat(100), 100);
    const d = arena.put("D".repeat(MAX_CELL_BYTES + 1), MAX_CELL_BYTES + 1);
    expect(c).not.toBe(a);
    expect(d).not.toBe(b);
    expect(arena.get(a, 100)).toBe("a".repeat(100));
    expect(arena.get(b, large.length)).toBe(large);
    arena.unpin();
    arena.free(c, 100);
    arena.free(d, MAX_CELL_BYTES + 1);
    expect(arena.pageBytes).toBe(0);
    expect(() => arena.unpin()).toThrow(/without pin/);
  });
});
