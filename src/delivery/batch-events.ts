/**
 * Batch progress as events, for SSE (`GET /v1/events`) and anything else that watches:
 *   `batch:progress`  a batch's summary, at most once per `intervalMs` per batch (trailing: the
 *                     last change is always reported)
 *   `batch:completed` once, when every recipient reached a final status (preceded by a last
 *                     `batch:progress`); once more if a replayed job reopened it and it completes again
 */
import { EventEmitter } from "node:events";
import type { BatchState } from "./delivery-state.js";
import { summarize, type BatchSummary, type DeliveryMessageLog } from "./message-log.js";
import { defaults } from "../config/defaults.js";

export interface BatchEventMap {
  "batch:progress": [BatchSummary];
  "batch:completed": [BatchSummary];
}

export class BatchEvents extends EventEmitter<BatchEventMap> {
  readonly #intervalMs: number;
  readonly #dirty = new Map<string, BatchState>();
  readonly #announced = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  readonly #unsubscribe: () => void;
  readonly #unsubscribeForget: () => void;

  constructor(log: DeliveryMessageLog, intervalMs: number = defaults.delivery.progressIntervalMs) {
    super();
    this.#intervalMs = intervalMs;
    this.#unsubscribe = log.onBatchChange((batch) => this.#changed(batch));
    this.#unsubscribeForget = log.onForget((batchId) => {
      this.#announced.delete(batchId);
      this.#dirty.delete(batchId);
    });
  }

  #changed(batch: BatchState): void {
    // Reopened by a replayed job: its next completion is announced again.
    if (batch.completedAt === undefined && this.#announced.size > 0) this.#announced.delete(batch.id);
    if (this.listenerCount("batch:progress") === 0 && this.listenerCount("batch:completed") === 0) return;
    this.#dirty.set(batch.id, batch);
    if (batch.completedAt !== undefined && !this.#announced.has(batch.id)) {
      this.#announced.add(batch.id);
      this.#dirty.delete(batch.id);
      const summary = summarize(batch);
      this.emit("batch:progress", summary);
      this.emit("batch:completed", summary);
      return;
    }
    this.#timer ??= setTimeout(() => this.#flush(), this.#intervalMs);
  }

  #flush(): void {
    this.#timer = undefined;
    const batches = [...this.#dirty.values()];
    this.#dirty.clear();
    for (const batch of batches) this.emit("batch:progress", summarize(batch));
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#unsubscribe();
    this.#unsubscribeForget();
    this.removeAllListeners();
  }
}
