/** What `child-host.ts` and the tests that drive it share: the messages and the load's shape. */

export interface Body {
  producer: string;
  seq: number;
}

export type ChildMessage =
  | { t: "ready"; pid: number; openMs: number }
  | { t: "pub"; keys: string[] }
  | { t: "pub-ok"; items: Array<[string, string]> }
  | { t: "leased"; items: Array<[string, string]> }
  | { t: "ack"; items: Array<[string, string]> }
  | { t: "ack-ok"; items: Array<[string, string]> }
  | { t: "stats"; recordsPerFdatasync: number; fdatasyncs: number; records: number }
  | { t: "error"; message: string };

/**
 * The `timers` profile of the load: short leases, nacks with a delay and publishes with a
 * `delayMs`, `availableAt` or `ttlMs`, so a restart always finds timers due.
 */
export const TIMERS = {
  leaseMs: 300,
  timedMaxMs: 1_500,
  /** Chance that a publish carries a timer (every nack of this profile has a delay). */
  timedChance: 0.3,
} as const;

/** Shared with the parent, which must know what the child may produce. */
export const LOAD = {
  producers: [
    { name: "p0", window: 1 },
    { name: "p1", window: 4 },
    { name: "p2", window: 16 },
  ],
  maxSeq: 1_000_000,
  leaseMs: 30_000,
  queueOptions: { maxAttempts: 1000, leaseMs: 30_000, completedRetentionMs: 30 * 86_400_000, completedRetentionCount: 100_000_000 },
} as const;

/** poison-host.ts: a queue whose poison message's handler kills its own process. */
export const POISON_QUEUE = "poison";
export const POISON_OPTIONS = { maxAttempts: 3, leaseMs: 300, backoff: { type: "fixed" as const, baseMs: 1, jitter: "none" as const } };
