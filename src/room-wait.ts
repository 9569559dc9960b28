/**
 * A producer that waits (overflow `block`, seed 001's bounded channel): the store refuses a
 * publish to a full queue atomically (`queue_full`), and the producer tries again until it fits,
 * `waitMs` passes (the `queue_full` is then the answer) or `signal` aborts (its reason is thrown).
 * Room appears when a consumer takes a message, in any process, and no store signals it, so the
 * producer looks again after 10 ms, doubling to 200 ms, on the store's clock. A publish inside
 * the caller's transaction never waits: the refused statement has aborted that transaction.
 */
import { QueueFullError } from "./core/errors.js";
import type { CallSettings } from "./publish-input.js";
import { waitForWake } from "./util/abort.js";
import type { Clock } from "./util/clock.js";

const FIRST_LOOK_MS = 10;
const LONGEST_LOOK_MS = 200;
const NEVER_WOKEN = () => () => {};

export async function publishWhenRoom<R>(publish: () => Promise<R>, clock: Clock, call: CallSettings): Promise<R> {
  const { signal } = call;
  signal?.throwIfAborted();
  const deadline = clock.now() + call.waitMs;
  let lookMs = FIRST_LOOK_MS;
  for (;;) {
    try {
      return await publish();
    } catch (error) {
      if (!(error instanceof QueueFullError) || error.overflow !== "block" || call.transaction !== undefined) throw error;
      const left = deadline - clock.now();
      if (left <= 0) throw error;
      if ((await waitForWake(NEVER_WOKEN, Math.min(lookMs, left), clock, signal)) === "aborted") signal?.throwIfAborted();
      lookMs = Math.min(lookMs * 2, LONGEST_LOOK_MS);
    }
  }
}
