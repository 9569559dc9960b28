import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Deque } from "../../../src/util/deque.js";

type Op = { op: "push"; value: number } | { op: "shift" } | { op: "peek" } | { op: "clear" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant("push" as const), value: fc.integer() }) },
  { weight: 4, arbitrary: fc.constant({ op: "shift" as const }) },
  { weight: 2, arbitrary: fc.constant({ op: "peek" as const }) },
  { weight: 1, arbitrary: fc.constant({ op: "clear" as const }) },
);

describe("Deque", () => {
  it("is empty when new", () => {
    const deque = new Deque<number>();
    expect(deque.length).toBe(0);
    expect(deque.shift()).toBeUndefined();
    expect(deque.peekFront()).toBeUndefined();
    expect([...deque]).toEqual([]);
  });

  it("is first in, first out across growth and wrap-around", () => {
    const deque = new Deque<number>();
    let next = 0;
    let expected = 0;
    // Keep the ring partly full while the head walks around it, then grow it several times.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 10; i++) deque.push(next++);
      for (let i = 0; i < 7; i++) expect(deque.shift()).toBe(expected++);
    }
    expect(deque.length).toBe(next - expected);
    expect([...deque]).toEqual(Array.from({ length: next - expected }, (_, i) => expected + i));
    while (deque.length > 0) expect(deque.shift()).toBe(expected++);
    expect(expected).toBe(next);
  });

  it("keeps undefined-free values exactly, including falsy ones", () => {
    const deque = new Deque<number | string | null>();
    for (const value of [0, "", null, 1]) deque.push(value);
    expect([deque.shift(), deque.shift(), deque.shift(), deque.shift()]).toEqual([0, "", null, 1]);
  });

  it("clear() empties it and it stays usable", () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 40; i++) deque.push(i);
    deque.clear();
    expect(deque.length).toBe(0);
    expect(deque.peekFront()).toBeUndefined();
    deque.push(7);
    expect([...deque]).toEqual([7]);
  });

  it("behaves like an array used as a queue (push / shift), for any sequence of operations", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300, size: "max" }), (ops) => {
        const deque = new Deque<number>();
        let model: number[] = [];
        for (const op of ops) {
          switch (op.op) {
            case "push":
              deque.push(op.value);
              model.push(op.value);
              break;
            case "shift":
              expect(deque.shift()).toBe(model.shift());
              break;
            case "peek":
              expect(deque.peekFront()).toBe(model[0]);
              break;
            case "clear":
              deque.clear();
              model = [];
              break;
          }
          expect(deque.length).toBe(model.length);
        }
        expect([...deque]).toEqual(model);
      }),
    );
  });
});
