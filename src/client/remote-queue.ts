import type { PublishOptions, QueueOptions, ResolvedQueueOptions, WorkerOptions } from "../config/schemas.js";
import { WorkerOptionsSchema } from "../config/schemas.js";
import { validate } from "../config/validate.js";
import { ValidationError } from "../core/errors.js";
import type { LeasedMessage, PublishItem, PublishResult } from "../message-types.js";
import type { BrowseOptions, BrowsedMessageView, DeadLetterPageOptions, DeadLetterView, LeaseOptions, QueueStatsWithWorkers } from "../queue.js";
import type { NackOptions } from "../core/operations.js";
import type { AckRequest, AckOutcome, NackOutcome, ReplaySelection } from "../core/operations.js";
import type { QueueInfo } from "../config/schemas.js";
import { Worker, type Handler } from "../worker/worker.js";
import type { WorkerSource } from "../worker/worker-source.js";
import type { HttpTransport } from "./http-transport.js";
import { existed } from "./remote-errors.js";
import { leaseRemote } from "./remote-lease.js";
import { toWirePublish } from "./wire.js";

/** A queue's stats as the server reports them: the library's, plus rates and options. */
export interface RemoteQueueStats extends QueueStatsWithWorkers {
  rates: { publishedPerSec: number; completedPerSec: number };
  options: ResolvedQueueOptions;
}

/** What a remote queue needs from its client: settlement by id, and the workers' source. */
export interface RemoteQueueContext {
  readonly transport: HttpTransport;
  readonly source: WorkerSource;
  ack(id: string, leaseToken: string, options?: { result?: unknown }): Promise<void>;
  ackMany(items: AckRequest[]): Promise<AckOutcome[]>;
  nack(id: string, leaseToken: string, options?: NackOptions): Promise<NackOutcome>;
  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }>;
}


/**
 * A queue of `spool serve`, with the library `Queue<T>`'s methods. One difference follows from
 * the HTTP contract: reads and admin calls on a queue that does not exist yet fail with
 * `not_found` (the library creates it); publishing or leasing creates it, as in the library.
 */
export class RemoteQueue<T = unknown> {
  readonly name: string;
  readonly #client: RemoteQueueContext;
  readonly #path: string;

  /** @internal Use `client.queue(name)`. */
  constructor(client: RemoteQueueContext, name: string) {
    this.#client = client;
    this.name = name;
    this.#path = `/v1/queues/${encodeURIComponent(name)}`;
  }

  #request<R>(method: string, suffix: string, body?: unknown, query?: Record<string, string | number | undefined>): Promise<R> {
    return this.#client.transport.request<R>(method, this.#path + suffix, { body, query });
  }

  /** The options in force. */
  async info(): Promise<QueueInfo> {
    const { name, options, paused } = await this.stats();
    return { name, options, paused };
  }

  /** Creates the queue, or merges `options` into its options (needs the `admin` scope). */
  setOptions(options: QueueOptions): Promise<QueueInfo> {
    return this.#request<QueueInfo>("PUT", "", options);
  }

  publish(body: T, options?: PublishOptions): Promise<PublishResult> {
    return this.#request<PublishResult>("POST", "/messages", toWirePublish(body, options));
  }

  /** Publishes every item in one atomic request: all are enqueued or none is. */
  async publishMany(items: PublishItem<T>[]): Promise<PublishResult[]> {
    if (!Array.isArray(items)) {
      throw new ValidationError(`publishMany to "${this.name}": expected an array of {body, ...options}, got ${typeof items}`);
    }
    if (items.length === 0) return [];
    const messages = items.map((item) => (item !== null && typeof item === "object" && item.availableAt instanceof Date ? toWirePublish(item.body, item) : item));
    const answer = await this.#request<{ results: PublishResult[] }>("POST", "/messages/batch", { messages });
    return answer.results;
  }

  /**
   * Leases up to `max` messages. With `waitMs` the server holds the request until one is
   * leasable or the time is up; an aborted `signal` ends the wait with [].
   */
  lease(options: LeaseOptions = {}): Promise<LeasedMessage<T>[]> {
    return leaseRemote<T>(this.#client.transport, this.name, options);
  }

  ack(id: string, leaseToken: string, options?: { result?: unknown }): Promise<void> {
    return this.#client.ack(id, leaseToken, options);
  }

  ackMany(items: AckRequest[]): Promise<AckOutcome[]> {
    return this.#client.ackMany(items);
  }

  nack(id: string, leaseToken: string, options: NackOptions = {}): Promise<NackOutcome> {
    return this.#client.nack(id, leaseToken, options);
  }

  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }> {
    return this.#client.extend(id, leaseToken, leaseMs);
  }

  /**
   * Runs `handler` for each message, in this process, with the library's Worker: the same
   * leases, heartbeats, timeouts, retries, circuit breaker, events and close().
   */
  work(handler: Handler<T>, options: WorkerOptions = {}): Worker<T> {
    if (typeof handler !== "function") throw new ValidationError(`work on "${this.name}": handler must be a function`);
    validate(WorkerOptionsSchema, options, `worker on "${this.name}"`);
    return new Worker<T>(this.#client.source, this.name, handler, options);
  }

  /** Depths, totals, rates, options, and the circuit states of the server's own workers. */
  stats(): Promise<RemoteQueueStats> {
    return this.#request<RemoteQueueStats>("GET", "");
  }

  async pause(): Promise<void> {
    await this.#request("POST", "/pause");
  }

  async resume(): Promise<void> {
    await this.#request("POST", "/resume");
  }

  /** Removes every waiting message (ready and delayed); returns how many. */
  async purge(): Promise<number> {
    return (await this.#request<{ purged: number }>("POST", "/purge")).purged;
  }

  /** Deletes the queue, its messages and its dead letters; false if it did not exist. */
  delete(): Promise<boolean> {
    return existed(this.#request("DELETE", ""));
  }

  /** The queue's messages in one state, without leasing them (`Queue.browse`; admin scope). */
  async browse(options: BrowseOptions = {}): Promise<BrowsedMessageView<T>[]> {
    return (await this.#request<{ messages: BrowsedMessageView<T>[] }>("GET", "/messages", undefined, { state: options.state, limit: options.limit, offset: options.offset })).messages;
  }

  /** Dead letters, oldest first; pass `nextCursor` back as `cursor` for the next page. */
  deadLetters(page: DeadLetterPageOptions = {}): Promise<{ items: DeadLetterView<T>[]; nextCursor?: string }> {
    return this.#request("GET", "/dead", undefined, { cursor: page.cursor, limit: page.limit, reason: page.reason });
  }

  /** Moves dead letters back to ready with attempts reset; returns how many moved. */
  async replayDead(selection: ReplaySelection): Promise<number> {
    return (await this.#request<{ replayed: number }>("POST", "/dead/replay", selection)).replayed;
  }

  deleteDead(id: string): Promise<boolean> {
    return existed(this.#request("DELETE", `/dead/${encodeURIComponent(id)}`));
  }

  async purgeDead(): Promise<number> {
    return (await this.#request<{ purged: number }>("DELETE", "/dead")).purged;
  }
}
