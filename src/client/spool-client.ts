/**
 * `SpoolClient`: the library's API over `spool serve`'s HTTP API, so a worker in another process
 * or on another machine runs the same handler code with the same Worker (leases, heartbeats,
 * timeouts, retries, circuit breaker, graceful close). Errors come back as the library's classes.
 *
 *   const client = new SpoolClient({ url: "http://127.0.0.1:7400", apiKey });
 *   const worker = client.queue<Email>("emails").work(handler, { concurrency: 64 });
 *   await client.close(); // drains its workers, like spool.close()
 */
import { QueueNameSchema, ExchangeNameSchema, type PublishOptions } from "../config/schemas.js";
import { validate } from "../config/validate.js";
import { NotFoundError, SpoolError, ValidationError } from "../core/errors.js";
import type { MessageStatus } from "../core/message.js";
import type { ExchangePublishResult, PublishResult } from "../message-types.js";
import type { ExchangeInfo, ExchangeType } from "../routing/route.js";
import type { NackOptions } from "../core/operations.js";
import type { AckOutcome, AckRequest, NackOutcome, ReportOptions } from "../core/operations.js";
import type { WorkerHandle } from "../worker/worker-source.js";
import { AckBatcher } from "./ack-batcher.js";
import { HttpTransport } from "./http-transport.js";
import { existed } from "./remote-errors.js";
import { RemoteQueue, type RemoteQueueStats } from "./remote-queue.js";
import { RemoteWorkerSource } from "./remote-source.js";
import { remoteEvents, type DroppedEvents, type RemoteEventsOptions } from "./remote-events.js";
import type { QueueEvent } from "../core/queue-events.js";
import { toWireNack, toWirePublish } from "./wire.js";
import { defaults } from "../config/defaults.js";
import { ScheduleNameSchema, type ScheduleSpec } from "../config/schedule-schemas.js";
import type { ScheduleInfo } from "../scheduler.js";

export interface SpoolClientOptions {
  /** Where `spool serve` listens, e.g. `http://127.0.0.1:7400`. */
  url: string;
  /** Sent as `Authorization: Bearer <apiKey>`; needed when the server has keys configured. */
  apiKey?: string;
  /**
   * How long one request may take before it fails with `unavailable` (default 30 s). A
   * long-poll lease gets its `waitMs` on top.
   */
  timeoutMs?: number;
}

export interface ScaleResult {
  queue: string;
  /** How many of the server's in-process workers on the queue were rescaled. */
  workers: number;
  concurrency: number;
}

const CLIENT_OPTION_KEYS = new Set(["url", "apiKey", "timeoutMs"]);

const enc = encodeURIComponent;

function checkExchangeName(name: string): void {
  validate(ExchangeNameSchema, name, "exchange name");
  if (name === "") throw new ValidationError('the default exchange "" is built in and cannot be declared, bound or deleted');
}

export class SpoolClient {
  readonly #transport: HttpTransport;
  readonly #acks: AckBatcher;
  readonly #source: RemoteWorkerSource;
  readonly #queues = new Map<string, RemoteQueue<unknown>>();
  readonly #workers = new Set<WorkerHandle>();
  #closing: Promise<void> | undefined;

  constructor(options: SpoolClientOptions) {
    if (options === null || typeof options !== "object") throw new ValidationError("SpoolClient: options must be an object with a url");
    for (const key of Object.keys(options)) {
      if (!CLIENT_OPTION_KEYS.has(key)) throw new ValidationError(`SpoolClient: unknown option "${key}"`, [{ path: `/${key}`, message: "unknown option" }]);
    }
    const timeoutMs = options.timeoutMs ?? defaults.client.timeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new ValidationError(`SpoolClient: timeoutMs must be a positive integer, got ${JSON.stringify(options.timeoutMs)}`, [{ path: "/timeoutMs", message: "expected integer >= 1" }]);
    }
    if (options.apiKey !== undefined && (typeof options.apiKey !== "string" || options.apiKey.length === 0)) {
      throw new ValidationError("SpoolClient: apiKey must be a non-empty string", [{ path: "/apiKey", message: "expected string" }]);
    }
    this.#transport = new HttpTransport(options.url, options.apiKey, timeoutMs);
    this.#acks = new AckBatcher((items) => this.#sendAcks(items));
    this.#source = new RemoteWorkerSource(this.#transport, this.#acks, {
      nack: (id, leaseToken, nackOptions) => this.nack(id, leaseToken, nackOptions),
      extend: (id, leaseToken, leaseMs) => this.extend(id, leaseToken, leaseMs),
      ack: (id, leaseToken, options) => this.ack(id, leaseToken, options),
      report: (id, leaseToken, options) => this.report(id, leaseToken, options),
      publish: (queue, body, publishOptions) => this.publish(queue, body, publishOptions),
      registerWorker: (worker) => this.#registerWorker(worker),
    });
  }

  /** The server's base URL. */
  get url(): string {
    return this.#transport.url;
  }

  /** A typed handle on a queue of the server. Cheap: nothing is sent until a method is called. */
  queue<T = unknown>(name: string): RemoteQueue<T> {
    validate(QueueNameSchema, name, "queue name");
    this.#checkOpen();
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new RemoteQueue<unknown>(
        {
          transport: this.#transport,
          source: this.#source,
          ack: (id, leaseToken, options) => this.ack(id, leaseToken, options),
          ackMany: (items) => this.ackMany(items),
          nack: (id, leaseToken, options) => this.nack(id, leaseToken, options),
          extend: (id, leaseToken, leaseMs) => this.extend(id, leaseToken, leaseMs),
        },
        name,
      );
      this.#queues.set(name, queue);
    }
    return queue as RemoteQueue<T>;
  }

  /** Publishes to a queue by name (the server creates it with defaults if needed). */
  publish<T>(queue: string, body: T, options?: PublishOptions): Promise<PublishResult> {
    return this.#transport.request<PublishResult>("POST", `/v1/queues/${enc(queue)}/messages`, { body: toWirePublish(body, options) });
  }

  /** A message's body and headers without leasing it (`spool.peek`; admin scope); undefined once acked or unknown. */
  async peek<T = unknown>(id: string): Promise<{ id: string; queue: string; body: T; headers?: Record<string, string> } | undefined> {
    return this.#transport.request<{ id: string; queue: string; body: T; headers?: Record<string, string> }>("GET", `/v1/messages/${enc(id)}/body`).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
  }

  /**
   * Queue events of the queues `queue` (a name or a glob) names, as they happen on the server —
   * any process's, on a shared store — for the queues this key reaches:
   *
   *   for await (const event of client.events({ queue: "emails", types: ["completed", "dead"] })) …
   *
   * `{ type: "dropped", count }` says the server dropped some (over its rate, 1,000 a second per
   * stream): read the state afresh. Ends when `signal` aborts, the loop breaks, or the server stops.
   */
  events(options: RemoteEventsOptions): AsyncGenerator<QueueEvent | DroppedEvents> {
    this.#checkOpen();
    return remoteEvents(this.#transport, options);
  }

  /** Every queue the key may see, with its stats and options. */
  async queues(): Promise<RemoteQueueStats[]> {
    return (await this.#transport.request<{ queues: RemoteQueueStats[] }>("GET", "/v1/queues")).queues;
  }

  /** Where a message is in its life; undefined if unknown (or completed past the retention). */
  async status(id: string): Promise<MessageStatus | undefined> {
    try {
      return await this.#transport.request<MessageStatus>("GET", `/v1/messages/${enc(id)}`);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  // ── lease settlement by id ─────────────────────────────────────────────────────────────

  /** Completes a leased message; `options.result` (JSON) is kept with its completed status. */
  async ack(id: string, leaseToken: string, options?: { result?: unknown }): Promise<void> {
    const body = options?.result === undefined ? { leaseToken } : { leaseToken, result: options.result };
    await this.#transport.request("POST", `/v1/messages/${enc(id)}/ack`, { body });
  }

  /**
   * Reports a leased message's progress and log lines (`POST /v1/messages/:id/progress`), as
   * `ctx.progress` and `ctx.log` do in a handler.
   */
  async report(id: string, leaseToken: string, options: ReportOptions): Promise<void> {
    const body: Record<string, unknown> = { leaseToken };
    if (options.progress !== undefined) body.progress = options.progress;
    if (options.log !== undefined) body.log = options.log;
    await this.#transport.request("POST", `/v1/messages/${enc(id)}/progress`, { body });
  }

  /** Acks many in one request; a stale token fails only its own item (`ok: false`). */
  async ackMany(items: AckRequest[]): Promise<AckOutcome[]> {
    if (Array.isArray(items) && items.length === 0) return [];
    return this.#sendAcks(items);
  }

  nack(id: string, leaseToken: string, options: NackOptions = {}): Promise<NackOutcome> {
    return this.#transport.request<NackOutcome>("POST", `/v1/messages/${enc(id)}/nack`, { body: toWireNack(leaseToken, options) });
  }

  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }> {
    return this.#transport.request("POST", `/v1/messages/${enc(id)}/extend`, { body: { leaseToken, leaseMs } });
  }

  async #sendAcks(items: AckRequest[]): Promise<AckOutcome[]> {
    return (await this.#transport.request<{ results: AckOutcome[] }>("POST", "/v1/acks", { body: { acks: items } })).results;
  }

  // ── routing ────────────────────────────────────────────────────────────────────────────

  async declareExchange(name: string, type: ExchangeType): Promise<void> {
    checkExchangeName(name);
    await this.#transport.request("PUT", `/v1/exchanges/${enc(name)}`, { body: { type } });
  }

  async deleteExchange(name: string): Promise<boolean> {
    checkExchangeName(name);
    return existed(this.#transport.request("DELETE", `/v1/exchanges/${enc(name)}`));
  }

  /** Routes `exchange` to `queue` for messages whose routing key matches `bindingKey`. */
  async bind(exchange: string, queue: string, bindingKey = ""): Promise<void> {
    checkExchangeName(exchange);
    await this.#transport.request("POST", `/v1/exchanges/${enc(exchange)}/bindings`, { body: { queue, bindingKey } });
  }

  async unbind(exchange: string, queue: string, bindingKey = ""): Promise<boolean> {
    checkExchangeName(exchange);
    return existed(this.#transport.request("DELETE", `/v1/exchanges/${enc(exchange)}/bindings`, { body: { queue, bindingKey } }));
  }

  async exchanges(): Promise<ExchangeInfo[]> {
    return (await this.#transport.request<{ exchanges: ExchangeInfo[] }>("GET", "/v1/exchanges")).exchanges;
  }

  /**
   * Publishes one copy to every queue whose binding matches `routingKey`, atomically. The
   * default exchange "" routes to the queue named by the routing key.
   */
  async publishToExchange<T>(exchange: string, routingKey: string, body: T, options?: PublishOptions): Promise<ExchangePublishResult> {
    if (exchange === "") {
      // The default exchange has no path of its own: it is a publish to the named queue.
      validate(QueueNameSchema, routingKey, "routing key (a queue name on the default exchange)");
      const result = await this.publish(routingKey, body, options);
      return { routed: 1, messages: [{ ...result, queue: routingKey }] };
    }
    return this.#transport.request<ExchangePublishResult>("POST", `/v1/exchanges/${enc(exchange)}/publish`, {
      body: { ...toWirePublish(body, options), routingKey },
    });
  }

  // ── schedules (docs/http-api.md#schedules) ────────────────────────────────────────────

  /** Creates or replaces a schedule on the server (see `Spool.schedule`). */
  async schedule<T = unknown>(name: string, spec: ScheduleSpec & { body: T }): Promise<ScheduleInfo<T>> {
    validate(ScheduleNameSchema, name, "schedule name");
    return this.#transport.request<ScheduleInfo<T>>("PUT", `/v1/schedules/${enc(name)}`, { body: spec });
  }

  /** Every schedule the key may see. */
  async schedules(): Promise<ScheduleInfo[]> {
    return (await this.#transport.request<{ schedules: ScheduleInfo[] }>("GET", "/v1/schedules")).schedules;
  }

  /** The schedule, or undefined. */
  async getSchedule<T = unknown>(name: string): Promise<ScheduleInfo<T> | undefined> {
    validate(ScheduleNameSchema, name, "schedule name");
    try {
      return await this.#transport.request<ScheduleInfo<T>>("GET", `/v1/schedules/${enc(name)}`);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async pauseSchedule(name: string): Promise<ScheduleInfo> {
    validate(ScheduleNameSchema, name, "schedule name");
    return this.#transport.request<ScheduleInfo>("POST", `/v1/schedules/${enc(name)}/pause`);
  }

  async resumeSchedule(name: string): Promise<ScheduleInfo> {
    validate(ScheduleNameSchema, name, "schedule name");
    return this.#transport.request<ScheduleInfo>("POST", `/v1/schedules/${enc(name)}/resume`);
  }

  /** Removes the schedule; false if there was none. */
  async removeSchedule(name: string): Promise<boolean> {
    validate(ScheduleNameSchema, name, "schedule name");
    return existed(this.#transport.request("DELETE", `/v1/schedules/${enc(name)}`));
  }

  // ── admin ──────────────────────────────────────────────────────────────────────────────

  /** Makes the server write a journal snapshot now (`conflict` if its store has none). */
  async snapshot(): Promise<void> {
    await this.#transport.request("POST", "/v1/admin/snapshot");
  }

  /** Sets the concurrency of the server's own in-process workers on `queue` (`not_found` if it runs none). */
  scaleWorkers(queue: string, concurrency: number): Promise<ScaleResult> {
    return this.#transport.request<ScaleResult>("POST", `/v1/admin/workers/${enc(queue)}/scale`, { body: { concurrency } });
  }

  /** Resolves when the server is ready to take writes; rejects with `unavailable` when not (or unreachable). */
  health(): Promise<{ status: string }> {
    return this.#transport.request<{ status: string }>("GET", "/health/ready");
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────────────────

  #registerWorker(worker: WorkerHandle): void {
    this.#checkOpen();
    this.#workers.add(worker);
  }

  /** Closes every worker of this client (draining in-flight handlers), then stops sending. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const results = await Promise.allSettled([...this.#workers].map((w) => w.close()));
      this.#workers.clear();
      await this.#acks.flush();
      this.#transport.close();
      const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failures.length > 0) throw new AggregateError(failures.map((f) => f.reason as unknown), "SpoolClient.close: some workers failed to close");
    })();
    return this.#closing;
  }

  #checkOpen(): void {
    if (this.#closing) throw new SpoolError("unavailable", "this SpoolClient is closed");
  }
}
