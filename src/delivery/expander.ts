/**
 * The expander (docs/batch-delivery.md, Flow 2): renders each recipient's message and publishes
 * it to `delivery.<channel>` in chunks of `chunkSize` (one atomic publishMany each), with
 * `groupKey = recipientId` (per-recipient publish order) and `idempotencyKey = logId` (a chunk
 * published again after a crash is dropped as a duplicate). After each chunk it records the
 * progress durably (an `expanded` record: those recipients move pending → queued); after a
 * restart it resumes from the last recorded chunk. One loop per batch, batches in parallel.
 * A fully expanded batch's recipient file is deleted.
 *
 * A publish that fails (the store cannot write, the queue is full) is retried after a pause that
 * doubles up to 30 s; a message over the Spool's body limit fails that recipient alone. If the
 * delivery store refuses a write, the batch's expansion starts again a second later from its last
 * recorded chunk (what was published meanwhile is dropped as a duplicate).
 */
import { setTimeout as pause } from "node:timers/promises";
import type { Logger } from "pino";
import type { PublishItem } from "../message-types.js";
import type { Spool } from "../spool.js";
import { logIdOf, STATUS_CODE, type BatchState } from "./delivery-state.js";
import type { DeliveryStore } from "./delivery-store.js";
import { deliveryQueueName } from "./queue-names.js";
import type { StoredRecipient } from "./recipient-files.js";
import { compileTemplate, type CompiledTemplate } from "./templates.js";
import type { DeliveryJob, RenderedContent } from "./types.js";

export interface ExpanderOptions {
  /** Recipients per publishMany (default 2,000; at most 10,000). */
  chunkSize?: number;
  logger?: Pick<Logger, "warn" | "error">;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 30_000;
const RETRY_AFTER_FAULT_MS = 1_000;

export class Expander {
  readonly #spool: Spool;
  readonly #store: DeliveryStore;
  readonly #chunkSize: number;
  readonly #logger: ExpanderOptions["logger"];
  readonly #running = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();

  constructor(spool: Spool, store: DeliveryStore, options: ExpanderOptions = {}) {
    this.#spool = spool;
    this.#store = store;
    this.#chunkSize = Math.min(Math.max(1, options.chunkSize ?? 2_000), 10_000);
    this.#logger = options.logger;
  }

  /** Starts (or keeps running) the expansion of `batchId`. */
  start(batchId: string): void {
    if (this.#stop.signal.aborted || this.#running.has(batchId)) return;
    const batch = this.#store.state.batches.get(batchId);
    if (!batch || batch.expandedUpTo >= batch.total) return;
    const run = this.#run(batchId)
      .catch((error: unknown) => {
        // A store fault (its write rejected): pick up again from the last recorded chunk.
        this.#logger?.error({ err: error, batchId, retryInMs: RETRY_AFTER_FAULT_MS }, "batch expansion failed; resuming later");
        if (!this.#stop.signal.aborted) setTimeout(() => this.start(batchId), RETRY_AFTER_FAULT_MS).unref();
      })
      .finally(() => this.#running.delete(batchId));
    this.#running.set(batchId, run);
  }

  /** After a restart: fills in the ids of recipients not yet expanded, then resumes every unfinished batch. */
  async resumeAll(): Promise<void> {
    const known = new Set(this.#store.state.batches.keys());
    for (const batchId of await this.#store.recipients.list()) {
      if (!known.has(batchId)) await this.#store.recipients.remove(batchId); // accepted by no batch record: a request that died
    }
    for (const batch of this.#store.state.batches.values()) {
      if (batch.expandedUpTo >= batch.total) continue;
      let index = batch.expandedUpTo;
      for await (const recipient of this.#store.recipients.read(batch.id, index)) batch.recipientIds[index++] ??= recipient.id;
      this.start(batch.id);
    }
  }

  /** Resolves when no batch is being expanded (tests, the bench). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  /** Stops after the chunk in flight (its progress is recorded); the rest resumes on the next open. */
  async close(): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled([...this.#running.values()]);
  }

  async #run(batchId: string): Promise<void> {
    const batch = this.#store.state.batches.get(batchId);
    if (!batch) return;
    const template = compileTemplate(batch.record.template, `batch ${batchId} template`);
    let from = batch.expandedUpTo;
    let chunk: StoredRecipient[] = [];
    for await (const recipient of this.#store.recipients.read(batchId, from)) {
      if (this.#stop.signal.aborted) return;
      chunk.push(recipient);
      if (chunk.length >= this.#chunkSize) {
        if (!(await this.#publish(this.#current(batch), template, from, chunk))) return;
        from += chunk.length;
        chunk = [];
      }
    }
    if (chunk.length > 0 && !(await this.#publish(this.#current(batch), template, from, chunk))) return;
    const current = this.#current(batch);
    if (current.expandedUpTo < current.total) {
      // The file ended early (it was lost or cut): the rest can never be sent.
      this.#logger?.error({ batchId, expanded: current.expandedUpTo, total: current.total }, "recipient file ended before the batch's total");
      for (let index = current.expandedUpTo; index < current.total; index++) {
        await this.#store.write({ k: "change", b: batchId, i: index, s: STATUS_CODE.failed, t: Date.now(), e: "the batch's recipient file is missing or short" });
      }
    }
    await this.#store.recipients.remove(batchId);
  }

  /** The batch's state now (a rebuilt store has new objects). */
  #current(batch: BatchState): BatchState {
    return this.#store.state.batches.get(batch.id) ?? batch;
  }

  /** Publishes one chunk and records it; false when stopped before it could. */
  async #publish(batch: BatchState, template: CompiledTemplate, from: number, recipients: StoredRecipient[]): Promise<boolean> {
    const channel = batch.channel;
    const queue = this.#spool.queue<DeliveryJob>(deliveryQueueName(channel));
    const priority = batch.record.priority;
    const maxBodyBytes = this.#spool.maxBodyBytes;
    const items: PublishItem<DeliveryJob>[] = [];
    const ids: string[] = [];
    const contents: RenderedContent[] | undefined = channel === "websocket" ? [] : undefined;
    const oversize: number[] = [];
    for (let k = 0; k < recipients.length; k++) {
      const recipient = recipients[k];
      const logId = logIdOf(batch.id, from + k);
      const content = template.render(recipient.vars);
      ids.push(recipient.id);
      contents?.push(content);
      const job: DeliveryJob = { logId, batchId: batch.id, recipientId: recipient.id, content };
      if (recipient.address !== undefined) job.address = recipient.address;
      if (mayExceed(content, maxBodyBytes) && Buffer.byteLength(JSON.stringify(job)) > maxBodyBytes) {
        oversize.push(from + k);
        continue;
      }
      const item: PublishItem<DeliveryJob> = { body: job, groupKey: recipient.id, idempotencyKey: logId };
      if (priority !== undefined) item.priority = priority;
      items.push(item);
    }
    let pauseMs = RETRY_MIN_MS;
    for (;;) {
      if (this.#stop.signal.aborted) return false;
      try {
        if (items.length > 0) await queue.publishMany(items);
        break;
      } catch (error) {
        this.#logger?.warn({ err: error, batchId: batch.id, from, retryInMs: pauseMs }, "publishing a batch chunk failed; retrying");
        // Rejects at once if close() aborted meanwhile, even before this wait began.
        await pause(pauseMs, undefined, { signal: this.#stop.signal }).catch(() => undefined);
        pauseMs = Math.min(pauseMs * 2, RETRY_MAX_MS);
      }
    }
    const record: { k: "expanded"; b: string; from: number; ids: string[]; t: number; c?: RenderedContent[] } = { k: "expanded", b: batch.id, from, ids, t: Date.now() };
    if (contents) record.c = contents;
    await this.#store.write(record);
    for (const index of oversize) {
      await this.#store.write({ k: "change", b: batch.id, i: index, s: STATUS_CODE.failed, t: Date.now(), e: `the rendered message is over the ${maxBodyBytes}-byte body limit` });
    }
    return true;
  }
}

function mayExceed(content: RenderedContent, maxBodyBytes: number): boolean {
  return (content.body.length + (content.subject?.length ?? 0)) * 3 + 1024 > maxBodyBytes;
}
