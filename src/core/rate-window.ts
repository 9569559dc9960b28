/**
 * Decides a queue's `rateLimit: {max, intervalMs}` as a sliding window: at most `max` leases in
 * any `intervalMs`. Given the times of the recent leases (oldest first), how many more may be
 * granted now, which recorded leases have left the window, and when the window reopens.
 */

/** Leases at or before this time no longer count against the window at `now`. */
export function windowHorizon(now: number, intervalMs: number): number {
  return now - intervalMs;
}

/** Whether a lease recorded at `stamp` has left the window at `now`. */
export function leftWindow(stamp: number, now: number, intervalMs: number): boolean {
  return stamp <= windowHorizon(now, intervalMs);
}

/** How many more leases the window allows, with `inWindow` leases still counted. */
export function windowAllows(max: number, inWindow: number): number {
  return Math.max(0, max - inWindow);
}

/** When a full window lets the next lease through: when its oldest lease leaves it. */
export function windowReopensAt(oldestStamp: number, intervalMs: number): number {
  return oldestStamp + intervalMs;
}
