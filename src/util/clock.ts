/**
 * Time as a dependency. The engine reads `now()` and arms at most one timer per store through
 * `setTimer`, so tests swap in `ManualClock` and move time with `advance(ms)` instead of waiting.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  /** Calls `callback` once, `delayMs` from now. Real timers are unref'd: they never keep a process alive. */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
}

/** The longest delay `setTimeout` holds (2^31 − 1 ms, ~24.8 days); beyond it Node fires after 1 ms. */
const MAX_TIMEOUT_MS = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    // Long delays (a message may be delayed up to 366 days) are chained in steps that fit.
    const dueAt = Date.now() + Math.max(0, delayMs);
    let timer: NodeJS.Timeout;
    const arm = (ms: number) => {
      timer = setTimeout(ms > MAX_TIMEOUT_MS ? () => arm(dueAt - Date.now()) : callback, Math.min(Math.max(0, ms), MAX_TIMEOUT_MS));
      timer.unref();
    };
    arm(delayMs);
    return { cancel: () => clearTimeout(timer) };
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to; `advance` fires due timers in time order. */
export class ManualClock implements Clock {
  #now: number;
  #timers: ManualTimer[] = [];
  #seq = 0;

  constructor(startMs = Date.UTC(2030, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer: ManualTimer = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, callback, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.#now = Math.max(this.#now, next.at);
      next.cancelled = true;
      next.callback();
    }
    this.#now = target;
  }
}
