import type { Spool } from "../spool.js";
import type { QueueRateTracker } from "./queue-rates.js";

/** What every route needs: the Spool, the rate sampler, and whether the server is shutting down. */
export interface ServerContext {
  readonly spool: Spool;
  readonly rates: QueueRateTracker;
  /** Aborts when the server begins to shut down: long-polls answer at once. */
  readonly shutdown: AbortSignal;
  /** Optional observer for lease-to-ack timing and HTTP request durations (metrics). */
  readonly observer?: ServerObserver;
}

/** Hooks for metrics; each is optional, and none may throw. */
export interface ServerObserver {
  httpRequest?(method: string, route: string, status: number, seconds: number): void;
  /** Messages handed out over HTTP: the start of their lease-to-ack time. */
  leased?(messages: ReadonlyArray<{ id: string; queue: string }>): void;
  acked?(id: string): void;
  /** A nacked message's lease ended without an ack: stop timing it. */
  forgetLease?(id: string): void;
}
