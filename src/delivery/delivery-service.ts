/**
 * Batch delivery, composed: the delivery store (in the PostgreSQL database when the Spool's store
 * is PostgreSQL, shared by every process on it; else durable in `<dataDir>/delivery/`, or in memory),
 * the message log, batch intake, the expander, the channel workers, the dead-job sweeper, batch
 * retention and progress events. Opened after the Spool and closed before it: expander (finishes
 * its chunk), sweeper and retention → workers (drain, their log changes land) → hub → events → store.
 */
import path from "node:path";
import type { Readable } from "node:stream";
import type { Logger } from "pino";
import type { HostCircuitOptions } from "../config/schemas.js";
import { NotFoundError } from "../core/errors.js";
import type { Spool } from "../spool.js";
import type { Worker } from "../worker/worker.js";
import type { FsyncPolicy } from "../log/segment-log.js";
import { BatchEvents } from "./batch-events.js";
import { BatchIntake, type BatchAccepted, type ChannelCheck } from "./batch-intake.js";
import type { TemplateRecord } from "./delivery-state.js";
import { DeadJobSweeper } from "./dead-jobs.js";
import type { DeliveryStorage } from "./storage/delivery-storage.js";
import { JournalDeliveryStorage } from "./storage/journal-storage.js";
import { memoryDeliveryStorage } from "./storage/memory-storage.js";
import { PostgresDeliveryStorage } from "./storage/postgres-storage.js";
import { PostgresStore } from "../store/postgres/postgres-store.js";
import { DeliveryWorkers } from "./delivery-workers.js";
import { Expander } from "./expander.js";
import { DeliveryMessageLog, type BatchSummary, type LogPage } from "./message-log.js";
import type { BatchRequest, TemplateBody } from "./schemas.js";
import { startWebsocketWorker } from "./channels/websocket.js";
import { ConnectionHub } from "./realtime/connection-hub.js";
import { RecipientTokens } from "./realtime/recipient-tokens.js";
import { BatchRetention } from "./retention.js";
import { compileTemplate } from "./templates.js";
import type { ChannelName, DeliveryJob, RecipientStatus } from "./types.js";
import { defaults } from "../config/defaults.js";

export interface DeliveryServiceOptions {
  spool: Spool;
  /**
   * Where the delivery store lives (`<dataDir>/delivery`); in memory when left out. Ignored when
   * the Spool's store is PostgreSQL: the delivery state is then in the same database.
   */
  dataDir?: string;
  /** PostgreSQL: an expander that stops renewing its claim on a batch for this long loses it to another process (default 10 s). */
  expansionLeaseMs?: number;
  fsync?: FsyncPolicy;
  /** Handlers at once per channel (defaults: webhook 32, mock 256, websocket 32). */
  concurrency?: { webhook?: number; mock?: number; websocket?: number };
  /** WebSocket: push again when no ack arrives within this long (default 30 s). */
  ackTimeoutMs?: number;
  /** Signs recipient tokens; default: a secret generated once and kept in `<dataDir>/recipient-token-secret`. */
  tokenSecret?: string;
  webhookSecret?: string;
  webhookTimeoutMs?: number;
  /** The per-host webhook circuit (channels/host-circuit.ts). */
  circuitBreaker?: HostCircuitOptions;
  /** Recipients per publishMany of the expander (default 2,000). */
  expandChunkSize?: number;
  /** Jobs a delivery queue may hold before the expander waits for room (default 20,000). */
  maxQueuedJobs?: number;
  /** Throttle of `batch:progress` events per batch (default 250 ms). */
  progressIntervalMs?: number;
  /** Start the channel workers in this process (default true). */
  workers?: boolean;
  /** A complete batch (its log, template copy and idempotency key) is forgotten this long after it completed (default 7 days). */
  retentionMs?: number;
  /** How often the delivery queues' dead totals are checked for jobs that died without an outcome (default 1,000 ms). */
  deadJobCheckMs?: number;
  logger?: Logger;
  random?: () => number;
}

export interface TemplateInfo {
  id: string;
  body: string;
  subject?: string;
  escape: "html" | "none";
  variables: string[];
  updatedAt: number;
}

export class DeliveryService {
  readonly store: DeliveryStorage;
  readonly log: DeliveryMessageLog;
  readonly events: BatchEvents;
  readonly workers: DeliveryWorkers | undefined;
  /** Real-time delivery: open connections per recipient, pushes, ack deadlines. */
  readonly hub: ConnectionHub;
  readonly tokens: RecipientTokens;
  #websocketWorker: Worker<DeliveryJob> | undefined;
  readonly #intake: BatchIntake;
  readonly #expander: Expander;
  readonly #deadJobs: DeadJobSweeper;
  readonly #retention: BatchRetention;
  readonly #unrelay: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  private constructor(options: DeliveryServiceOptions, store: DeliveryStorage, tokenSecret: string) {
    this.store = store;
    this.log = new DeliveryMessageLog(store);
    this.hub = new ConnectionHub({ log: this.log, ackTimeoutMs: options.ackTimeoutMs });
    this.hub.on("hub:fault", ({ error, logId, during }) => options.logger?.warn({ err: error, logId, during }, "realtime hub"));
    this.tokens = new RecipientTokens(tokenSecret);
    this.events = new BatchEvents(this.log, options.progressIntervalMs);
    this.#expander = new Expander(options.spool, store, {
      chunkSize: options.expandChunkSize,
      maxQueued: options.maxQueuedJobs,
      onMove: (listener) => this.log.onBatchChange(() => listener()),
      logger: options.logger,
    });
    // A websocket message whose job ran in another process: pushed here if its recipient is connected here.
    this.#unrelay = store.relay?.onHandOff((logId) => {
      this.hub.deliver(logId).catch((error: unknown) => options.logger?.warn({ err: error, logId }, "realtime hand-off"));
    });
    this.#intake = new BatchIntake(store, (batchId) => this.#expander.start(batchId), { chunkSize: this.#expander.chunkSize });
    this.#deadJobs = new DeadJobSweeper(options.spool, this.log, { checkEveryMs: options.deadJobCheckMs, logger: options.logger });
    this.#retention = new BatchRetention(store, this.log, { retentionMs: options.retentionMs, logger: options.logger });
    if (options.workers !== false) {
      this.workers = new DeliveryWorkers(options.spool, store, this.log, {
        concurrency: options.concurrency,
        webhookSecret: options.webhookSecret,
        webhookTimeoutMs: options.webhookTimeoutMs,
        circuitBreaker: options.circuitBreaker,
        logger: options.logger,
        random: options.random,
      });
    }
  }

  static async open(options: DeliveryServiceOptions): Promise<DeliveryService> {
    const store = await openStorage(options);
    let service: DeliveryService;
    try {
      const secret = options.tokenSecret ?? (await store.tokenSecret());
      service = new DeliveryService(options, store, secret);
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
    try {
      service.#retention.start(); // forgets at once what fell due while the server was down
      await service.#expander.resumeAll();
      await service.#deadJobs.start();
      service.workers?.start();
      if (options.workers !== false) {
        const relay = store.relay;
        const deps = { log: service.log, hub: service.hub, sync: () => store.sync(), ...(relay ? { handOff: (logId: string) => relay.send(logId) } : {}) };
        service.#websocketWorker = startWebsocketWorker(options.spool, deps, { concurrency: options.concurrency?.websocket ?? defaults.delivery.concurrency.websocket });
      }
    } catch (error) {
      await service.close().catch(() => undefined);
      throw error;
    }
    return service;
  }

  // ── templates ─────────────────────────────────────────────────────────────────────────

  async putTemplate(id: string, body: TemplateBody): Promise<TemplateInfo> {
    const compiled = compileTemplate(body, "body");
    const record: TemplateRecord = { id, body: body.body, escape: body.escape ?? "html", updatedAt: Date.now() };
    if (body.subject !== undefined) record.subject = body.subject;
    await this.store.write({ k: "template", template: record });
    return { ...record, variables: [...compiled.variables] };
  }

  /** Applies what other processes sharing the storage wrote (PostgreSQL); resolves at once elsewhere. */
  sync(): Promise<void> {
    return this.store.sync();
  }

  async template(id: string): Promise<TemplateInfo> {
    await this.store.sync();
    const record = this.store.state.templates.get(id);
    if (!record) throw new NotFoundError(`template "${id}" does not exist`);
    return { ...record, variables: [...compileTemplate(record).variables] };
  }

  // ── batches ───────────────────────────────────────────────────────────────────────────

  /** `authorize` may refuse the request's channel, or an existing batch its idempotency key names (batch-intake.ts). */
  createBatch(request: BatchRequest, authorize?: ChannelCheck): Promise<BatchAccepted> {
    return this.#intake.fromJson(request, authorize);
  }

  /** An NDJSON stream: the header line, then one recipient per line. */
  createBatchFromStream(body: Readable, authorize?: ChannelCheck): Promise<BatchAccepted> {
    return this.#intake.fromNdjson(body, authorize);
  }

  async batch(id: string): Promise<BatchSummary> {
    await this.store.sync();
    const summary = this.log.batch(id);
    if (!summary) throw new NotFoundError(`batch "${id}" does not exist`);
    return summary;
  }

  async messages(batchId: string, page: { status?: RecipientStatus; cursor?: string; limit?: number }): Promise<LogPage> {
    await this.store.sync();
    const result = this.log.list(batchId, page);
    if (!result) throw new NotFoundError(`batch "${batchId}" does not exist`);
    return result;
  }

  /** Counts over the batches of the channels `includes` accepts (default: every batch). */
  async stats(includes?: (channel: ChannelName) => boolean): Promise<ReturnType<DeliveryMessageLog["stats"]>> {
    await this.store.sync();
    return this.log.stats(includes);
  }

  /**
   * Fails the log entries of delivery jobs that died without an outcome (runs on its own every
   * `deadJobCheckMs` when a dead total grew); resolves with how many it failed.
   */
  checkDeadJobs(): Promise<number> {
    return this.#deadJobs.check();
  }

  /** Forgets the complete batches whose retention has passed (runs on its own when one falls due). */
  forgetExpiredBatches(): Promise<void> {
    return this.#retention.sweep();
  }

  /** Resolves once no batch is being expanded. */
  expanded(): Promise<void> {
    return this.#expander.idle();
  }

  /** Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#unrelay?.();
      const results = await Promise.allSettled([this.#expander.close(), this.#deadJobs.close(), this.#retention.close()]);
      results.push(...(await Promise.allSettled([this.workers?.close(), this.#websocketWorker?.close()])));
      results.push(...(await Promise.allSettled([this.hub.close()])));
      this.events.close();
      results.push(...(await Promise.allSettled([this.store.close()])));
      const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failures.length > 0) throw new AggregateError(failures.map((f) => f.reason as unknown), "DeliveryService.close: some parts failed to close");
    })();
    return this.#closing;
  }
}

/** The delivery storage beside the Spool's store: in its database (PostgreSQL), in `dataDir`, or in memory. */
function openStorage(options: DeliveryServiceOptions): Promise<DeliveryStorage> {
  const store = options.spool.store;
  if (store instanceof PostgresStore) {
    return PostgresDeliveryStorage.open(store, { ...(options.expansionLeaseMs === undefined ? {} : { expansionLeaseMs: options.expansionLeaseMs }), logger: options.logger });
  }
  if (options.dataDir === undefined) return Promise.resolve(memoryDeliveryStorage());
  return JournalDeliveryStorage.open(path.join(options.dataDir, "delivery"), {
    fsync: options.fsync,
    onWarning: (warning) => options.logger?.warn({ warning }, "delivery log recovery"),
    onFault: (error) => options.logger?.warn({ err: error }, "delivery log snapshot failed"),
    // Outside `delivery/`, which the log locks and scans as its own.
    secretFile: path.join(options.dataDir, "recipient-token-secret"),
  });
}
