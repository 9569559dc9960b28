/**
 * The shared vocabulary of batch delivery (docs/batch-delivery.md):
 * a batch renders a template per recipient, each rendered message is one delivery job on a
 * channel's queue, and the message log records what happened to every recipient.
 *
 *   pending ──enqueued──▶ queued ──channel accepted──▶ sent ──client ack──▶ delivered ──▶ read
 *      │                    │                            │
 *      └────────────────────┴──── permanent failure / attempts used up ──▶ failed
 *
 * Statuses only move forward along that line (a late `sent` after `delivered` is ignored), and
 * `failed` is final — with one exception, taken only through `reopen`: a dead delivery job that
 * an operator replays (POST /v1/queues/delivery.<channel>/dead/replay) comes back as a fresh
 * delivery (attempt 1); if its entry is `failed` it is reopened (failed → queued) and the job
 * delivers it as usual (→ sent, or failed again). A job dying without reaching its handler (its
 * lease ran out on the last attempt, a TTL) moves its `pending`/`queued` entry to `failed`.
 */

export type RecipientStatus = "pending" | "queued" | "sent" | "delivered" | "read" | "failed";
export const RECIPIENT_STATUSES: readonly RecipientStatus[] = ["pending", "queued", "sent", "delivered", "read", "failed"];

export type ChannelName = "webhook" | "websocket" | "mock";

/** What a template renders to for one recipient. */
export interface RenderedContent {
  subject?: string;
  body: string;
}

/** The body of one message on a channel's delivery queue (`delivery.<channel>`). */
export interface DeliveryJob {
  /** The message-log id: `<batchId>_<index>`; also the HTTP id for /v1/messages/:id/delivered and /read. */
  logId: string;
  batchId: string;
  recipientId: string;
  /** Channel-specific destination (a webhook URL); the batch's default when absent. */
  address?: string;
  /**
   * The recipient's template variables (webhook and mock jobs, when the recipient has any): the
   * channel renders the batch's template with them when it sends, so a job is as large as its
   * variables, whatever the template's size.
   */
  vars?: Record<string, unknown>;
  /** The rendered message (websocket jobs only: their entry waits in the log for the recipient). */
  content?: RenderedContent;
}

export interface MessageLogEntry {
  logId: string;
  batchId: string;
  index: number;
  recipientId: string;
  channel: ChannelName;
  status: RecipientStatus;
  /** Delivery attempts so far. */
  attempts: number;
  lastError?: { message: string; at: number };
  content?: RenderedContent;
  createdAt: number;
  queuedAt?: number;
  sentAt?: number;
  deliveredAt?: number;
  readAt?: number;
  failedAt?: number;
}

export interface StatusChange {
  /** For `failed` (and retried attempts): what went wrong. */
  error?: string;
  /** Attempts so far, when the change comes from a delivery attempt. */
  attempts?: number;
}

/**
 * The durable per-recipient log. Every change resolves once durable; a change that does not move
 * the status forward resolves `false` and changes nothing.
 */
export interface MessageLog {
  get(logId: string): MessageLogEntry | undefined;
  advance(logId: string, to: RecipientStatus, change?: StatusChange): Promise<boolean>;
  /**
   * failed → queued, for a replayed delivery job (attempt 1) whose entry had failed; `content` is
   * kept for a websocket entry (pushed again). Resolves false (and changes nothing) unless `failed`.
   */
  reopen(logId: string, content?: RenderedContent): Promise<boolean>;
  /** Records a failed attempt that will be retried (attempts and last error; status unchanged). */
  recordAttempt(logId: string, change: StatusChange): Promise<void>;
  /** The recipient's websocket messages not yet delivered (status queued or sent), in publish order. */
  undeliveredFor(recipientId: string, channel: ChannelName): MessageLogEntry[];
  /** Calls `listener` after every status change (SSE progress, real-time hand-off). Returns an unsubscribe. */
  onChange(listener: (entry: MessageLogEntry, from: RecipientStatus) => void): () => void;
}
