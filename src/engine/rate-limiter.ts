import { leftWindow, windowAllows, windowReopensAt } from "../core/rate-window.js";
import { Deque } from "../util/deque.js";

/**
 * A queue's rate limit (core/rate-window.ts decides): keeps the times of the last `max` leases;
 * the oldest one's exit from the window is when it reopens.
 */
export class SlidingWindowLimiter {
  readonly #stamps = new Deque<number>();
  constructor(
    readonly max: number,
    readonly intervalMs: number,
  ) {}

  /** How many leases may be granted at `now`. */
  available(now: number): number {
    while (this.#stamps.length > 0 && leftWindow(this.#stamps.peekFront() as number, now, this.intervalMs)) this.#stamps.shift();
    return windowAllows(this.max, this.#stamps.length);
  }

  record(now: number, count: number): void {
    for (let i = 0; i < count; i++) this.#stamps.push(now);
  }

  /** The recorded lease times, oldest first (for snapshots). */
  stamps(): number[] {
    return [...this.#stamps];
  }

  /** When the next lease becomes allowed, if none is allowed now. */
  reopensAt(): number | undefined {
    const oldest = this.#stamps.peekFront();
    return oldest === undefined ? undefined : windowReopensAt(oldest, this.intervalMs);
  }
}
