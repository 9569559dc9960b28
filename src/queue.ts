import { QueueOptionsSchema, WorkerOptionsSchema, type PublishOptions, type QueueOptions, type WorkerOptions } from "./config/schemas.js";
import { resolveQueueOptions } from "./config/resolve.js";
import { validate } from "./config/validate.js";
import { ValidationError } from "./core/errors.js";
import type { LeasedStoredMessage } from "./core/message.js";
import { decodeLeased, type LeasedMessage, type PublishCallOptions, type PublishItem, type PublishResult } from "./message-types.js";
import { hasActiveSpan, injectTraceContext, injectTraceContextAll, withPublishSpan } from "./observability/tracing.js";
import { callOptions, splitCallOptions, toPublishInput } from "./publish-input.js";
import { publishWhenRoom } from "./room-wait.js";
import { checkPublishCapabilities } from "./store/capabilities.js";
import {
  browseMessages,
  checkDeadId,
  checkDeadLetterPage,
  checkLease,
  checkReplaySelection,
  deadLetterPage,
  leaseStored,
  queueStats,
  type BrowseOptions,
  type BrowsedMessageView,
  type DeadLetterPageOptions,
  type DeadLetterView,
  type LeaseOptions,
  type QueueStatsWithWorkers,
} from "./queue-ops.js";
import type { Store } from "./store/store.js";
import type { AckOutcome, AckRequest, NackOutcome, ReplaySelection, ReportOptions } from "./core/operations.js";
import type { QueueInfo } from "./config/schemas.js";
import type { SpoolRuntime } from "./runtime.js";
import type { NackOptions } from "./core/operations.js";
import { LocalWorkerSource } from "./local-source.js";
import { Worker, type Handler } from "./worker/worker.js";
import { limits } from "./config/limits.js";

export type { BrowseOptions, BrowsedMessageView, DeadLetterPageOptions, DeadLetterView, LeaseOptions, QueueStatsWithWorkers } from "./queue-ops.js";

function hasOptions(item: object): boolean {
  for (const key in item) if (key !== "body") return true;
  return false;
}

/**
 * A handle on one queue. Cheap to create. Given options, it declares the queue in the store at
 * once; otherwise on first use, by the first call that passes its own validation, so a rejected
 * call leaves no queue behind. Every method waits for the declaration, and rejects if it failed.
 */
export class Queue<T = unknown> {
  readonly name: string;
  readonly #runtime: SpoolRuntime;
  #declared: Promise<QueueInfo> | undefined;
  /** Options given to `spool.queue` that no declaration has applied yet: declared again after a failure. */
  #declaredWith: QueueOptions | undefined;

  /** @internal Use `spool.queue(name, options)`. */
  constructor(runtime: SpoolRuntime, name: string, options: QueueOptions | undefined) {
    this.#runtime = runtime;
    this.name = name;
    if (options !== undefined) this.#declared = this.#declare(options);
  }

  get #store(): Store {
    return this.#runtime.store;
  }

  /** Declares with `options`, after `previous` settles: one handle's declarations apply in the order they were made. */
  #declare(options: QueueOptions | undefined, previous?: Promise<unknown>): Promise<QueueInfo> {
    this.#declaredWith = options;
    const ensure = () => this.#store.ensureQueue(this.name, options);
    const declared = previous === undefined ? ensure() : previous.then(ensure, ensure);
    // A failure reaches the calls waiting on it; it is not kept: the next call declares again, so
    // a handle recovers with its store (a disk that was full, a store that was rebuilding).
    this.#forgetIfFailed(declared);
    declared.then(() => {
      if (this.#declaredWith === options) this.#declaredWith = undefined;
    }, () => undefined);
    return declared;
  }

  #forgetIfFailed(declared: Promise<QueueInfo>): void {
    declared.catch(() => {
      if (this.#declared === declared) this.#declared = undefined;
    });
  }

  /** The declaration every call waits for: started here by the first call that needs it. */
  #declaration(): Promise<QueueInfo> {
    return (this.#declared ??= this.#declare(this.#declaredWith));
  }

  /** @internal Re-declares with new options (called by `spool.queue` when given options again). */
  redeclare(options: QueueOptions): void {
    this.#declared = this.#declare(options, this.#declared);
  }

  /** The options in force (after defaults and any update). */
  async info(): Promise<QueueInfo> {
    await this.#declaration();
    const info = await this.#store.getQueue(this.name);
    return info ?? (await this.#store.ensureQueue(this.name));
  }

  /** Merges `options` into the queue's options. */
  async setOptions(options: QueueOptions): Promise<QueueInfo> {
    validate(QueueOptionsSchema, options, `queue "${this.name}"`);
    // Not declared yet: declaring with the options is the whole change.
    if (this.#declared !== undefined) await this.#declared;
    // Refused, the change is not retried behind the caller's back: the next call declares plainly.
    const declared = this.#store.ensureQueue(this.name, options);
    this.#declared = declared;
    this.#forgetIfFailed(declared);
    return declared;
  }

  /** Publishes one message; `options.transaction` writes it in the caller's transaction (see PublishCallOptions). */
  publish(body: T, options?: PublishOptions & PublishCallOptions): Promise<PublishResult> {
    // Tracing: a span and a traceparent header only inside an active span (no SDK: never).
    if (hasActiveSpan()) return withPublishSpan(this.name, () => this.#publish(body, options, true));
    return this.#publish(body, options, false);
  }

  async #publish(body: T, call: (PublishOptions & PublishCallOptions) | undefined, traced: boolean): Promise<PublishResult> {
    const where = `publish to "${this.name}"`;
    const { options, call: settings } = splitCallOptions<PublishOptions>(call, where);
    const { transaction } = settings;
    const input = toPublishInput(this.name, body, options, this.#runtime.maxBodyBytes);
    checkPublishCapabilities(this.#store, [input], transaction, where, false);
    if (traced) input.headers = injectTraceContext(input.headers);
    await this.#declaration();
    const store = this.#store;
    const publish = () => (transaction === undefined ? store.publish([input]) : store.publish([input], { transaction }));
    const outcomes = await publishWhenRoom(publish, store.clock, settings);
    this.#runtime.notePublished(outcomes);
    const outcome = outcomes[0];
    return { id: outcome.id, replaced: outcome.replaced, duplicate: outcome.duplicate };
  }

  /**
   * Publishes every item in one atomic, durable write: all are enqueued or none is.
   * `options.transaction` writes them in the caller's transaction (see PublishCallOptions).
   */
  publishMany(items: PublishItem<T>[], options?: PublishCallOptions): Promise<PublishResult[]> {
    if (hasActiveSpan()) return withPublishSpan(this.name, () => this.#publishMany(items, options, true), { batchSize: Array.isArray(items) ? items.length : undefined });
    return this.#publishMany(items, options, false);
  }

  async #publishMany(items: PublishItem<T>[], call: PublishCallOptions | undefined, traced: boolean): Promise<PublishResult[]> {
    const settings = callOptions(call, `publishMany to "${this.name}"`);
    const { transaction } = settings;
    if (!Array.isArray(items)) {
      throw new ValidationError(`publishMany to "${this.name}": expected an array of {body, ...options}, got ${typeof items}`);
    }
    if (items.length > limits.maxPublishBatch) {
      throw new ValidationError(`publishMany to "${this.name}": at most ${limits.maxPublishBatch} messages per call, got ${items.length}`, [
        { path: "/", message: `more than ${limits.maxPublishBatch} items` },
      ]);
    }
    const inputs = items.map((item, index) => {
      if (item === null || typeof item !== "object" || !("body" in item)) {
        throw new ValidationError(`publishMany to "${this.name}": /${index} must be an object with a body`, [
          { path: `/${index}`, message: "expected {body, ...options}" },
        ]);
      }
      // Most batch items carry only a body: skip the copy and the options check for them.
      if (!hasOptions(item)) return toPublishInput(this.name, item.body, undefined, this.#runtime.maxBodyBytes, `/${index}`);
      const { body, ...options } = item;
      return toPublishInput(this.name, body, options, this.#runtime.maxBodyBytes, `/${index}`);
    });
    checkPublishCapabilities(this.#store, inputs, transaction, `publishMany to "${this.name}"`, true);
    if (inputs.length === 0) return [];
    if (traced) injectTraceContextAll(inputs);
    await this.#declaration();
    const store = this.#store;
    const publish = () => (transaction === undefined ? store.publish(inputs) : store.publish(inputs, { transaction }));
    const outcomes = await publishWhenRoom(publish, store.clock, settings);
    this.#runtime.notePublished(outcomes);
    return outcomes.map((o) => ({ id: o.id, replaced: o.replaced, duplicate: o.duplicate }));
  }

  /** Runs `handler` for each message, with leases, retries, heartbeats and a timeout. */
  work(handler: Handler<T>, options: WorkerOptions = {}): Worker<T> {
    if (typeof handler !== "function") throw new ValidationError(`work on "${this.name}": handler must be a function`);
    validate(WorkerOptionsSchema, options, `worker on "${this.name}"`);
    return new Worker<T>(new LocalWorkerSource(this.#runtime, () => this.#declaration()), this.name, handler, options);
  }

  /**
   * Leases up to `max` messages. With `waitMs`, waits (long-poll) until at least one is
   * leasable, the time passes, or `signal` aborts; returns [] when nothing came.
   */
  async lease(options: LeaseOptions = {}): Promise<LeasedMessage<T>[]> {
    const leased = await this.leaseStored(options);
    return leased.map((m) => decodeLeased<T>(m));
  }

  /** @internal `lease` with the bodies left as JSON text (the HTTP route writes them as they are). */
  async leaseStored(options: LeaseOptions = {}): Promise<LeasedStoredMessage[]> {
    const request = checkLease(this.name, options);
    await this.#declaration();
    return leaseStored(this.#store, this.name, request);
  }

  /** `options.result` (JSON) is kept with the completed status (Spool.ack). */
  ack(id: string, leaseToken: string, options?: { result?: unknown }): Promise<void> {
    return options === undefined ? this.#runtime.ack(id, leaseToken) : this.#runtime.ack(id, leaseToken, options);
  }

  /** Progress and log lines of a leased message (Spool.report; a handler uses ctx.progress / ctx.log). */
  report(id: string, leaseToken: string, options: ReportOptions): Promise<void> {
    return this.#runtime.report(id, leaseToken, options);
  }

  ackMany(items: AckRequest[]): Promise<AckOutcome[]> {
    return this.#runtime.ackMany(items);
  }

  nack(id: string, leaseToken: string, options: NackOptions = {}): Promise<NackOutcome> {
    return this.#runtime.nack(id, leaseToken, options);
  }

  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }> {
    return this.#runtime.extend(id, leaseToken, leaseMs);
  }

  async stats(): Promise<QueueStatsWithWorkers> {
    await this.#declaration();
    return queueStats(this.#store, this.name, this.#runtime.circuitStates(this.name));
  }

  async pause(): Promise<void> {
    await this.#declaration();
    await this.#store.setPaused(this.name, true);
  }

  async resume(): Promise<void> {
    await this.#declaration();
    await this.#store.setPaused(this.name, false);
  }

  /** Removes every waiting message (ready and delayed); returns how many. */
  async purge(): Promise<number> {
    await this.#declaration();
    return this.#store.purgeQueue(this.name);
  }

  /** Deletes the queue, its messages and its dead letters. */
  async delete(): Promise<boolean> {
    if (this.#declared !== undefined) {
      await this.#declared.catch(() => undefined);
    } else {
      // Deleting declares nothing; afterwards this handle finds the queue gone (not_found), as a
      // handle declared before would, rather than declare it again. A publish re-creates it, with defaults.
      this.#declared = Promise.resolve({ name: this.name, options: resolveQueueOptions(), paused: false });
    }
    return this.#store.deleteQueue(this.name);
  }

  /**
   * Up to `limit` (1–100, default 20) of the queue's messages in a state, without leasing them:
   * `ready` (default) in lease order, `delayed` by due time, `leased` by lease end, `completed`
   * newest first (no body: a completed message's body is not kept).
   */
  async browse(options: BrowseOptions = {}): Promise<BrowsedMessageView<T>[]> {
    await this.#declaration();
    return browseMessages<T>(this.#store, this.name, options);
  }

  /** Dead letters, oldest first; pass `nextCursor` back as `cursor` for the next page. */
  async deadLetters(page: DeadLetterPageOptions = {}): Promise<{ items: DeadLetterView<T>[]; nextCursor?: string }> {
    checkDeadLetterPage(this.#store, this.name, page);
    await this.#declaration();
    return deadLetterPage<T>(this.#store, this.name, page);
  }

  /** Moves dead letters back to ready with attempts reset; returns how many moved. */
  async replayDead(selection: ReplaySelection): Promise<number> {
    checkReplaySelection(this.name, selection);
    await this.#declaration();
    return this.#store.replayDead(this.name, selection);
  }

  async deleteDead(id: string): Promise<boolean> {
    checkDeadId(this.name, id);
    await this.#declaration();
    return this.#store.deleteDead(this.name, id);
  }

  async purgeDead(): Promise<number> {
    await this.#declaration();
    return this.#store.purgeDead(this.name);
  }
}
