/**
 * The message log (`MessageLog` of types.ts) over the delivery store: per-recipient status with
 * the forward-only rules of delivery-state.ts, counts per batch kept as changes land, cursor
 * paging by recipient index, and change listeners (SSE progress, the real-time hand-off).
 *
 * Listeners run synchronously when a change is applied, which is before it is durable: a
 * listener that must not act on a change that could still be lost awaits the promise of the
 * call that made it (a rejected change rebuilds the log from disk).
 */
import { ValidationError } from "../core/errors.js";
import { logIdOf, parseLogId, statusName, STATUS_CODE, type BatchState } from "./delivery-state.js";
import type { DeliveryStorage } from "./storage/delivery-storage.js";
import { RECIPIENT_STATUSES, type ChannelName, type MessageLog, type MessageLogEntry, type RecipientStatus, type RenderedContent, type StatusChange } from "./types.js";

export type StatusCounts = Record<RecipientStatus, number>;

export interface BatchSummary {
  id: string;
  channel: ChannelName;
  total: number;
  counts: StatusCounts;
  /** Recipients in a final status ÷ total (1 for an empty batch). */
  progress: number;
  /** Recipients published to the channel's queue so far. */
  expanded: number;
  createdAt: number;
  completedAt?: number;
  templateId?: string;
  priority?: number;
  idempotencyKey?: string;
}

export interface LogPage {
  items: MessageLogEntry[];
  nextCursor?: string;
}

export type BatchChangeListener = (batch: BatchState) => void;

function countsOf(counts: readonly number[]): StatusCounts {
  const out = {} as StatusCounts;
  RECIPIENT_STATUSES.forEach((status, code) => (out[status] = counts[code]));
  return out;
}

export class DeliveryMessageLog implements MessageLog {
  readonly #store: DeliveryStorage;
  readonly #listeners = new Set<(entry: MessageLogEntry, from: RecipientStatus) => void>();
  readonly #batchListeners = new Set<BatchChangeListener>();
  readonly #forgetListeners = new Set<(batchId: string) => void>();

  constructor(store: DeliveryStorage) {
    this.#store = store;
    store.onForget = (batchId) => {
      for (const listener of this.#forgetListeners) listener(batchId);
    };
    store.onStatus = (batch, index, from) => {
      for (const listener of this.#batchListeners) listener(batch);
      if (this.#listeners.size === 0) return;
      const entry = this.#entry(batch, index);
      const previous = statusName(from);
      for (const listener of this.#listeners) listener(entry, previous);
    };
  }

  get(logId: string): MessageLogEntry | undefined {
    const found = this.#locate(logId);
    return found && this.#entry(found.batch, found.index);
  }

  async advance(logId: string, to: RecipientStatus, change: StatusChange = {}): Promise<boolean> {
    const found = this.#locate(logId);
    if (!found) return false;
    const { batch, index } = found;
    if (!this.#store.state.allows(batch, index, to)) return false;
    const record: { k: "change"; b: string; i: number; s: number; t: number; a?: number; e?: string } = {
      k: "change",
      b: batch.id,
      i: index,
      s: STATUS_CODE[to],
      t: Date.now(),
    };
    if (change.attempts !== undefined) record.a = change.attempts;
    if (change.error !== undefined) record.e = change.error.slice(0, 2000);
    return this.#store.write(record);
  }

  async reopen(logId: string, content?: RenderedContent): Promise<boolean> {
    const found = this.#locate(logId);
    if (!found || found.batch.status[found.index] !== STATUS_CODE.failed) return false;
    const record: { k: "change"; b: string; i: number; s: number; t: number; r: 1; c?: RenderedContent } = { k: "change", b: found.batch.id, i: found.index, s: STATUS_CODE.queued, t: Date.now(), r: 1 };
    if (content !== undefined && found.batch.channel === "websocket") record.c = content;
    return this.#store.write(record);
  }

  async recordAttempt(logId: string, change: StatusChange): Promise<void> {
    const found = this.#locate(logId);
    if (!found) return;
    const record: { k: "change"; b: string; i: number; t: number; a?: number; e?: string } = { k: "change", b: found.batch.id, i: found.index, t: Date.now() };
    if (change.attempts !== undefined) record.a = change.attempts;
    if (change.error !== undefined) record.e = change.error.slice(0, 2000);
    if (record.a === undefined && record.e === undefined) return;
    await this.#store.write(record);
  }

  undeliveredFor(recipientId: string, channel: ChannelName): MessageLogEntry[] {
    const entries = this.#store.state.outbox.get(recipientId);
    if (!entries) return [];
    const out: MessageLogEntry[] = [];
    for (const { batch, index } of entries.values()) if (batch.channel === channel) out.push(this.#entry(batch, index));
    return out;
  }

  onChange(listener: (entry: MessageLogEntry, from: RecipientStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `listener` with the batch after any of its recipients changed status (cheap: no entry is built). */
  onBatchChange(listener: BatchChangeListener): () => void {
    this.#batchListeners.add(listener);
    return () => this.#batchListeners.delete(listener);
  }

  /** Calls `listener` with the id of every batch forgotten (retention). */
  onForget(listener: (batchId: string) => void): () => void {
    this.#forgetListeners.add(listener);
    return () => this.#forgetListeners.delete(listener);
  }

  // ── reading ───────────────────────────────────────────────────────────────────────────

  batch(id: string): BatchSummary | undefined {
    const batch = this.#store.state.batches.get(id);
    return batch && summarize(batch);
  }

  /** Entries of a batch in index order from `cursor` (an index), optionally of one status. */
  list(batchId: string, options: { status?: RecipientStatus; cursor?: string; limit?: number } = {}): LogPage | undefined {
    const batch = this.#store.state.batches.get(batchId);
    if (!batch) return undefined;
    const limit = options.limit ?? 100;
    let index = 0;
    if (options.cursor !== undefined) {
      if (!/^\d{1,7}$/.test(options.cursor)) throw new ValidationError(`cursor must be a cursor from a previous page, got ${JSON.stringify(options.cursor)}`, [{ path: "/cursor", message: "invalid cursor" }]);
      index = Number(options.cursor);
    }
    const want = options.status === undefined ? -1 : STATUS_CODE[options.status];
    const items: MessageLogEntry[] = [];
    const status = batch.status;
    for (; index < batch.total && items.length < limit; index++) {
      if (want < 0 || status[index] === want) items.push(this.#entry(batch, index));
    }
    if (want >= 0) while (index < batch.total && status[index] !== want) index++;
    return index < batch.total ? { items, nextCursor: String(index) } : { items };
  }

  /** Counts by status over the batches of the channels `includes` accepts (default: all), and per batch (newest first). */
  stats(includes: (channel: ChannelName) => boolean = () => true): { counts: StatusCounts; batches: Array<{ id: string; channel: ChannelName; total: number; counts: StatusCounts; completedAt?: number }> } {
    const total = [0, 0, 0, 0, 0, 0];
    const batches = [];
    for (const batch of this.#store.state.batches.values()) {
      if (!includes(batch.channel)) continue;
      batch.counts.forEach((count, code) => (total[code] += count));
      batches.push({ id: batch.id, channel: batch.channel, total: batch.total, counts: countsOf(batch.counts), ...(batch.completedAt === undefined ? {} : { completedAt: batch.completedAt }) });
    }
    return { counts: countsOf(total), batches: batches.reverse() };
  }

  #locate(logId: string): { batch: BatchState; index: number } | undefined {
    const parsed = parseLogId(logId);
    if (!parsed) return undefined;
    const batch = this.#store.state.batches.get(parsed.batchId);
    if (!batch || parsed.index >= batch.total) return undefined;
    return { batch, index: parsed.index };
  }

  #entry(batch: BatchState, index: number): MessageLogEntry {
    const code = batch.status[index];
    const entry: MessageLogEntry = {
      logId: logIdOf(batch.id, index),
      batchId: batch.id,
      index,
      recipientId: batch.recipientIds.get(index) ?? "",
      channel: batch.channel,
      status: statusName(code),
      attempts: batch.attempts[index],
      createdAt: batch.record.createdAt,
    };
    const error = batch.errors.get(index);
    if (error) entry.lastError = { message: error.message, at: error.at };
    const content = batch.contents.get(index);
    if (content) entry.content = content;
    const queuedAt = batch.time(STATUS_CODE.queued, index);
    if (queuedAt !== undefined) entry.queuedAt = queuedAt;
    const sentAt = batch.time(STATUS_CODE.sent, index);
    if (sentAt !== undefined) entry.sentAt = sentAt;
    const deliveredAt = batch.time(STATUS_CODE.delivered, index);
    if (deliveredAt !== undefined) entry.deliveredAt = deliveredAt;
    const readAt = batch.time(STATUS_CODE.read, index);
    if (readAt !== undefined) entry.readAt = readAt;
    const failedAt = batch.time(STATUS_CODE.failed, index);
    if (failedAt !== undefined) entry.failedAt = failedAt;
    return entry;
  }
}

export function summarize(batch: BatchState): BatchSummary {
  const record = batch.record;
  const summary: BatchSummary = {
    id: batch.id,
    channel: batch.channel,
    total: batch.total,
    counts: countsOf(batch.counts),
    progress: batch.total === 0 ? 1 : batch.done / batch.total,
    expanded: batch.expandedUpTo,
    createdAt: record.createdAt,
  };
  if (batch.completedAt !== undefined) summary.completedAt = batch.completedAt;
  if (record.templateId !== undefined) summary.templateId = record.templateId;
  if (record.priority !== undefined) summary.priority = record.priority;
  if (record.idempotencyKey !== undefined) summary.idempotencyKey = record.idempotencyKey;
  return summary;
}
