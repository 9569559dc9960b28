/**
 * The expander's flow control: a chunk of delivery jobs is published only while the channel's
 * queue holds (ready, delayed or leased) at most `maxQueued` jobs with the chunk counted in, or
 * holds none (so a chunk larger than the bound still goes). The recipients behind wait in the
 * recipient file, `pending`, instead of in the engine: every job the engine holds costs a row,
 * a body and an ordering group, and a million of them at once cost gigabytes.
 *
 * A wait ends early once enough status moves were seen (`onMove`: each may be a job leaving the
 * queue) and is checked again every `recheckMs` regardless, for what the log does not see (a
 * websocket job held for an offline recipient completes without a move, a purge, consumers in
 * another process).
 */
import { SpoolError } from "../core/errors.js";
import type { Spool } from "../spool.js";
import { waitForWake } from "../util/abort.js";
import { systemClock, type Clock } from "../util/clock.js";

export interface QueueRoomOptions {
  maxQueued: number;
  /** Subscribes to status moves; returns an unsubscribe. */
  onMove?: (listener: () => void) => () => void;
  recheckMs?: number;
  clock?: Clock;
}

const RECHECK_MS = 250;

export class QueueRoom {
  readonly maxQueued: number;
  readonly #spool: Spool;
  readonly #onMove: QueueRoomOptions["onMove"];
  readonly #recheckMs: number;
  readonly #clock: Clock;

  constructor(spool: Spool, options: QueueRoomOptions) {
    this.#spool = spool;
    this.maxQueued = Math.max(1, options.maxQueued);
    this.#onMove = options.onMove;
    this.#recheckMs = options.recheckMs ?? RECHECK_MS;
    this.#clock = options.clock ?? systemClock;
  }

  /** Resolves true once `queue` has room for `count` more jobs; false if `signal` aborts first. */
  async wait(queue: string, count: number, signal: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal.aborted) return false;
      const held = await this.#held(queue);
      const over = held + count - this.maxQueued;
      if (over <= 0 || held === 0) return true;
      const onMove = this.#onMove;
      const subscribe = (wake: () => void) => {
        if (!onMove) return () => undefined;
        let moves = 0;
        return onMove(() => {
          if (++moves >= over) wake();
        });
      };
      await waitForWake(subscribe, this.#recheckMs, this.#clock, signal);
    }
  }

  /** Jobs the queue holds; none for a queue not created yet. */
  async #held(queue: string): Promise<number> {
    try {
      const stats = await this.#spool.queueStats(queue);
      return stats.ready + stats.delayed + stats.leased;
    } catch (error) {
      if (error instanceof SpoolError && error.code === "not_found") return 0;
      throw error;
    }
  }
}
