import { Deque } from "./deque.js";

/**
 * A sliding-window limit: at most `max` leases in any `intervalMs`. Keeps the times of the
 * last `max` leases; the oldest one's expiry is when the window reopens.
 */
export class SlidingWindowLimiter {
  readonly #stamps = new Deque<number>();
  constructor(
    readonly max: number,
    readonly intervalMs: number,
  ) {}

  /** How many leases may be granted at `now`. */
  available(now: number): number {
    const horizon = now - this.intervalMs;
    while (this.#stamps.length > 0 && (this.#stamps.peekFront() as number) <= horizon) this.#stamps.shift();
    return this.max - this.#stamps.length;
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
    return oldest === undefined ? undefined : oldest + this.intervalMs;
  }
}
