/**
 * Time in either clock mode. On a ManualClock a test pins instants exactly; on the system clock
 * it cannot, but it can bracket a call with the store's clock: whatever "now" the store used for
 * the call lies in [from, to], so a deadline the call set is `offset` after some instant in that
 * window, and a state read before a deadline (`from < dueAt`) or after it (`to >= dueAt`) must
 * agree with it. On a ManualClock from === to, and the same checks are exact.
 */
import { expect } from "vitest";
import type { Store } from "../../../src/index.js";
import { pollUntil } from "../../helpers/poll-until.js";

/**
 * How early a timer may look on the system clock: timers count on the monotonic clock, the store's
 * clock reads wall-clock milliseconds, so a timer of N ms can be seen to fire N - 1 ms after it
 * was armed. Only for what a timer alone decides (a timeout, an open circuit, a long poll's wait);
 * what the store decides against its clock (a delay, a lease's end) is held exactly.
 */
export const TIMER_SLACK_MS = 1;

export interface Timed<T> {
  value: T;
  /** The store's clock just before the call. */
  from: number;
  /** The store's clock just after the call settled. */
  to: number;
}

/** Runs `action`, noting the store's clock before and after it. */
export async function timed<T>(store: Store, action: () => Promise<T>): Promise<Timed<T>> {
  const from = store.clock.now();
  const value = await action();
  const to = store.clock.now();
  return { value, from, to };
}

/** `at` is `offsetMs` after the instant the store used for the call `window` bracketed. */
export function expectSetDuring(at: number | undefined, window: { from: number; to: number }, offsetMs: number, what = "the time"): void {
  expect(at, `${what}: ${offsetMs} ms after the call`).toBeGreaterThanOrEqual(window.from + offsetMs);
  expect(at, `${what}: ${offsetMs} ms after the call`).toBeLessThanOrEqual(window.to + offsetMs);
}

/** Waits (polling, no fixed sleep) until the store's clock has reached `at`. */
export async function waitForClock(store: Store, at: number, what = `the clock to reach ${at}`): Promise<void> {
  await pollUntil(() => store.clock.now() >= at, { what, timeoutMs: Math.max(10_000, at - store.clock.now() + 10_000) });
}

/**
 * Reads until `changed(value)`, on the system clock, and holds every read to the deadline `dueAt`:
 * an unchanged read must have started before dueAt (the change is not late), the changed one must
 * have ended at or after it (not early). Returns the first changed value.
 */
export async function observeChange<T>(
  store: Store,
  dueAt: number,
  read: () => Promise<T>,
  changed: (value: T) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + Math.max(timeoutMs, dueAt - store.clock.now() + timeoutMs);
  for (;;) {
    const { value, from, to } = await timed(store, read);
    if (changed(value)) {
      expect(to, `${what}: changed before it was due (${dueAt - to} ms early)`).toBeGreaterThanOrEqual(dueAt);
      return value;
    }
    expect(from, `${what}: not changed ${from - dueAt} ms after it was due`).toBeLessThan(dueAt);
    if (Date.now() > deadline) throw new Error(`${what}: no change within ${timeoutMs} ms of its due time`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
