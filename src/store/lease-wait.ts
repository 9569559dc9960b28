/**
 * Long-poll leasing over any store: lease now, or wait for the queue's next wake-up and try
 * again until something comes, the time is up, or the signal aborts.
 *
 * A store that becomes unavailable while the poll is parked (a database connection lost, the
 * server restarting) does not end the wait: the poll keeps waiting for a wake-up (a store wakes
 * every watcher once its connection is back) and tries again at least every `FAULT_RETRY_MS`, so
 * it resumes by itself when the store does. Only the first attempt's failure, or a failure still
 * there at the deadline, reaches the caller (HTTP 503).
 */
import { SpoolError } from "../core/errors.js";
import type { LeasedStoredMessage } from "../core/message.js";
import { waitForWake } from "../util/abort.js";
import type { Store } from "./store.js";
import type { LeaseRequest } from "../core/operations.js";

/** How often a parked poll tries again while its store is unavailable. */
const FAULT_RETRY_MS = 1_000;

export async function leaseWithWait(
  store: Store,
  queue: string,
  request: LeaseRequest,
  waitMs: number,
  signal?: AbortSignal,
): Promise<LeasedStoredMessage[]> {
  if (signal?.aborted) return []; // nobody is waiting for what we would take
  if (waitMs === 0) return store.lease(queue, request);
  // Watch before each lease attempt, so a wake-up that lands while the lease call is in
  // flight is not lost (it would otherwise come before we subscribe, and we would sleep).
  const deadline = store.clock.now() + waitMs;
  let woken = false;
  let notify: (() => void) | undefined;
  const unwatch = store.watch(queue, () => {
    woken = true;
    notify?.();
  });
  try {
    /** The last attempt's `unavailable`, once parked. */
    let fault: SpoolError | undefined;
    for (let first = true; ; first = false) {
      woken = false;
      let leased: LeasedStoredMessage[] = [];
      try {
        leased = await store.lease(queue, request);
        fault = undefined;
      } catch (error) {
        if (first || !(error instanceof SpoolError && error.code === "unavailable")) throw error;
        fault = error;
      }
      if (leased.length > 0) return leased;
      const remaining = deadline - store.clock.now();
      if (signal?.aborted) return [];
      if (remaining <= 0) {
        if (fault) throw fault;
        return [];
      }
      if (woken) continue;
      const subscribe = (wake: () => void) => {
        notify = wake;
        return () => void (notify = undefined);
      };
      const why = await waitForWake(subscribe, fault ? Math.min(remaining, FAULT_RETRY_MS) : remaining, store.clock, signal);
      if (why === "aborted") return [];
      // A timeout with a fault is the retry; the deadline is checked after it.
      if (why === "timeout" && !fault) return [];
    }
  } finally {
    unwatch();
  }
}
