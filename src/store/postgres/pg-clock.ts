/**
 * The database's time as this process knows it (store.ts, "Time has one owner"): the process
 * clock plus the offset to the database's clock. The offset is measured over a few round trips;
 * each bounds it to [db − after, db − before], and the estimate is the middle of where those
 * bounds agree (0 when they include it, as on one machine), so it is never off by more than the
 * quickest round trip.
 */
import { systemClock, type Clock, type TimerHandle } from "../../util/clock.js";

export class DatabaseClock implements Clock {
  #offsetMs = 0;

  get offsetMs(): number {
    return this.#offsetMs;
  }

  now(): number {
    return Date.now() + this.#offsetMs;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    return systemClock.setTimer(callback, delayMs);
  }

  /** Measures the offset with `readDatabaseNow` (the database's now in epoch ms), `samples` times. */
  async measure(readDatabaseNow: () => Promise<number>, samples = 5): Promise<void> {
    let low = -Infinity;
    let high = Infinity;
    for (let i = 0; i < samples; i++) {
      const before = Date.now();
      const database = await readDatabaseNow();
      const after = Date.now();
      // The database read its clock between before and after (its ms floor may lag by one).
      low = Math.max(low, database - after);
      high = Math.min(high, database + 1 - before);
    }
    if (low > high) [low, high] = [high, low]; // clocks stepped while measuring: take the last bounds' middle
    this.#offsetMs = low <= 0 && high >= 0 ? 0 : Math.round((low + high) / 2);
  }
}
