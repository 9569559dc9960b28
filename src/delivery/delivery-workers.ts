/**
 * The in-process workers of `spool serve` on `delivery.webhook` and `delivery.mock` (public
 * `queue.work` API), and how an attempt's outcome lands in the message log. A job carries the
 * recipient's vars, and its message is rendered here, when it is sent (batch-templates.ts); a
 * message that cannot be rendered fails permanently. The log is written
 * BEFORE the queue is settled, so the log may be ahead of the queue after a crash but never
 * behind it (a redelivered message whose entry is already final is simply acked):
 *
 *   sent                                  → log `sent`, then the worker acks
 *   permanent failure, or attempts used up → log `failed` (last error, attempts), then the worker
 *                                            nacks and the message goes dead
 *   retryable failure                     → log attempts + last error, then the worker nacks and
 *                                            the queue's backoff schedules the retry; with a
 *                                            `Retry-After` the handler throws a TransientError
 *                                            with `retryAfterMs`, and the worker's nack carries
 *                                            that delay instead of the backoff
 *   the host's circuit is open            → released with a delay until it half-opens (no
 *                                            attempt used; engine `nack {release, delayMs}`)
 *   a replayed dead job (attempt 1) whose → the entry is reopened (failed → queued), then sent
 *   entry had failed                         as usual
 *
 * Releasing a job (open circuit) is the one case where the handler settles the message itself:
 * the worker's own ack that follows is refused with `lease_lost`, an expected refusal that is not
 * reported.
 */
import type { Logger } from "pino";
import type { HostCircuitOptions } from "../config/schemas.js";
import { PermanentError, SpoolError, TransientError } from "../core/errors.js";
import type { LeasedMessage } from "../message-types.js";
import type { Queue } from "../queue.js";
import type { NackOptions } from "../core/operations.js";
import type { Spool } from "../spool.js";
import type { HandlerContext, Worker } from "../worker/worker.js";
import type { SendOutcome } from "./channels/channel.js";
import type { CircuitOutcome } from "./channels/host-circuit.js";
import { BatchTemplates } from "./batch-templates.js";
import { HostCircuits } from "./channels/host-circuits.js";
import { sendMock } from "./channels/mock.js";
import { sendWebhook } from "./channels/webhook.js";
import { isFinalStatus, parseLogId, statusName, type BatchState } from "./delivery-state.js";
import type { DeliveryStorage } from "./storage/delivery-storage.js";
import { deliveryQueueName } from "./queue-names.js";
import type { DeliveryMessageLog } from "./message-log.js";
import type { ChannelName, DeliveryJob, RenderedContent } from "./types.js";
import { defaults } from "../config/defaults.js";

export interface DeliveryWorkerOptions {
  /** Handlers at once per channel (defaults: webhook 32, mock 256). */
  concurrency?: { webhook?: number; mock?: number };
  /** Signs webhooks of batches that bring no secret of their own. */
  webhookSecret?: string;
  /** Default per-request timeout of a webhook (default 10,000 ms). */
  webhookTimeoutMs?: number;
  /** Per destination host (host-circuit.ts). */
  circuitBreaker?: HostCircuitOptions;
  logger?: Pick<Logger, "warn" | "info">;
  /** The mock channel's dice (tests make it deterministic). */
  random?: () => number;
}

type WorkedChannel = Extract<ChannelName, "webhook" | "mock">;

export class DeliveryWorkers {
  readonly circuits: HostCircuits;
  readonly #spool: Spool;
  readonly #store: DeliveryStorage;
  readonly #log: DeliveryMessageLog;
  readonly #options: DeliveryWorkerOptions;
  readonly #workers: Worker<DeliveryJob>[] = [];
  readonly #templates = new BatchTemplates();
  #expectedLeaseLost = 0;

  constructor(spool: Spool, store: DeliveryStorage, log: DeliveryMessageLog, options: DeliveryWorkerOptions = {}) {
    this.#spool = spool;
    this.#store = store;
    this.#log = log;
    this.#options = options;
    this.circuits = new HostCircuits(options.circuitBreaker, (host, state) => options.logger?.info({ host, state }, "webhook host circuit"));
  }

  start(): void {
    for (const channel of ["webhook", "mock"] as const) {
      const queue = this.#spool.queue<DeliveryJob>(deliveryQueueName(channel));
      const concurrency = this.#options.concurrency?.[channel] ?? defaults.delivery.concurrency[channel];
      const worker = queue.work((message, ctx) => this.#handle(channel, queue, message, ctx), { concurrency });
      worker.on("worker:error", ({ error }) => {
        if (error instanceof SpoolError && error.code === "lease_lost" && this.#expectedLeaseLost > 0) {
          this.#expectedLeaseLost--;
          return;
        }
        this.#options.logger?.warn({ err: error, queue: queue.name }, "delivery worker");
      });
      this.#workers.push(worker);
    }
  }

  /** Drains in-flight deliveries (their log changes land), then stops. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#workers.map((worker) => worker.close()));
  }

  async #handle(channel: WorkedChannel, queue: Queue<DeliveryJob>, message: LeasedMessage<DeliveryJob>, ctx: HandlerContext): Promise<void> {
    const job = message.body;
    const where = parseLogId(job.logId);
    let batch = where && this.#store.state.batches.get(where.batchId);
    if (where && !batch) {
      // On a shared storage the batch may have been recorded by another process a moment ago.
      await this.#store.sync();
      batch = this.#store.state.batches.get(where.batchId);
    }
    if (!where || !batch) return; // a job of a batch this log does not know (or forgotten since): nothing to record
    const status = statusName(batch.status[where.index]);
    if (status === "failed" && message.attempt === 1) {
      // A dead job an operator replayed (replay resets attempts): deliver it again.
      await this.#log.reopen(job.logId);
    } else if (isFinalStatus(batch.channel, status)) {
      return; // settled before a crash; now a duplicate
    }
    let content: RenderedContent;
    try {
      // Rendered at send time from the job's vars (a job published before jobs carried vars has its content).
      content = job.content ?? this.#templates.render(batch, job.vars);
    } catch (error) {
      await this.#record(message, { ok: false, retryable: false, error: `rendering the message: ${(error as Error).message}` });
      return;
    }
    const outcome = channel === "mock" ? await this.#mock(batch, ctx) : await this.#webhook(batch, content, queue, message, ctx);
    if (outcome === undefined) return; // put back, not attempted
    await this.#record(message, outcome);
  }

  /** The mock renders like any channel (above), so it costs what a send costs short of the network. */
  #mock(batch: BatchState, ctx: HandlerContext): Promise<SendOutcome> {
    const settings = batch.record.mock;
    // ctx.signal costs an AbortController: only a send that waits needs it.
    return sendMock(settings, settings?.latencyMs ? ctx.signal : undefined, this.#options.random);
  }

  async #webhook(batch: BatchState, content: RenderedContent, queue: Queue<DeliveryJob>, message: LeasedMessage<DeliveryJob>, ctx: HandlerContext): Promise<SendOutcome | undefined> {
    const job = message.body;
    const settings = batch.record.webhook;
    const url = job.address ?? settings?.url;
    let host: string;
    try {
      if (url === undefined) throw new Error("no address");
      host = new URL(url).host;
    } catch {
      return { ok: false, retryable: false, error: `webhook: no usable URL for recipient ${JSON.stringify(job.recipientId)}` };
    }
    const admission = this.circuits.admit(host);
    if (!admission.admitted) {
      await this.#settleSelf(queue, message, { release: true, delayMs: admission.retryInMs });
      return undefined;
    }
    let outcome: SendOutcome;
    try {
      const secret = settings?.secret ?? this.#options.webhookSecret;
      const timeoutMs = settings?.timeoutMs ?? this.#options.webhookTimeoutMs ?? defaults.delivery.webhookTimeoutMs;
      const request = { url: url as string, timeoutMs, ...(secret === undefined ? {} : { secret }) };
      outcome = await sendWebhook({ logId: job.logId, batchId: job.batchId, recipientId: job.recipientId, content }, request, ctx.signal);
    } catch (error) {
      this.circuits.record(host, admission.permit, "ignored"); // aborted (shutdown): says nothing about the host
      throw error;
    }
    this.circuits.record(host, admission.permit, circuitOutcome(outcome));
    return outcome;
  }

  async #record(message: LeasedMessage<DeliveryJob>, outcome: SendOutcome): Promise<void> {
    const logId = message.body.logId;
    const attempts = message.attempt;
    if (outcome.ok) {
      await this.#log.advance(logId, "sent", { attempts });
      return;
    }
    const final = !outcome.retryable || attempts >= message.maxAttempts;
    if (final) {
      await this.#log.advance(logId, "failed", { attempts, error: outcome.error });
      throw outcome.retryable ? new Error(outcome.error) : new PermanentError(outcome.error);
    }
    await this.#log.recordAttempt(logId, { attempts, error: outcome.error });
    // The worker nacks with `retryAfterMs` as the delay (a Retry-After), or with the queue's backoff.
    if (outcome.retryAfterMs !== undefined) throw new TransientError(outcome.error, { retryAfterMs: outcome.retryAfterMs });
    throw new Error(outcome.error);
  }

  /** Releases from inside the handler (open circuit); the worker's ack that follows is an expected `lease_lost`. */
  async #settleSelf(queue: Queue<DeliveryJob>, message: LeasedMessage<DeliveryJob>, options: NackOptions): Promise<void> {
    this.#expectedLeaseLost++;
    try {
      await queue.nack(message.id, message.leaseToken, options);
    } catch (error) {
      this.#expectedLeaseLost--;
      throw error;
    }
  }
}

/** A 4xx says the host is up (the recipient's problem); a 429 with Retry-After is its own pacing. */
function circuitOutcome(outcome: SendOutcome): CircuitOutcome {
  if (outcome.ok) return "success";
  if (outcome.host === "fault") return "failure";
  return outcome.host === "pacing" ? "ignored" : "success";
}
