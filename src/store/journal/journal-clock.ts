import type { Clock, TimerHandle } from "../../util/clock.js";

/**
 * The engine's clock inside the journal store. While one operation runs, time is frozen at the
 * instant recorded with it, so the live run and its replay read the same `now` however many
 * times the engine asks. During replay the engine's timers are inert (recovery re-arms them).
 * A live timer's callback runs frozen too, and `onTimer` hears whether it changed anything.
 */
export class JournalClock implements Clock {
  #frozen: number | undefined;
  replaying = false;

  constructor(
    private readonly base: Clock,
    private readonly onTimer: (run: () => void, now: number) => void,
  ) {}

  now(): number {
    return this.#frozen ?? this.base.now();
  }

  /** Stops time at `now` until `thaw(returned value)`: `frozenAt` without a closure, for the hot write path. */
  freeze(now: number): number | undefined {
    const outer = this.#frozen;
    this.#frozen = now;
    return outer;
  }

  thaw(outer: number | undefined): void {
    this.#frozen = outer;
  }

  /** Runs `fn` with time stopped at `now`. */
  frozenAt<R>(now: number, fn: () => R): R {
    const outer = this.#frozen;
    this.#frozen = now;
    try {
      return fn();
    } finally {
      this.#frozen = outer;
    }
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    if (this.replaying) return { cancel() {} };
    return this.base.setTimer(() => this.onTimer(callback, this.base.now()), delayMs);
  }
}
