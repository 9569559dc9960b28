/**
 * Retention of batches (`delivery.retentionMs`, default 7 days): a batch that has been complete
 * for that long is forgotten — its state, its recipients' log, its template copy and its
 * idempotency key — by a durable `forget` record (delivery-state.ts), which replay applies again
 * and snapshots no longer contain. A batch that is not complete is never forgotten (the record
 * itself is refused for one).
 *
 *   cost    completed batches wait in a min-heap by completion time (`DeliveryState.completions`);
 *           one timer is armed for the earliest; when it fires, every batch due is forgotten and
 *           the timer re-armed for the next. No scan of batches or recipients, ever.
 *   reopen  a batch reopened by a replayed job (its heap entry is then stale and skipped) is
 *           pushed again when it completes again, and kept for a full period from then.
 *   restart the heap is rebuilt from the snapshot and the replayed records; batches that fell
 *           due while the server was down are forgotten on start.
 */
import type { Logger } from "pino";
import { systemClock, type Clock, type TimerHandle } from "../util/clock.js";
import type { DeliveryStorage } from "./storage/delivery-storage.js";
import type { DeliveryMessageLog } from "./message-log.js";
import { defaults } from "../config/defaults.js";


/** The timer is re-armed at least this often, so a clock that jumps is noticed within the hour. */
const MAX_WAIT_MS = 3_600_000;
const RETRY_AFTER_FAULT_MS = 1_000;

export interface RetentionOptions {
  retentionMs?: number;
  /** Must tell the same time as the log's timestamps (Date.now): the default. */
  clock?: Clock;
  logger?: Pick<Logger, "warn">;
}

export class BatchRetention {
  readonly retentionMs: number;
  readonly #store: DeliveryStorage;
  readonly #clock: Clock;
  readonly #logger: RetentionOptions["logger"];
  readonly #unsubscribe: () => void;
  #timer: TimerHandle | undefined;
  #timerAt = Infinity;
  /** After a refused write: no sweep before this time. */
  #notBefore = 0;
  #sweeping: Promise<void> | undefined;
  #closed = false;

  constructor(store: DeliveryStorage, log: DeliveryMessageLog, options: RetentionOptions = {}) {
    this.#store = store;
    this.retentionMs = options.retentionMs ?? defaults.delivery.retentionMs;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    // A batch completing now is due after every batch already waiting: arm only if nothing is.
    this.#unsubscribe = log.onBatchChange((batch) => {
      if (batch.completedAt !== undefined && this.#timer === undefined && this.#sweeping === undefined) this.#arm();
    });
  }

  start(): void {
    this.#arm();
  }

  /** Forgets every batch due now; resolves when their records are durable. */
  sweep(): Promise<void> {
    this.#sweeping ??= this.#sweep().finally(() => {
      this.#sweeping = undefined;
      this.#arm();
    });
    return this.#sweeping;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    this.#cancel();
    await this.#sweeping?.catch(() => undefined);
  }

  /** The earliest completion still standing (stale heap entries are dropped on the way). */
  #next(): { at: number; batchId: string } | undefined {
    const state = this.#store.state;
    const top = state.completions.peek((batch, at) => state.isCompletedAt(batch, at));
    return top && { at: top.at, batchId: top.batch.id };
  }

  #arm(): void {
    if (this.#closed) return;
    const next = this.#next();
    if (next === undefined) {
      this.#cancel();
      return;
    }
    const dueAt = Math.max(next.at + this.retentionMs, this.#notBefore);
    if (this.#timer !== undefined && this.#timerAt <= dueAt) return;
    this.#cancel();
    this.#timerAt = dueAt;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      void this.sweep();
    }, Math.min(Math.max(0, dueAt - this.#clock.now()), MAX_WAIT_MS));
  }

  #cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  async #sweep(): Promise<void> {
    const forgotten: string[] = [];
    try {
      for (let next = this.#next(); next !== undefined && !this.#closed; next = this.#next()) {
        if (next.at + this.retentionMs > this.#clock.now()) break;
        // Applied at once (the batch leaves the heap's live entries); resolves when durable.
        const written = await this.#store.write({ k: "forget", b: next.batchId, t: this.#clock.now() });
        // Refused: not expected of a live entry, unless another process sharing the storage forgot it first.
        if (!written && this.#store.state.batches.has(next.batchId)) throw new Error(`batch "${next.batchId}" could not be forgotten`);
        forgotten.push(next.batchId);
      }
      this.#notBefore = 0;
    } catch (error) {
      // A refused write (the store then rebuilds from disk): try again a little later, not at once.
      this.#logger?.warn({ err: error, retryInMs: RETRY_AFTER_FAULT_MS }, "forgetting expired batches failed; retrying");
      this.#notBefore = this.#clock.now() + RETRY_AFTER_FAULT_MS;
    }
    // A complete batch's recipient file is normally gone already; this catches one a crash left.
    for (const batchId of forgotten) await this.#store.recipients.remove(batchId).catch(() => undefined);
  }
}
