import type { PublishOptions } from "./config/schemas.js";
import { decodeLeased, type LeasedMessage, type PublishResult } from "./message-types.js";
import type { SpoolRuntime } from "./runtime.js";
import type { NackOptions, ReportOptions } from "./core/operations.js";
import type { NackOutcome } from "./core/operations.js";
import type { QueueInfo } from "./config/schemas.js";
import type { Clock } from "./util/clock.js";
import type { QueueWorkerDefaults, SourceLeaseRequest, WorkerHandle, WorkerSource } from "./worker/worker-source.js";

/**
 * A worker's source in the Spool's own process: leases straight from the store and wakes on the
 * store's `watch` signals, so an idle worker costs nothing and a publish reaches it at once.
 */
export class LocalWorkerSource implements WorkerSource {
  readonly longPoll = false;
  readonly #runtime: SpoolRuntime;
  readonly #declaration: () => Promise<QueueInfo>;

  /**
   * `declaration`: the queue's declaration, which the worker waits for before its first lease.
   * A function, not a promise: a declaration that failed (the store was unreachable) is made
   * again when the worker retries, rather than failing the same way for ever.
   */
  constructor(runtime: SpoolRuntime, declaration: () => Promise<QueueInfo>) {
    this.#runtime = runtime;
    this.#declaration = declaration;
  }

  get clock(): Clock {
    return this.#runtime.store.clock;
  }

  get leasesInFlight(): number {
    return this.#runtime.store.leasesInFlight ?? 1;
  }

  async queueDefaults(): Promise<QueueWorkerDefaults> {
    const { leaseMs, timeoutMs } = (await this.#declaration()).options;
    return { leaseMs, timeoutMs };
  }

  async lease(queue: string, request: SourceLeaseRequest): Promise<LeasedMessage<unknown>[]> {
    const leased = await this.#runtime.store.lease(queue, { max: request.max, leaseMs: request.leaseMs });
    // Decoded in place: the store's objects become the handlers' messages.
    for (const message of leased) decodeLeased(message);
    return leased as unknown as LeasedMessage<unknown>[];
  }

  watch(queue: string, wake: () => void): () => void {
    return this.#runtime.store.watch(queue, wake);
  }

  ack(id: string, leaseToken: string, result?: string): Promise<void> {
    // A result comes encoded and checked by the worker: straight to the store.
    return result === undefined ? this.#runtime.ack(id, leaseToken) : this.#runtime.store.ack(id, leaseToken, result);
  }

  report(id: string, leaseToken: string, report: ReportOptions): Promise<void> {
    return this.#runtime.report(id, leaseToken, report);
  }

  nack(id: string, leaseToken: string, options: NackOptions): Promise<NackOutcome> {
    return this.#runtime.nack(id, leaseToken, options);
  }

  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }> {
    return this.#runtime.extend(id, leaseToken, leaseMs);
  }

  publish(queue: string, body: unknown, options?: PublishOptions): Promise<PublishResult> {
    return this.#runtime.publish(queue, body, options);
  }

  registerWorker(worker: WorkerHandle): void {
    this.#runtime.registerWorker(worker);
  }
}
