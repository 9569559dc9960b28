/**
 * A small in-memory `MessageLog` for the hub's unit tests only (the end-to-end tests use the real
 * one): forward-only statuses, the websocket outbox in publish order, synchronous listeners, and
 * writes that resolve on the next microtask (or fail, when told to).
 */
import type { ChannelName, MessageLog, MessageLogEntry, RecipientStatus, RenderedContent, StatusChange } from "../../../src/delivery/types.js";

const RANK: Record<RecipientStatus, number> = { pending: 0, queued: 1, sent: 2, delivered: 3, read: 4, failed: 5 };

export class MemoryMessageLog implements MessageLog {
  readonly entries = new Map<string, MessageLogEntry>();
  readonly #listeners = new Set<(entry: MessageLogEntry, from: RecipientStatus) => void>();
  /** Every write, in order: `advance <id> <status>` or `attempt <id> <n>`. */
  readonly writes: string[] = [];
  /** When set, writes reject with this error. */
  failWrites: Error | undefined;
  #seq = 0;

  /** Adds a `queued` websocket entry for `recipientId`; returns its log id. */
  add(recipientId: string, body: string, options: { batchId?: string; status?: RecipientStatus; content?: RenderedContent | null } = {}): string {
    const batchId = options.batchId ?? "B";
    const index = this.#seq++;
    const logId = `${batchId}_${index}`;
    const entry: MessageLogEntry = { logId, batchId, index, recipientId, channel: "websocket", status: options.status ?? "queued", attempts: 0, createdAt: 0 };
    if (options.content !== null) entry.content = options.content ?? { body };
    this.entries.set(logId, entry);
    return logId;
  }

  get(logId: string): MessageLogEntry | undefined {
    const entry = this.entries.get(logId);
    return entry && { ...entry };
  }

  async advance(logId: string, to: RecipientStatus, change: StatusChange = {}): Promise<boolean> {
    const entry = this.entries.get(logId);
    if (!entry) return false;
    const from = entry.status;
    const allowed = from !== "failed" && (to === "failed" ? RANK[from] <= 2 : RANK[to] > RANK[from]);
    if (!allowed) return false;
    if (this.failWrites) throw this.failWrites;
    entry.status = to;
    if (change.attempts !== undefined) entry.attempts = change.attempts;
    this.writes.push(`advance ${logId} ${to}`);
    for (const listener of this.#listeners) listener({ ...entry }, from);
    await Promise.resolve();
    return true;
  }

  async reopen(logId: string, content?: RenderedContent): Promise<boolean> {
    const entry = this.entries.get(logId);
    if (!entry || entry.status !== "failed") return false;
    if (this.failWrites) throw this.failWrites;
    entry.status = "queued";
    if (content !== undefined) entry.content = content;
    this.writes.push(`reopen ${logId}`);
    for (const listener of this.#listeners) listener({ ...entry }, "failed");
    await Promise.resolve();
    return true;
  }

  async recordAttempt(logId: string, change: StatusChange): Promise<void> {
    const entry = this.entries.get(logId);
    if (!entry) return;
    if (this.failWrites) throw this.failWrites;
    if (change.attempts !== undefined) entry.attempts = change.attempts;
    if (change.error !== undefined) entry.lastError = { message: change.error, at: 0 };
    this.writes.push(`attempt ${logId} ${entry.attempts}`);
    await Promise.resolve();
  }

  undeliveredFor(recipientId: string, channel: ChannelName): MessageLogEntry[] {
    return [...this.entries.values()].filter((e) => e.recipientId === recipientId && e.channel === channel && (e.status === "queued" || e.status === "sent")).map((e) => ({ ...e }));
  }

  onChange(listener: (entry: MessageLogEntry, from: RecipientStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(logId: string): RecipientStatus | undefined {
    return this.entries.get(logId)?.status;
  }
}
