/** What `pg-host.ts` and the PostgreSQL multi-process tests share: the messages and the queues' shape. */

export interface Body {
  producer: string;
  seq: number;
}

/** One handling as its handler saw it: `[id, attempt, leaseToken, leaseUntil (the database's ms), startedAt (this machine's ms)]`. */
export type Start = [string, number, string, number, number];
/** `[id, attempt, at]`: a handler returned (`ends`), or its ack was accepted (`done`). */
export type Mark = [string, number, number];

export type PgHostMessage =
  | { t: "ready"; pid: number }
  /** Sent once per event-loop turn with what happened in it; `refused`: leases found lost (an extend or an ack answered lease_lost). */
  | { t: "handlings"; starts: Start[]; ends: Mark[]; done: Mark[]; refused: number }
  /** outbox mode: the caller's transaction (an order row and its event) committed; the process dies right after. */
  | { t: "committed"; id: string; orderId: number }
  | { t: "closed" }
  | { t: "error"; message: string };

/** What the parent sends: close the worker and the Spool, then exit. */
export type PgHostCommand = { t: "close" };

/** The drain test's queue: short leases, so the others take over a dead process's work quickly. */
export const DRAIN = {
  queue: "drain",
  leaseMs: 2_000,
  options: { leaseMs: 2_000, maxAttempts: 100, completedRetentionMs: 3_600_000, completedRetentionCount: 10_000_000 },
  /**
   * Every `slowEvery`-th message's handler takes `slowMs` (its lease is extended by the worker's
   * heartbeat meanwhile); the others take 0–15 ms. So a process killed at any moment holds a
   * few leases its handlers have reported (the test's stale tokens), besides any it leased in
   * its last moments and never reported.
   */
  slowEvery: 200,
  slowMs: 1_500,
} as const;

/** The outbox tests' queue and the caller's own table, in the test's schema. */
export const OUTBOX = {
  queue: "order-events",
  orders: "orders",
} as const;
