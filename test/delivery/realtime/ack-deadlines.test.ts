import { describe, expect, it } from "vitest";
import { AckDeadlines } from "../../../src/delivery/realtime/ack-deadlines.js";
import { ManualClock } from "../../../src/util/clock.js";

describe("AckDeadlines", () => {
  it("fires each deadline once, a timeout after it started, in start order", () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const deadlines = new AckDeadlines<string>(clock, 100, (item) => fired.push(item));
    deadlines.start("a");
    clock.advance(30);
    deadlines.start("b");
    clock.advance(69);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(["a"]);
    clock.advance(30);
    expect(fired).toEqual(["a", "b"]);
    clock.advance(1000);
    expect(fired).toEqual(["a", "b"]);
  });

  it("never fires a cancelled deadline, and drops it when it reaches the front", () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const deadlines = new AckDeadlines<number>(clock, 10, (item) => fired.push(item));
    const handles = Array.from({ length: 1000 }, (_, i) => deadlines.start(i));
    handles.forEach((h, i) => i % 2 === 0 && h.cancel());
    clock.advance(10);
    expect(fired).toHaveLength(500);
    expect(fired.every((n) => n % 2 === 1)).toBe(true);
    expect(deadlines.size).toBe(0);
  });

  it("lets onDue start a new deadline (a redelivery), due a whole timeout later", () => {
    const clock = new ManualClock();
    const at: number[] = [];
    const deadlines = new AckDeadlines<string>(clock, 50, (item) => {
      at.push(clock.now());
      if (at.length < 3) deadlines.start(item);
    });
    const t0 = clock.now();
    deadlines.start("x");
    clock.advance(500);
    expect(at.map((t) => t - t0)).toEqual([50, 100, 150]);
  });

  it("stops on close", () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const deadlines = new AckDeadlines<string>(clock, 10, (item) => fired.push(item));
    deadlines.start("a");
    deadlines.close();
    expect(deadlines.start("b").cancelled).toBe(true);
    clock.advance(100);
    expect(fired).toEqual([]);
  });
});
