import type { ResolvedQueueOptions } from "../config/schemas.js";
import type { DeadReason, QueueTotals } from "../core/message.js";
import type { ExchangeInfo } from "../routing/route.js";
import type { MessageRecord } from "./message-record.js";
import type { IdempotencyEntry } from "./queue-state.js";

/**
 * Everything the engine holds, as plain data: what a snapshot writes and recovery reads back.
 * Records keep their slot; lists that carry an order (ready levels, group lines, completed)
 * are given in that order. Heaps (delays, leases, TTLs) are rebuilt from keys, which order
 * them fully (ties break on seq).
 */
export interface EngineState {
  seq: number;
  deadSeq: number;
  exchanges: ExchangeInfo[];
  queues: QueueSnapshot[];
}

export interface QueueSnapshot {
  name: string;
  options: ResolvedQueueOptions;
  paused: boolean;
  totals: QueueTotals;
  limiterStamps: number[];
  /** Ready records, each priority level in list order. */
  ready: MessageRecord[];
  delayed: MessageRecord[];
  leased: MessageRecord[];
  groups: Array<{ key: string; activeId: string | null; waiting: MessageRecord[] }>;
  completed: MessageRecord[];
  dead: Array<{ deadSeq: number; record: MessageRecord; reason: DeadReason; deadAt: number }>;
  dedup: Array<[key: string, id: string]>;
  idempotency: IdempotencyEntry[];
}
