/**
 * One stats snapshot a second for every open stats stream (routes/stats-stream.ts): the store is
 * read once per tick however many dashboards are open, and only while at least one is. Each
 * stream filters the snapshot down to the queues its key reaches.
 */
import type { Spool } from "../spool.js";
import type { QueueRateTracker } from "./queue-rates.js";
import { allQueueStats, type QueueStatsView } from "./queue-stats.js";

/** The documented rate of `event: stats` (docs/http-api.md, docs/dashboard.md). */
export const STATS_INTERVAL_MS = 1000;

export interface StatsSnapshot {
  /** The server's clock when the snapshot was read (ms since the epoch). */
  at: number;
  queues: QueueStatsView[];
  /** What `GET /health/ready` would answer now. */
  health: { status: "ready" | "unavailable"; problem?: string };
  /** The store's kind and, while writes fail, why. */
  store: { name: string; writeProblem?: string };
}

type Listener = (snapshot: StatsSnapshot) => void;

export class StatsBroadcast {
  readonly #spool: Spool;
  readonly #rates: QueueRateTracker;
  readonly #shutdown: AbortSignal;
  readonly #listeners = new Set<Listener>();
  #timer: NodeJS.Timeout | undefined;
  #reading = false;
  #last: StatsSnapshot | undefined;

  constructor(spool: Spool, rates: QueueRateTracker, shutdown: AbortSignal) {
    this.#spool = spool;
    this.#rates = rates;
    this.#shutdown = shutdown;
  }

  /** Calls `listener` with every snapshot from now on (the latest one at once, if there is one); returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.#tick(), STATS_INTERVAL_MS);
      this.#timer.unref();
      void this.#tick();
    } else if (this.#last !== undefined) {
      listener(this.#last);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.close();
    };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#last = undefined;
  }

  async #tick(): Promise<void> {
    // A slow store skips a tick rather than piling reads up behind one another.
    if (this.#reading) return;
    this.#reading = true;
    try {
      const snapshot = await this.#read();
      this.#last = snapshot;
      for (const listener of [...this.#listeners]) listener(snapshot);
    } catch {
      // The store could not be read now (closing, faulted): the next tick tries again.
    } finally {
      this.#reading = false;
    }
  }

  async #read(): Promise<StatsSnapshot> {
    const spool = this.#spool;
    const [queues, problem] = await Promise.all([
      allQueueStats(spool, this.#rates, () => true),
      this.#shutdown.aborted ? Promise.resolve("the server is shutting down") : spool.readinessProblem(),
    ]);
    const writeProblem = spool.writeProblem();
    return {
      at: spool.clock.now(),
      queues,
      health: problem === undefined ? { status: "ready" } : { status: "unavailable", problem },
      store: writeProblem === undefined ? { name: spool.store.name } : { name: spool.store.name, writeProblem },
    };
  }
}
