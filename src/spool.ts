/**
 * The composition root: `Spool.open` picks the store, and the Spool hands out queues, routes
 * exchange publishes, settles leases by id, and closes workers before the store.
 */
import { Type } from "@sinclair/typebox";
import { defaults } from "./config/defaults.js";
import { ExchangeNameSchema, ExchangeTypeSchema, LeaseMsSchema, NackSettingsSchema, QueueNameSchema, QueueOptionsSchema, type PublishOptions, type QueueOptions } from "./config/schemas.js";
import { validate } from "./config/validate.js";
import { ConflictError, NotFoundError, SpoolError, ValidationError } from "./core/errors.js";
import type { FailureInfo, MessageStatus } from "./core/message.js";
import { classifyError } from "./core/retry-policy.js";
import type { ExchangePublishResult, PublishCallOptions, PublishResult } from "./message-types.js";
import { hasActiveSpan, injectTraceContextAll, withPublishSpan } from "./observability/tracing.js";
import { splitCallOptions, toPublishInput } from "./publish-input.js";
import { publishWhenRoom } from "./room-wait.js";
import { checkPublishCapabilities } from "./store/capabilities.js";
import { Queue } from "./queue.js";
import { QueueEventListeners, type QueueEventListener, type QueueEventName } from "./queue-event-listeners.js";
import {
  browseMessages,
  checkDeadId,
  checkReplaySelection,
  deadLetterPage,
  queueStats,
  type BrowseOptions,
  type BrowsedMessageView,
  type DeadLetterPageOptions,
  type DeadLetterView,
  type QueueStatsWithWorkers,
} from "./queue-ops.js";
import { routeMessage, type ExchangeInfo, type ExchangeType } from "./routing/route.js";
import type { SpoolRuntime } from "./runtime.js";
import type { NackOptions } from "./core/operations.js";
import { journalStore, type JournalStoreOptions } from "./store/journal/journal-store.js";
import type { Store } from "./store/store.js";
import type { AckItem, AckOutcome, AckRequest, NackOutcome, NackRequest, ProgressReport, PublishOutcome, ReplaySelection, ReportOptions } from "./core/operations.js";
import { encodeBody } from "./core/body.js";
import { boundLogLine, STORY_LIMITS } from "./core/story.js";
import type { QueueInfo } from "./config/schemas.js";
import type { Clock } from "./util/clock.js";
import type { CircuitState } from "./worker/circuit-breaker.js";
import type { ScheduleSpec } from "./config/schedule-schemas.js";
import type { FireResult } from "./core/schedule.js";
import { checkScheduleName, scheduleInfo, Scheduler, toScheduleDefinition, type ScheduleInfo } from "./scheduler.js";

export interface SpoolOptions {
  /** The storage backend. Default: the embedded journal in `dataDir`. */
  store?: Store;
  /** Where the embedded journal keeps its files (default `./data`). Ignored when `store` is given. */
  dataDir?: string;
  /** Journal settings (fsync policy, snapshot cadence…) when Spool opens the journal itself. */
  journal?: Omit<JournalStoreOptions, "dataDir">;
  /** Largest accepted message body in UTF-8 bytes (default 256 KiB). */
  maxBodyBytes?: number;
}

interface WorkerHandle {
  queue: string;
  circuitState: CircuitState | undefined;
  readonly closed: boolean;
  scale(concurrency: number): void;
  close(): Promise<void>;
}

const SPOOL_OPTION_KEYS = new Set(["store", "dataDir", "journal", "maxBodyBytes"]);

/** An extension's lease length, with its path in errors (`/leaseMs`). */
const ExtendSchema = Type.Object({ leaseMs: LeaseMsSchema });

export class Spool implements SpoolRuntime {
  readonly store: Store;
  readonly maxBodyBytes: number;
  readonly #queues = new Map<string, Queue<unknown>>();
  readonly #workers = new Set<WorkerHandle>();
  readonly #scheduler: Scheduler;
  readonly #workerObservers = new Set<(worker: WorkerHandle) => void>();
  readonly #publishObservers = new Set<(outcomes: readonly PublishOutcome[]) => void>();
  readonly #events: QueueEventListeners;
  #closing: Promise<void> | undefined;

  private constructor(store: Store, maxBodyBytes: number) {
    this.store = store;
    this.maxBodyBytes = maxBodyBytes;
    this.#scheduler = new Scheduler(store);
    this.#events = new QueueEventListeners(store);
  }

  static async open(options: SpoolOptions = {}): Promise<Spool> {
    if (options === null || typeof options !== "object") throw new ValidationError("Spool.open: options must be an object");
    for (const key of Object.keys(options)) {
      if (!SPOOL_OPTION_KEYS.has(key)) throw new ValidationError(`Spool.open: unknown option "${key}"`, [{ path: `/${key}`, message: "unknown option" }]);
    }
    const maxBodyBytes = options.maxBodyBytes ?? defaults.maxBodyBytes;
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
      throw new ValidationError(`Spool.open: maxBodyBytes must be a positive integer, got ${JSON.stringify(options.maxBodyBytes)}`);
    }
    if (options.store !== undefined && (options.dataDir !== undefined || options.journal !== undefined)) {
      throw new ValidationError("Spool.open: give either store, or dataDir / journal for the embedded journal, not both");
    }
    if (options.dataDir !== undefined && (typeof options.dataDir !== "string" || options.dataDir.length === 0)) {
      throw new ValidationError(`Spool.open: dataDir must be a non-empty path, got ${JSON.stringify(options.dataDir)}`, [{ path: "/dataDir", message: "expected a path" }]);
    }
    const store = options.store ?? journalStore({ ...options.journal, dataDir: options.dataDir ?? "./data" });
    await store.open();
    const spool = new Spool(store, maxBodyBytes);
    spool.#scheduler.poke(); // slots due while no process ran fire now (catchUp), then the timer is armed
    return spool;
  }

  /** The store's clock: the time every timestamp of this Spool is read from. */
  get clock(): Clock {
    return this.store.clock;
  }

  /** A typed handle on a queue; `options` create it or update its options. */
  queue<T = unknown>(name: string, options?: QueueOptions): Queue<T> {
    validate(QueueNameSchema, name, "queue name");
    if (options !== undefined) validate(QueueOptionsSchema, options, `queue "${name}"`);
    this.#checkOpen();
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue<unknown>(this, name, options);
      this.#queues.set(name, queue);
    } else if (options !== undefined) {
      queue.redeclare(options);
    }
    return queue as Queue<T>;
  }

  /** Publishes to a queue by name (creating it with defaults if needed). */
  publish<T>(queue: string, body: T, options?: PublishOptions & PublishCallOptions): Promise<PublishResult> {
    return this.queue<T>(queue).publish(body, options);
  }

  async queues(): Promise<QueueInfo[]> {
    return this.store.listQueues();
  }

  // ── queues by name: operating on what exists, declaring nothing (unknown → not_found) ──

  /** The queue's options and paused flag, or undefined if there is no such queue. */
  async queueInfo(name: string): Promise<QueueInfo | undefined> {
    validate(QueueNameSchema, name, "queue name");
    return this.store.getQueue(name);
  }

  async queueStats(name: string): Promise<QueueStatsWithWorkers> {
    validate(QueueNameSchema, name, "queue name");
    return queueStats(this.store, name, this.circuitStates(name));
  }

  /** Deletes the queue with its messages and dead letters; false if there was none. */
  async deleteQueue(name: string): Promise<boolean> {
    validate(QueueNameSchema, name, "queue name");
    return this.store.deleteQueue(name);
  }

  async setPaused(name: string, paused: boolean): Promise<void> {
    validate(QueueNameSchema, name, "queue name");
    if (typeof paused !== "boolean") throw new ValidationError(`setPaused "${name}": paused must be a boolean, got ${JSON.stringify(paused)}`);
    await this.store.setPaused(name, paused);
  }

  /** Removes every waiting (ready and delayed) message; returns how many. */
  async purgeQueue(name: string): Promise<number> {
    validate(QueueNameSchema, name, "queue name");
    return this.store.purgeQueue(name);
  }

  async deadLetters<T = unknown>(queue: string, page: DeadLetterPageOptions = {}): Promise<{ items: DeadLetterView<T>[]; nextCursor?: string }> {
    validate(QueueNameSchema, queue, "queue name");
    return deadLetterPage<T>(this.store, queue, page);
  }

  async replayDead(queue: string, selection: ReplaySelection): Promise<number> {
    validate(QueueNameSchema, queue, "queue name");
    checkReplaySelection(queue, selection);
    return this.store.replayDead(queue, selection);
  }

  async deleteDead(queue: string, id: string): Promise<boolean> {
    validate(QueueNameSchema, queue, "queue name");
    checkDeadId(queue, id);
    return this.store.deleteDead(queue, id);
  }

  /** The id a queue remembers for an idempotency key within its window, or undefined: a read, nothing is published. */
  async idempotentId(queue: string, key: string): Promise<string | undefined> {
    validate(QueueNameSchema, queue, "queue name");
    if (typeof key !== "string" || key.length === 0) throw new ValidationError(`idempotentId on "${queue}": key must be a non-empty string`);
    return this.store.idempotentId(queue, key);
  }

  async purgeDead(queue: string): Promise<number> {
    validate(QueueNameSchema, queue, "queue name");
    return this.store.purgeDead(queue);
  }

  /** Writes a snapshot of the store now (`conflict` for a store without snapshots). */
  async snapshot(): Promise<void> {
    if (!this.store.capabilities.snapshots || this.store.snapshot === undefined) throw new ConflictError(`the ${this.store.name} store has no snapshots`);
    await this.store.snapshot();
  }

  async status(id: string): Promise<MessageStatus | undefined> {
    return this.store.status(id);
  }

  /** A message's body and headers without leasing it, while the store keeps them (waiting, leased, dead); undefined once acked. */
  async peek<T = unknown>(id: string): Promise<{ id: string; queue: string; body: T; headers: Record<string, string> | undefined } | undefined> {
    if (typeof id !== "string" || id.length === 0) throw new ValidationError(`peek: id must be a non-empty string, got ${JSON.stringify(id)}`, [{ path: "/id", message: "expected a message id" }]);
    const content = await this.store.content(id);
    return content && { ...content, body: JSON.parse(content.body) as T };
  }

  /** A queue's messages by name, without leasing them (see `Queue.browse`); `not_found` for an unknown queue. */
  async browse<T = unknown>(queue: string, options: BrowseOptions = {}): Promise<BrowsedMessageView<T>[]> {
    validate(QueueNameSchema, queue, "queue name");
    return browseMessages<T>(this.store, queue, options);
  }

  // ── lease settlement by id (what the HTTP API and remote consumers use) ────────────────

  /**
   * Completes a leased message. `options.result` (any JSON value but null, at most
   * `STORY_LIMITS.maxResultBytes` as JSON) is kept with the completed status and shown by `status`.
   */
  // Not async: every handled message comes through here, and the store's promise does.
  ack(id: string, leaseToken: string, options?: { result?: unknown }): Promise<void> {
    let result: string | undefined;
    try {
      checkLeaseArgs(id, leaseToken, "ack");
      // null or undefined: no result (the same on every store).
      if (options?.result !== undefined && options.result !== null) result = encodeBody(options.result, STORY_LIMITS.maxResultBytes, `ack ${id}`, "/result");
    } catch (error) {
      return Promise.reject(error);
    }
    return result === undefined ? this.store.ack(id, leaseToken) : this.store.ack(id, leaseToken, result);
  }

  async ackMany(items: AckRequest[]): Promise<AckOutcome[]> {
    if (!Array.isArray(items)) throw new ValidationError("ackMany: expected an array of {id, leaseToken}");
    let encoded: AckItem[] | undefined;
    items.forEach((item, index) => {
      if (item === null || typeof item !== "object" || typeof item.id !== "string" || typeof item.leaseToken !== "string") {
        throw new ValidationError(`ackMany: /${index} must be {id: string, leaseToken: string}`, [{ path: `/${index}`, message: "expected {id, leaseToken}" }]);
      }
      if (item.result !== undefined && item.result !== null) {
        encoded ??= items.slice(0, index).map(({ id, leaseToken }) => ({ id, leaseToken }));
        encoded.push({ id: item.id, leaseToken: item.leaseToken, result: encodeBody(item.result, STORY_LIMITS.maxResultBytes, "ackMany", `/${index}/result`) });
      } else if (encoded) {
        encoded.push({ id: item.id, leaseToken: item.leaseToken });
      }
    });
    if (items.length === 0) return [];
    return this.store.ackMany(encoded ?? (items as AckItem[]));
  }

  /**
   * What a running handler reports on its leased message (`ctx.progress`, `ctx.log` call this):
   * `progress` (null or undefined: unchanged) replaces the last one (a number or a small JSON value, at most
   * `STORY_LIMITS.maxProgressBytes` as JSON: `too_large` past it), `log` lines are appended (the
   * oldest dropped past `maxLogLines`, each cut at `maxLogLineChars`). `status(id)` shows both.
   * `lease_lost` if the token is not the current lease.
   */
  async report(id: string, leaseToken: string, options: ReportOptions): Promise<void> {
    checkLeaseArgs(id, leaseToken, "report");
    if (options === null || typeof options !== "object") throw new ValidationError(`report ${id}: expected {progress?, log?}`, [{ path: "", message: "expected an object" }]);
    const report: ProgressReport = {};
    if (options.progress !== undefined && options.progress !== null) report.progress = encodeBody(options.progress, STORY_LIMITS.maxProgressBytes, `report ${id}`, "/progress");
    if (options.log !== undefined) {
      const lines = typeof options.log === "string" ? [options.log] : options.log;
      if (!Array.isArray(lines) || lines.length > STORY_LIMITS.maxLogLinesPerReport || lines.some((line) => typeof line !== "string")) {
        throw new ValidationError(`report ${id}: log must be a string or an array of at most ${STORY_LIMITS.maxLogLinesPerReport} strings`, [{ path: "/log", message: "expected string or string[]" }]);
      }
      if (lines.length > 0) report.log = lines.map(boundLogLine);
    }
    if (report.progress === undefined && report.log === undefined) return;
    return this.store.report(id, leaseToken, report);
  }

  async nack(id: string, leaseToken: string, options: NackOptions = {}): Promise<NackOutcome> {
    checkLeaseArgs(id, leaseToken, "nack");
    const { delayMs, release, reject } = options;
    if (delayMs !== undefined || release !== undefined || reject !== undefined) validate(NackSettingsSchema, { delayMs, release, reject }, `nack ${id}`);
    if (release && reject) throw new ValidationError(`nack ${id}: release and reject exclude each other`, [{ path: "/reject", message: "not with release" }]);
    const request: NackRequest = { error: toFailureInfo(options.error), delayMs };
    if (options.release) request.release = true;
    if (reject) request.reject = true;
    return this.store.nack(id, leaseToken, request);
  }

  async extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }> {
    checkLeaseArgs(id, leaseToken, "extend");
    validate(ExtendSchema, { leaseMs }, `extend ${id}`);
    return this.store.extend(id, leaseToken, leaseMs);
  }

  // ── routing ──────────────────────────────────────────────────────────────────────────

  async declareExchange(name: string, type: ExchangeType): Promise<void> {
    checkExchangeName(name);
    validate(ExchangeTypeSchema, type, `exchange "${name}" type`);
    await this.store.declareExchange(name, type);
  }

  async deleteExchange(name: string): Promise<boolean> {
    checkExchangeName(name);
    return this.store.deleteExchange(name);
  }

  /** Routes `exchange` to `queue` for messages whose routing key matches `bindingKey`. */
  async bind(exchange: string, queue: string, bindingKey = ""): Promise<void> {
    checkExchangeName(exchange);
    validate(QueueNameSchema, queue, "queue name");
    if (typeof bindingKey !== "string" || bindingKey.length > 255) throw new ValidationError(`bind: bindingKey must be a string of at most 255 characters`);
    await this.store.bind(exchange, queue, bindingKey);
  }

  async unbind(exchange: string, queue: string, bindingKey = ""): Promise<boolean> {
    checkExchangeName(exchange);
    return this.store.unbind(exchange, queue, bindingKey);
  }

  async exchanges(): Promise<ExchangeInfo[]> {
    return this.store.listExchanges();
  }

  /** The exchange with its bindings, or undefined. */
  async exchange(name: string): Promise<ExchangeInfo | undefined> {
    checkExchangeName(name);
    return this.store.getExchange(name);
  }

  /**
   * Publishes one copy to every queue whose binding matches `routingKey`, atomically. The
   * default exchange "" routes to the queue named by the routing key. No match → routed 0.
   */
  publishToExchange<T>(exchange: string, routingKey: string, body: T, options?: PublishOptions & PublishCallOptions): Promise<ExchangePublishResult> {
    if (hasActiveSpan()) {
      const destination = String(exchange === "" ? routingKey : exchange);
      return withPublishSpan(destination, () => this.#publishToExchange(exchange, routingKey, body, options, true), { routingKey: String(routingKey) });
    }
    return this.#publishToExchange(exchange, routingKey, body, options, false);
  }

  async #publishToExchange<T>(exchange: string, routingKey: string, body: T, call: (PublishOptions & PublishCallOptions) | undefined, traced: boolean): Promise<ExchangePublishResult> {
    const { options, call: settings } = splitCallOptions<PublishOptions>(call, `publish to exchange "${exchange}"`);
    const { transaction } = settings;
    if (typeof exchange !== "string") throw new ValidationError("publishToExchange: exchange must be a string");
    if (typeof routingKey !== "string" || routingKey.length > 255) throw new ValidationError("publishToExchange: routingKey must be a string of at most 255 characters");
    let queues: string[];
    if (exchange === "") {
      validate(QueueNameSchema, routingKey, "routing key (a queue name on the default exchange)");
      queues = [routingKey];
    } else {
      const info = await this.store.getExchange(exchange);
      if (!info) throw new NotFoundError(`exchange "${exchange}" does not exist`);
      queues = routeMessage(info, routingKey);
    }
    const inputs = queues.map((queue) => toPublishInput(queue, body, options, this.maxBodyBytes));
    checkPublishCapabilities(this.store, inputs, transaction, `publish to exchange "${exchange}"`, false);
    if (inputs.length === 0) return { routed: 0, messages: [] };
    if (traced) injectTraceContextAll(inputs);
    const store = this.store;
    const publish = () => (transaction === undefined ? store.publish(inputs) : store.publish(inputs, { transaction }));
    const outcomes = await publishWhenRoom(publish, store.clock, settings);
    this.notePublished(outcomes);
    return {
      routed: outcomes.length,
      messages: outcomes.map((o) => ({ id: o.id, queue: o.queue, replaced: o.replaced, duplicate: o.duplicate })),
    };
  }

  // ── schedules (scheduler.ts; fired by the store, exactly once per slot) ────────────────

  /**
   * Creates or replaces the schedule `name`: every slot of `spec.cron` (5 fields, or 6 with
   * seconds first, in `spec.tz`, default UTC) or every `spec.everyMs` publishes `spec.body` to
   * `spec.queue`, once per slot, across restarts, crashes and processes. Replacing with the same
   * timing keeps the schedule's next run; a new timing starts from now. Slots missed while no
   * process ran fire once at start (`catchUp: "one"`, the default) or are skipped (`"none"`).
   */
  async schedule<T = unknown>(name: string, spec: ScheduleSpec & { body: T }): Promise<ScheduleInfo<T>> {
    this.#checkOpen();
    const record = await this.store.putSchedule(toScheduleDefinition(this.store, name, spec, this.maxBodyBytes));
    this.#scheduler.poke();
    return scheduleInfo<T>(record);
  }

  /** Every schedule, by name. */
  async schedules(): Promise<ScheduleInfo[]> {
    return (await this.store.listSchedules()).map((record) => scheduleInfo(record));
  }

  /** The schedule, or undefined. */
  async getSchedule<T = unknown>(name: string): Promise<ScheduleInfo<T> | undefined> {
    checkScheduleName(name);
    const record = await this.store.getSchedule(name);
    return record && scheduleInfo<T>(record);
  }

  /** Stops firing the schedule until it is resumed (`not_found` for an unknown one). */
  async pauseSchedule(name: string): Promise<ScheduleInfo> {
    checkScheduleName(name);
    return scheduleInfo(await this.store.setSchedulePaused(name, true));
  }

  /** Fires the schedule again from its next slot after now: slots that passed while paused are not fired. */
  async resumeSchedule(name: string): Promise<ScheduleInfo> {
    checkScheduleName(name);
    const record = await this.store.setSchedulePaused(name, false);
    this.#scheduler.poke();
    return scheduleInfo(record);
  }

  /** Deletes the schedule; false if there was none. Messages it already published stay. */
  async removeSchedule(name: string): Promise<boolean> {
    checkScheduleName(name);
    return this.store.removeSchedule(name);
  }

  /**
   * Fires what is due now, as the scheduler's timer does, and resolves with what this call fired
   * (tests and tools; the timer needs no help).
   */
  async fireDueSchedules(): Promise<FireResult> {
    this.#checkOpen();
    return this.#scheduler.fireNow();
  }

  // ── lifecycle ────────────────────────────────────────────────────────────────────────

  /** @internal */
  registerWorker(worker: WorkerHandle): void {
    this.#checkOpen();
    this.#workers.add(worker);
    for (const observer of this.#workerObservers) observer(worker);
  }

  // ── queue events (docs/events.md) ──

  /**
   * Calls `listener` with every queue event of `type` ("*": every type) from now on: a message
   * published, active, progressing, completed, failed, retried, released, dead or replayed, made
   * by this process or (PostgreSQL) another. In order per message, once the change is durable.
   * Returns an unsubscribe (as does `off`).
   */
  on<K extends QueueEventName>(type: K, listener: QueueEventListener<K>): () => void {
    this.#checkOpen();
    return this.#events.on(type, listener);
  }

  off<K extends QueueEventName>(type: K, listener: QueueEventListener<K>): void {
    this.#events.off(type, listener);
  }

  /**
   * Calls `observer` with every worker of this Spool, open now or made later (metrics, logs).
   * Returns an unsubscribe.
   */
  observeWorkers(observer: (worker: WorkerHandle) => void): () => void {
    this.#workerObservers.add(observer);
    for (const worker of this.#workers) if (!worker.closed) observer(worker);
    return () => void this.#workerObservers.delete(observer);
  }

  /** Calls `observer` with the outcomes of every publish through this Spool (metrics count duplicates and replacements). */
  observePublishes(observer: (outcomes: readonly PublishOutcome[]) => void): () => void {
    this.#publishObservers.add(observer);
    return () => void this.#publishObservers.delete(observer);
  }

  /** @internal */
  notePublished(outcomes: readonly PublishOutcome[]): void {
    if (this.#publishObservers.size === 0) return;
    for (const observer of this.#publishObservers) observer(outcomes);
  }

  /** Sets the concurrency of this process's open workers on `queue`; returns how many there are. */
  scaleWorkers(queue: string, concurrency: number): number {
    let scaled = 0;
    for (const worker of this.#workers) {
      if (worker.queue !== queue || worker.closed) continue;
      worker.scale(concurrency);
      scaled++;
    }
    return scaled;
  }

  /** Why writes would fail now (closed, or the store's own fault), or undefined when they should work. */
  writeProblem(): string | undefined {
    if (this.#closing) return "the spool is closed";
    return this.store.writeFault?.message;
  }

  /**
   * Why this Spool cannot serve now, or undefined when it can (what `/health/ready` answers): it
   * is closed, its store knows of a fault, or a store with a server (`store.ping`) did not answer
   * within `timeoutMs`. Memory and journal stores have no ping: for them this is `writeProblem()`.
   */
  async readinessProblem(timeoutMs: number = defaults.readinessTimeoutMs): Promise<string | undefined> {
    const problem = this.writeProblem();
    if (problem !== undefined || this.store.ping === undefined) return problem;
    try {
      await this.store.ping(timeoutMs);
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /** @internal */
  circuitStates(queue: string): CircuitState[] {
    const states: CircuitState[] = [];
    for (const worker of this.#workers) if (worker.queue === queue && worker.circuitState) states.push(worker.circuitState);
    return states;
  }

  /** Closes every worker (draining in-flight handlers), then the store. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const results = await Promise.allSettled([this.#scheduler.close(), ...[...this.#workers].map((w) => w.close())]);
      this.#workers.clear();
      const storeClosed = await Promise.allSettled([this.store.close()]);
      this.#events.clear();
      const failures = [...results, ...storeClosed].filter((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failures.length > 0) throw new AggregateError(failures.map((f) => f.reason as unknown), "Spool.close: some parts failed to close");
    })();
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing) throw new SpoolError("unavailable", "this Spool is closed");
  }
}

function checkLeaseArgs(id: unknown, leaseToken: unknown, op: string): void {
  if (typeof id !== "string" || id.length === 0 || id.length > 64) {
    throw new ValidationError(`${op}: id must be a message id string, got ${JSON.stringify(id)}`, [{ path: "/id", message: "expected string" }]);
  }
  if (typeof leaseToken !== "string" || leaseToken.length === 0 || leaseToken.length > 128) {
    throw new ValidationError(`${op} ${id}: leaseToken must be a non-empty string`, [{ path: "/leaseToken", message: "expected string" }]);
  }
}

function checkExchangeName(name: string): void {
  validate(ExchangeNameSchema, name, "exchange name");
  if (name === "") throw new ValidationError('the default exchange "" is built in and cannot be declared, bound or deleted');
}

function toFailureInfo(error: NackOptions["error"]): FailureInfo | undefined {
  if (error === undefined) return undefined;
  if (typeof error === "string") return { message: error, kind: "error" };
  if (error instanceof Error) return { message: error.message, kind: classifyError(error) };
  if (error && typeof error === "object" && typeof error.message === "string") {
    const kind = error.kind ?? "error";
    if (kind !== "permanent" && kind !== "transient" && kind !== "error") {
      throw new ValidationError(`nack: error.kind must be "permanent", "transient" or "error", got ${JSON.stringify(kind)}`, [{ path: "/error/kind", message: "unknown kind" }]);
    }
    return { message: error.message, kind };
  }
  throw new ValidationError("nack: error must be an Error, a string or {message, kind?}", [{ path: "/error", message: "unexpected type" }]);
}
