import type { PublishOptions } from "./config/schemas.js";
import type { AckOutcome, AckRequest, NackOptions, NackOutcome, PublishOutcome, ReportOptions } from "./core/operations.js";
import type { PublishResult } from "./message-types.js";
import type { Store } from "./store/store.js";
import type { CircuitState } from "./worker/circuit-breaker.js";
import type { WorkerHandle } from "./worker/worker-source.js";

/** What queues and workers need from the Spool that made them. */
export interface SpoolRuntime {
  readonly store: Store;
  readonly maxBodyBytes: number;
  publish(queue: string, body: unknown, options?: PublishOptions): Promise<PublishResult>;
  ack(id: string, leaseToken: string, options?: { result?: unknown }): Promise<void>;
  ackMany(items: AckRequest[]): Promise<AckOutcome[]>;
  report(id: string, leaseToken: string, options: ReportOptions): Promise<void>;
  nack(id: string, leaseToken: string, options?: NackOptions): Promise<NackOutcome>;
  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }>;
  registerWorker(worker: WorkerHandle): void;
  circuitStates(queue: string): CircuitState[];
  /** Tells the publish observers (metrics) what a publish did; costs one check when there are none. */
  notePublished(outcomes: readonly PublishOutcome[]): void;
}
