import type { ResolvedQueueOptions } from "../config/schemas.js";
import type { QueueTotals } from "../core/message.js";
import type { ScheduleRecord } from "../core/schedule.js";
import type { ExchangeInfo } from "../routing/route.js";
import type { DeadRows } from "./dead-letter-store.js";
import type { MessageTable } from "./message-table.js";
import type { IdempotencyEntry } from "./queue-state.js";

/**
 * Everything the engine holds: what a snapshot writes and recovery reads back. Messages are
 * rows of `table`; the lists below name rows, and those that carry an order (ready levels,
 * group lines, completed, dead) give it. Heaps (delays, leases, TTLs) are rebuilt from keys,
 * which order them fully (ties break on seq). In a state to import, each row's `queue` column
 * is the index of its queue in `queues` (a snapshot decoder numbers them so).
 *
 * An exported state shares the engine's live table: encode it before the engine runs again, or
 * freeze the table (`MessageTable.freeze`) to encode it later.
 */
export interface EngineState {
  seq: number;
  deadSeq: number;
  exchanges: ExchangeInfo[];
  table: MessageTable;
  queues: QueueSnapshot[];
  /** Schedules (absent from states written before schedules existed: none). */
  schedules?: ScheduleRecord[];
}

export interface QueueSnapshot {
  name: string;
  options: ResolvedQueueOptions;
  paused: boolean;
  totals: QueueTotals;
  limiterStamps: number[];
  /** Ready rows, each priority level in list order. */
  ready: number[];
  delayed: number[];
  leased: number[];
  groups: Array<{ key: string; activeId: string | null; waiting: number[] }>;
  completed: number[];
  /** Dead rows in arrival order; their reason and time are in the rows (deadReason, endedAt). */
  dead: DeadRows;
  dedup: Array<[key: string, id: string]>;
  idempotency: IdempotencyEntry[];
}
