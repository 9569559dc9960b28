/** The shapes the dashboard reads from the API (docs/http-api.md), as far as it uses them. */
export interface QueueStats {
  name: string;
  paused: boolean;
  ready: number;
  delayed: number;
  leased: number;
  dead: number;
  totals: { published: number; completed: number; retried: number; dead: number };
  rates: { publishedPerSec: number; completedPerSec: number };
  oldestReadyAgeMs: number;
  readyByPriority: number[];
  circuits: string[];
  options: Record<string, unknown>;
}

export interface StatsEvent {
  at: number;
  queues: QueueStats[];
  health: { status: "ready" | "unavailable"; problem?: string };
  store: { name: string; writeProblem?: string };
}

export type WhoAmI = { auth: false } | { auth: true; name: string; scopes: string[]; queues: string[] | null };

export interface FailureInfo {
  message: string;
  kind?: string;
  at?: number;
  [key: string]: unknown;
}

export interface MessageStatus {
  id: string;
  queue: string;
  state: string;
  attempt: number;
  maxAttempts: number;
  priority: number;
  groupKey?: string;
  publishedAt: number;
  availableAt: number;
  expiresAt?: number;
  leaseUntil?: number;
  completedAt?: number;
  deadAt?: number;
  deadReason?: string;
  lastError?: FailureInfo;
  correlationId?: string;
  causationId?: string;
  progress?: unknown;
  result?: unknown;
  log?: Array<{ at: number; line: string }>;
}

export interface DeadLetter {
  id: string;
  queue: string;
  body: unknown;
  headers?: Record<string, string>;
  priority: number;
  attempt: number;
  maxAttempts: number;
  publishedAt: number;
  reason: string;
  deadAt: number;
  lastError?: FailureInfo;
}

export const BATCH_STATUSES = ["pending", "queued", "sent", "delivered", "read", "failed"] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
export type BatchCounts = Record<BatchStatus, number>;

export interface BatchSummary {
  id: string;
  channel: string;
  total: number;
  counts: BatchCounts;
  progress?: number;
  expanded?: boolean;
  createdAt?: number;
  completedAt?: number;
  templateId?: string;
}

export interface BatchLogEntry {
  logId: string;
  index: number;
  recipientId: string;
  status: BatchStatus;
  attempts: number;
  lastError?: { message: string; at: number };
  createdAt: number;
  sentAt?: number;
  deliveredAt?: number;
  readAt?: number;
  failedAt?: number;
}

export interface ExchangeInfo {
  name: string;
  type: string;
  bindings: Array<{ queue: string; bindingKey: string }>;
}

/** A message event from `GET /v1/events?queue=` (docs/events.md). */
export interface QueueEvent {
  type: string;
  queue: string;
  id: string;
  at: number;
  attempt?: number;
  availableAt?: number;
  reason?: string;
  error?: FailureInfo;
}

export const BROWSE_STATES = ["ready", "delayed", "leased", "completed"] as const;
export type BrowseState = (typeof BROWSE_STATES)[number];

/** A message from `GET /v1/queues/:q/messages`: its status, with its body while the queue keeps it. */
export interface BrowsedMessage extends MessageStatus {
  body?: unknown;
  headers?: Record<string, string>;
}
