/**
 * The Worker's source for `spool serve`: leases by long-poll, acknowledges through the ack
 * batcher, and settles failures, extends and chained publishes through the client.
 */
import { setTimeout as pause } from "node:timers/promises";
import { defaults } from "../config/defaults.js";
import type { PublishOptions } from "../config/schemas.js";
import { NotFoundError } from "../core/errors.js";
import type { LeasedMessage, PublishResult } from "../message-types.js";
import type { NackOptions, ReportOptions } from "../core/operations.js";
import type { NackOutcome } from "../core/operations.js";
import { systemClock } from "../util/clock.js";
import type { QueueWorkerDefaults, SourceLeaseRequest, WorkerHandle, WorkerSource } from "../worker/worker-source.js";
import type { AckBatcher } from "./ack-batcher.js";
import type { HttpTransport } from "./http-transport.js";
import { leaseRemote } from "./remote-lease.js";

/** How long one lease request waits on the server for work (the route allows up to 30 s). */
const LONG_POLL_MS = 20_000;
/** The pause after a long-poll that came back empty early (a server shutting down answers at once). */
const EARLY_EMPTY_PAUSE_MS = 1_000;

/** What the source needs from its client besides HTTP. */
export interface RemoteSettlement {
  /** An ack with a result goes on its own (the batcher carries plain acks). */
  ack(id: string, leaseToken: string, options: { result?: unknown }): Promise<void>;
  report(id: string, leaseToken: string, options: ReportOptions): Promise<void>;
  nack(id: string, leaseToken: string, options: NackOptions): Promise<NackOutcome>;
  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }>;
  publish(queue: string, body: unknown, options?: PublishOptions): Promise<PublishResult>;
  registerWorker(worker: WorkerHandle): void;
}

export class RemoteWorkerSource implements WorkerSource {
  readonly clock = systemClock;
  readonly longPoll = true;
  readonly #transport: HttpTransport;
  readonly #acks: AckBatcher;
  readonly #client: RemoteSettlement;

  constructor(transport: HttpTransport, acks: AckBatcher, client: RemoteSettlement) {
    this.#transport = transport;
    this.#acks = acks;
    this.#client = client;
  }

  async queueDefaults(queue: string): Promise<QueueWorkerDefaults> {
    try {
      const info = await this.#transport.request<{ options: { leaseMs: number; timeoutMs?: number } }>("GET", `/v1/queues/${encodeURIComponent(queue)}`);
      return { leaseMs: info.options.leaseMs, timeoutMs: info.options.timeoutMs };
    } catch (error) {
      // Not made yet: the first lease creates it with default options, as a publish would.
      if (error instanceof NotFoundError) return { leaseMs: defaults.queue.leaseMs, timeoutMs: defaults.queue.timeoutMs };
      throw error;
    }
  }

  async lease(queue: string, { max, leaseMs, signal }: SourceLeaseRequest): Promise<LeasedMessage<unknown>[]> {
    const startedAt = Date.now();
    const messages = await leaseRemote<unknown>(this.#transport, queue, { max, leaseMs, waitMs: LONG_POLL_MS, signal });
    if (messages.length === 0 && !signal.aborted && Date.now() - startedAt < LONG_POLL_MS / 2) {
      // Nothing, long before the wait was over: the server is not waiting for us (shutting
      // down). Asking again at once would spin.
      await pause(EARLY_EMPTY_PAUSE_MS, undefined, { signal, ref: false }).catch(() => {});
    }
    return messages;
  }

  /** No wake-ups over HTTP: the worker re-issues the long-poll instead. */
  watch(): () => void {
    return () => {};
  }

  ack(id: string, leaseToken: string, result?: string): Promise<void> {
    if (result !== undefined) return this.#client.ack(id, leaseToken, { result: JSON.parse(result) as unknown });
    return this.#acks.ack(id, leaseToken);
  }

  report(id: string, leaseToken: string, report: ReportOptions): Promise<void> {
    return this.#client.report(id, leaseToken, report);
  }

  nack(id: string, leaseToken: string, options: NackOptions): Promise<NackOutcome> {
    return this.#client.nack(id, leaseToken, options);
  }

  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }> {
    return this.#client.extend(id, leaseToken, leaseMs);
  }

  publish(queue: string, body: unknown, options?: PublishOptions): Promise<PublishResult> {
    return this.#client.publish(queue, body, options);
  }

  registerWorker(worker: WorkerHandle): void {
    this.#client.registerWorker(worker);
  }
}
