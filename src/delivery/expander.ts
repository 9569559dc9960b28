/**
 * The expander (docs/batch-delivery.md, Flow 2): publishes one delivery job per recipient to
 * `delivery.<channel>` in chunks of `chunkSize` (one atomic publishMany each), with
 * `groupKey = recipientId` (per-recipient publish order). A webhook or mock job carries the
 * recipient's vars and is rendered when sent; a websocket job carries its rendered message, which
 * the `expanded` record also keeps in the log (the recipient may connect much later). After each chunk it records the
 * progress durably (an `expanded` record: those recipients move pending → queued); after a
 * restart it resumes from the last recorded chunk. One loop per batch, batches in parallel.
 * A fully expanded batch's recipient file is deleted.
 *
 * A chunk is published at most once: its first job carries the chunk's idempotency key
 * (`<batchId>@<from>+<count>`), and before publishing a chunk the expander asks the queue
 * whether it knows that key — if so the chunk landed (atomically, all of it) before a crash or a
 * store fault kept its record from being written, and only the record is written now. One key
 * per chunk, not per job: the queue remembers keys for its idempotency window (a day by
 * default), and a key per recipient cost a million-recipient batch ~230 MB for that long.
 *
 * A chunk waits for room in its queue first (queue-room.ts): the expander keeps at most about
 * `maxQueued` jobs ahead of the channel's workers, so a large batch waits as `pending` recipients
 * in its file rather than as jobs in memory.
 *
 * A publish that fails (the store cannot write, the queue is full) is retried after a pause that
 * doubles up to 30 s; a job over the Spool's body limit fails that recipient alone. If the
 * delivery store refuses a write, the batch's expansion starts again a second later from its last
 * recorded chunk (what was published meanwhile is dropped as a duplicate).
 *
 * On a storage shared by many processes (`DeliveryStorage.expansions`, PostgreSQL), a batch is
 * expanded by the process holding its claim, and each chunk is published and recorded in one
 * transaction fenced on that claim (no key to look up: the chunk and its record land together or
 * not at all). Every `checkEveryMs` each process tries to claim the unfinished batches no one is
 * expanding, so a batch whose expander died goes on elsewhere once the claim has run out.
 */
import { setTimeout as pause } from "node:timers/promises";
import type { Logger } from "pino";
import { TooLargeError } from "../core/errors.js";
import type { PublishItem } from "../message-types.js";
import type { Spool } from "../spool.js";
import { logIdOf, STATUS_CODE, type BatchState, type DeliveryRecord } from "./delivery-state.js";
import type { DeliveryStorage, ExpansionClaim } from "./storage/delivery-storage.js";
import { QueueRoom } from "./queue-room.js";
import { deliveryQueueName } from "./queue-names.js";
import type { StoredRecipient } from "./recipient-files.js";
import { compileTemplate, type CompiledTemplate } from "./templates.js";
import type { DeliveryJob, RenderedContent } from "./types.js";
import { defaults } from "../config/defaults.js";

export interface ExpanderOptions {
  /** Recipients per publishMany (default 2,000; at most 10,000). */
  chunkSize?: number;
  /** Jobs a channel's queue may hold (waiting or leased) before the next chunk waits (default 20,000). */
  maxQueued?: number;
  /** Status moves, which wake a chunk waiting for room (each may be a job leaving its queue). */
  onMove?: (listener: () => void) => () => void;
  /** How often a chunk waiting for room looks again without a move (default 250 ms). */
  roomRecheckMs?: number;
  logger?: Pick<Logger, "warn" | "error">;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 30_000;
const RETRY_AFTER_FAULT_MS = 1_000;

export class Expander {
  readonly #spool: Spool;
  readonly #store: DeliveryStorage;
  /** For batches recorded without their own chunk size. */
  readonly chunkSize: number;
  readonly #logger: ExpanderOptions["logger"];
  readonly #room: QueueRoom;
  readonly #running = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  #claimCheck: NodeJS.Timeout | undefined;

  constructor(spool: Spool, store: DeliveryStorage, options: ExpanderOptions = {}) {
    this.#spool = spool;
    this.#store = store;
    this.chunkSize = Math.min(Math.max(1, options.chunkSize ?? defaults.delivery.expandChunkSize), 10_000);
    this.#logger = options.logger;
    this.#room = new QueueRoom(spool, { maxQueued: options.maxQueued ?? defaults.delivery.maxQueuedJobs, onMove: options.onMove, recheckMs: options.roomRecheckMs });
  }

  /** Starts (or keeps running) the expansion of `batchId`. */
  start(batchId: string): void {
    if (this.#stop.signal.aborted || this.#running.has(batchId)) return;
    const batch = this.#store.state.batches.get(batchId);
    if (!batch || batch.expandedUpTo >= batch.total) return;
    const run = (this.#store.expansions ? this.#claimAndRun(batchId) : this.#run(batchId))
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
      for await (const recipient of this.#store.recipients.read(batch.id, index)) batch.recipientIds.fill(index++, recipient.id);
      this.start(batch.id);
    }
    const expansions = this.#store.expansions;
    if (expansions && this.#claimCheck === undefined && !this.#stop.signal.aborted) {
      // Batches whose expander stopped (a process died): claimed here once its claim runs out.
      this.#claimCheck = setInterval(() => {
        for (const batch of this.#store.state.batches.values()) if (batch.expandedUpTo < batch.total) this.start(batch.id);
      }, expansions.checkEveryMs);
      this.#claimCheck.unref();
    }
  }

  /** Resolves when no batch is being expanded (tests, the bench). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  /** Stops after the chunk in flight (its progress is recorded); the rest resumes on the next open. */
  async close(): Promise<void> {
    this.#stop.abort();
    clearInterval(this.#claimCheck);
    await Promise.allSettled([...this.#running.values()]);
  }

  /** Expands `batchId` if no other process does (shared storages). */
  async #claimAndRun(batchId: string): Promise<void> {
    const claim = await this.#store.expansions!.claim(batchId);
    if (claim === undefined) return;
    try {
      await this.#run(batchId, claim);
    } finally {
      await claim.release().catch((error: unknown) => this.#logger?.warn({ err: error, batchId }, "releasing a batch's expansion claim failed"));
    }
  }

  async #run(batchId: string, claim?: ExpansionClaim): Promise<void> {
    const batch = this.#store.state.batches.get(batchId);
    if (!batch) return;
    const signal = claim ? AbortSignal.any([this.#stop.signal, claim.signal]) : this.#stop.signal;
    const template = compileTemplate(batch.record.template, `batch ${batchId} template`);
    const queue = deliveryQueueName(batch.channel);
    let from = claim ? claim.from : batch.expandedUpTo;
    const chunkSize = batch.record.chunkSize ?? this.chunkSize;
    let chunk: StoredRecipient[] = [];
    for await (const recipient of this.#store.recipients.read(batchId, from)) {
      if (signal.aborted) return;
      // Room first, then read and render: a chunk is not held in memory while it waits.
      if (chunk.length === 0 && !(await this.#room.wait(queue, Math.min(chunkSize, batch.total - from), signal))) return;
      chunk.push(recipient);
      if (chunk.length >= chunkSize) {
        if (!(await this.#publish(this.#current(batch), template, from, chunk, signal, claim))) return;
        from += chunk.length;
        chunk = [];
      }
    }
    if (chunk.length > 0 && !(await this.#publish(this.#current(batch), template, from, chunk, signal, claim))) return;
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

  /** Publishes one chunk and records it; false when stopped before it could (or the claim was lost). */
  async #publish(batch: BatchState, template: CompiledTemplate, from: number, recipients: StoredRecipient[], signal: AbortSignal, claim: ExpansionClaim | undefined): Promise<boolean> {
    const channel = batch.channel;
    const queue = this.#spool.queue<DeliveryJob>(deliveryQueueName(channel));
    const priority = batch.record.priority;
    const maxBodyBytes = this.#spool.maxBodyBytes;
    const items: PublishItem<DeliveryJob>[] = [];
    /** The recipient index of each item. */
    const indexes: number[] = [];
    const key = chunkKey(batch.id, from, recipients.length);
    const ids: string[] = [];
    // A websocket message waits in its log entry for the recipient to connect, so it is rendered
    // now; the other channels render when they send, from the vars their job carries.
    const contents: RenderedContent[] | undefined = channel === "websocket" ? [] : undefined;
    const oversize: number[] = [];
    for (let k = 0; k < recipients.length; k++) {
      const recipient = recipients[k];
      const job: DeliveryJob = { logId: logIdOf(batch.id, from + k), batchId: batch.id, recipientId: recipient.id };
      if (recipient.address !== undefined) job.address = recipient.address;
      if (contents) {
        const content = template.render(recipient.vars);
        contents.push(content);
        job.content = content;
      } else if (recipient.vars !== undefined) {
        job.vars = recipient.vars;
      }
      ids.push(recipient.id);
      const item: PublishItem<DeliveryJob> = { body: job, groupKey: recipient.id };
      if (priority !== undefined) item.priority = priority;
      items.push(item);
      indexes.push(from + k);
    }
    if (items.length > 0) items[0].idempotencyKey = key;
    const records = (): DeliveryRecord[] => {
      const expanded: { k: "expanded"; b: string; from: number; ids: string[]; t: number; c?: RenderedContent[] } = { k: "expanded", b: batch.id, from, ids, t: Date.now() };
      if (contents) expanded.c = contents;
      const failures = oversize.map((index): DeliveryRecord => ({ k: "change", b: batch.id, i: index, s: STATUS_CODE.failed, t: Date.now(), e: `the recipient's delivery job is over the ${maxBodyBytes}-byte message body limit` }));
      return [expanded, ...failures];
    };
    let pauseMs = RETRY_MIN_MS;
    for (;;) {
      if (signal.aborted) return false;
      try {
        if (claim) {
          // Published and recorded in one transaction, or not at all; false: another process has the batch now.
          const publish = async (transaction: unknown) => void (items.length > 0 && (await queue.publishMany(items, { transaction })));
          return await claim.publishChunk(from, recipients.length, publish, records());
        }
        if (items.length > 0 && !(await this.#landed(queue.name, key))) await queue.publishMany(items);
        break;
      } catch (error) {
        const at = tooLargeItem(error);
        if (at !== undefined && at < items.length) {
          // That recipient's job is over the body limit: it fails alone, the rest of the chunk goes.
          oversize.push(indexes[at]);
          items.splice(at, 1);
          indexes.splice(at, 1);
          if (at === 0 && items.length > 0) items[0].idempotencyKey = key;
          continue;
        }
        this.#logger?.warn({ err: error, batchId: batch.id, from, retryInMs: pauseMs }, "publishing a batch chunk failed; retrying");
        // Rejects at once if close() aborted meanwhile, even before this wait began.
        await pause(pauseMs, undefined, { signal }).catch(() => undefined);
        pauseMs = Math.min(pauseMs * 2, RETRY_MAX_MS);
      }
    }
    for (const record of records()) await this.#store.write(record);
    return true;
  }

  /** Whether the queue knows the chunk's key: it was published before (a publishMany lands whole or not at all). */
  async #landed(queue: string, key: string): Promise<boolean> {
    return (await this.#spool.idempotentId(queue, key)) !== undefined;
  }
}

/** Names a chunk by where it starts and how many recipients it covers. */
function chunkKey(batchId: string, from: number, count: number): string {
  return `${batchId}@${from}+${count}`;
}

/** The item a publishMany refused as too large (its error names `/<item>/body`), if that was the refusal. */
function tooLargeItem(error: unknown): number | undefined {
  if (!(error instanceof TooLargeError)) return undefined;
  const match = /^\/(\d+)\/body$/.exec(error.details[0]?.path ?? "");
  return match ? Number(match[1]) : undefined;
}
