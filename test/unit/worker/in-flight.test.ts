import { describe, expect, it } from "vitest";
import type { Handling } from "../../../src/worker/handling.js";
import { InFlight } from "../../../src/worker/in-flight.js";

/** Just the list links of a Handling. */
const delivery = (name: string) => ({ name, inFlight: false, inFlightPrev: undefined, inFlightNext: undefined }) as unknown as Handling & { name: string };
const names = (list: InFlight) => list.toArray().map((d) => (d as Handling & { name: string }).name);

describe("InFlight", () => {
  it("adds, removes from anywhere, and ignores what is not in it", () => {
    const list = new InFlight();
    const [a, b, c, d] = ["a", "b", "c", "d"].map(delivery);
    for (const x of [a, b, c, d]) list.add(x);
    expect(list.size).toBe(4);
    expect(names(list)).toEqual(["d", "c", "b", "a"]);
    list.remove(b); // middle
    list.remove(d); // head
    list.remove(a); // tail
    list.remove(a); // again: nothing
    expect(names(list)).toEqual(["c"]);
    expect(list.size).toBe(1);
    list.remove(c);
    expect(list.size).toBe(0);
    expect(names(list)).toEqual([]);
    list.add(b);
    expect(names(list)).toEqual(["b"]);
  });

  it("tracks two deliveries of the same message separately", () => {
    const list = new InFlight();
    const first = delivery("m1");
    const second = delivery("m1");
    list.add(first);
    list.add(second);
    list.remove(first);
    expect(list.size).toBe(1);
    expect(list.toArray()[0]).toBe(second);
  });
});
