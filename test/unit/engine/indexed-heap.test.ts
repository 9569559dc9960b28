import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IndexedHeap } from "../../../src/engine/indexed-heap.js";

interface Item {
  name: string;
  key: number;
  seq: number;
  index: number;
}

function heap(): IndexedHeap<Item> {
  return new IndexedHeap<Item>(
    (item) => item.key,
    (item) => item.index,
    (item, index) => void (item.index = index),
    (item) => item.seq,
  );
}

let seq = 0;
const item = (key: number, name = `k${key}`): Item => ({ name, key, seq: seq++, index: -1 });
/** The order the heap must hand items out in: key, then seq. */
const byKeyThenSeq = (a: Item, b: Item) => a.key - b.key || a.seq - b.seq;

function drain(h: IndexedHeap<Item>): Item[] {
  const out: Item[] = [];
  for (let top = h.pop(); top; top = h.pop()) out.push(top);
  return out;
}

describe("IndexedHeap", () => {
  it("is empty when new", () => {
    const h = heap();
    expect(h.size).toBe(0);
    expect(h.peek()).toBeUndefined();
    expect(h.pop()).toBeUndefined();
  });

  it("pops in key order, ties in seq (insertion) order", () => {
    const h = heap();
    const items = [item(5, "a"), item(1, "b"), item(5, "c"), item(3, "d"), item(1, "e"), item(5, "f")];
    for (const i of items) h.push(i);
    expect(h.peek()?.name).toBe("b");
    expect(drain(h).map((i) => i.name)).toEqual(["b", "e", "d", "a", "c", "f"]);
  });

  it("removes any item, keeps the rest in order, and forgets removed items", () => {
    const h = heap();
    const items = Array.from({ length: 20 }, (_, i) => item((i * 7) % 10));
    for (const i of items) h.push(i);
    const removed = [items[0], items[7], items[19], items[10]];
    for (const i of removed) {
      expect(h.has(i)).toBe(true);
      expect(h.remove(i)).toBe(true);
      expect(h.has(i)).toBe(false);
      expect(i.index).toBe(-1);
      expect(h.remove(i)).toBe(false); // twice: nothing happens
    }
    expect(h.size).toBe(16);
    const rest = items.filter((i) => !removed.includes(i)).sort(byKeyThenSeq);
    expect(drain(h)).toEqual(rest);
  });

  it("does not remove an item it does not hold, even one whose stored index points at another", () => {
    const h = heap();
    const a = item(1);
    const b = item(2);
    h.push(a);
    h.push(b);
    const stranger = item(0);
    stranger.index = 0; // claims a's slot
    expect(h.has(stranger)).toBe(false);
    expect(h.remove(stranger)).toBe(false);
    expect(h.size).toBe(2);
    expect(h.peek()).toBe(a);
  });

  it("an item may be pushed again after it left (re-keyed)", () => {
    const h = heap();
    const a = item(10);
    const b = item(5);
    h.push(a);
    h.push(b);
    h.remove(a);
    a.key = 1;
    h.push(a);
    expect(drain(h)).toEqual([a, b]);
  });

  type Op = { op: "push"; key: number } | { op: "pop" } | { op: "remove"; pick: number } | { op: "removeGone"; pick: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant("push" as const), key: fc.integer({ min: 0, max: 20 }) }) },
    { weight: 2, arbitrary: fc.constant({ op: "pop" as const }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("remove" as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("removeGone" as const), pick: fc.nat() }) },
  );

  it("agrees with a sorted array under any sequence of push / pop / remove", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200, size: "max" }), (ops) => {
        const h = heap();
        let model: Item[] = [];
        const gone: Item[] = [];
        for (const op of ops) {
          switch (op.op) {
            case "push": {
              const i = item(op.key);
              h.push(i);
              model.push(i);
              model.sort(byKeyThenSeq);
              break;
            }
            case "pop": {
              const top = h.pop();
              expect(top).toBe(model.shift());
              if (top) gone.push(top);
              break;
            }
            case "remove": {
              if (model.length === 0) break;
              const victim = model[op.pick % model.length];
              expect(h.remove(victim)).toBe(true);
              model = model.filter((i) => i !== victim);
              gone.push(victim);
              break;
            }
            case "removeGone": {
              if (gone.length === 0) break;
              expect(h.remove(gone[op.pick % gone.length])).toBe(false);
              break;
            }
          }
          expect(h.size).toBe(model.length);
          expect(h.peek()).toBe(model[0]);
          const held = [...h.items()].sort(byKeyThenSeq);
          const consistent = held.every((i, n) => i === model[n]) && model.every((i) => h.has(i)) && gone.every((i) => !h.has(i));
          expect(consistent, "the heap holds exactly the model's items, and knows which it holds").toBe(true);
        }
        expect(drain(h)).toEqual(model);
      }),
    );
  });
});
