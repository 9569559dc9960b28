/**
 * What a Worker needs from wherever its messages come from. Two implementations:
 * `LocalWorkerSource` (a Spool in this process: store wake-ups, no waiting in `lease`) and the
 * client's `RemoteWorkerSource` (`spool serve` over HTTP: `lease` long-polls). The Worker itself
 * (concurrency, heartbeats, timeouts, retries, circuit breaker, close) is the same code for both.
 */
import type { PublishOptions } from "../config/schemas.js";
import type { LeasedMessage, PublishResult } from "../message-types.js";
import type { NackOptions, ReportOptions } from "../core/operations.js";
import type { NackOutcome } from "../core/operations.js";
import type { Clock } from "../util/clock.js";
import type { CircuitState } from "./circuit-breaker.js";

export interface SourceLeaseRequest {
  max: number;
  leaseMs: number;
  /** Aborted when the worker closes: a source that waits in `lease` returns [] at once. */
  signal: AbortSignal;
}

/** What a source keeps of a worker, so closing the source's owner closes its workers. */
export interface WorkerHandle {
  readonly queue: string;
  readonly circuitState: CircuitState | undefined;
  readonly closed: boolean;
  scale(concurrency: number): void;
  close(): Promise<void>;
}

/** What a worker takes from its queue's options unless its own options say otherwise. */
export interface QueueWorkerDefaults {
  /** The lease length, ms. */
  leaseMs: number;
  /** The handler timeout, ms (undefined: none). */
  timeoutMs: number | undefined;
}

export interface WorkerSource {
  /** Drives timeouts, heartbeats and the circuit breaker's open period. */
  readonly clock: Clock;
  /**
   * How the worker hears of new work once a lease comes back short:
   * - `false`: `lease` answers at once, and `watch` calls back whenever the queue may have become
   *   leasable (the worker leases again then; nothing polls);
   * - `true`: `lease` itself waits until something is leasable (or its wait is over, or the
   *   signal aborts), so the worker re-issues it for as long as it has free slots.
   */
  readonly longPoll: boolean;
  /**
   * Lease calls the worker may keep in flight at once (default 1), each for its share of the
   * free slots; the slots a call asked for stay reserved until it answers.
   */
  readonly leasesInFlight?: number;
  /** Waits until `queue` can be leased from, and gives the defaults its workers take from it. */
  queueDefaults(queue: string): Promise<QueueWorkerDefaults>;
  /** Leases up to `max` messages with their bodies decoded. */
  lease(queue: string, request: SourceLeaseRequest): Promise<LeasedMessage<unknown>[]>;
  /** Subscribes `wake` to the queue's wake-ups; returns an unsubscribe. A no-op for long-poll sources. */
  watch(queue: string, wake: () => void): () => void;
  /** `result`: the handler's result as JSON text (checked by the worker), kept with the completed status. */
  ack(id: string, leaseToken: string, result?: string): Promise<void>;
  /** `ctx.progress` and `ctx.log`: what the handler reports on its leased message (Spool.report). */
  report(id: string, leaseToken: string, report: ReportOptions): Promise<void>;
  nack(id: string, leaseToken: string, options: NackOptions): Promise<NackOutcome>;
  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }>;
  /** For `ctx.publish` (the Handling sets correlationId and causationId). */
  publish(queue: string, body: unknown, options?: PublishOptions): Promise<PublishResult>;
  /** Called once by each new worker; throws `unavailable` when the owner is closed. */
  registerWorker(worker: WorkerHandle): void;
}
