import type { FailureKind } from "./core/message.js";
import type { PublishOptions } from "./config/schemas.js";
import type { PublishResult } from "./message-types.js";
import type { AckItem, AckOutcome, NackOutcome, Store } from "./store/store.js";
import type { CircuitState } from "./worker/circuit-breaker.js";
import type { WorkerHandle } from "./worker/worker-source.js";

export interface NackOptions {
  /** What went wrong: an Error (classified like a handler's throw), a message, or an explicit kind. */
  error?: Error | string | { message: string; kind?: FailureKind };
  /** Retry after exactly this long, overriding the backoff (e.g. from a Retry-After). */
  delayMs?: number;
  /** Give the message back unhandled: ready at once, and the delivery does not count as an attempt. */
  release?: boolean;
}

/** What queues and workers need from the Spool that made them. */
export interface SpoolRuntime {
  readonly store: Store;
  readonly maxBodyBytes: number;
  publish(queue: string, body: unknown, options?: PublishOptions): Promise<PublishResult>;
  ack(id: string, leaseToken: string): Promise<void>;
  ackMany(items: AckItem[]): Promise<AckOutcome[]>;
  nack(id: string, leaseToken: string, options?: NackOptions): Promise<NackOutcome>;
  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }>;
  registerWorker(worker: WorkerHandle): void;
  circuitStates(queue: string): CircuitState[];
}
