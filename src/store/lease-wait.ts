/**
 * Long-poll leasing over any store: lease now, or wait for the queue's next wake-up and try
 * again until something comes, the time is up, or the signal aborts.
 */
import type { LeasedStoredMessage } from "../core/message.js";
import { waitForWake } from "../util/abort.js";
import type { Store } from "./store.js";
import type { LeaseRequest } from "../core/operations.js";

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
    for (;;) {
      woken = false;
      const leased = await store.lease(queue, request);
      if (leased.length > 0) return leased;
      const remaining = deadline - store.clock.now();
      if (remaining <= 0 || signal?.aborted) return [];
      if (woken) continue;
      const subscribe = (wake: () => void) => {
        notify = wake;
        return () => void (notify = undefined);
      };
      const why = await waitForWake(subscribe, remaining, store.clock, signal);
      if (why !== "woken") return [];
    }
  } finally {
    unwatch();
  }
}
