/**
 * The one small interface every benchmarked system implements. Scenarios own the timing; an
 * adapter only knows how to talk to its system.
 */
import type { BenchBody } from "../lib/body.js";
import type { Counter } from "../lib/counter.js";
import type { Target } from "../scenarios/scenario.js";

/** `spool` systems get targets and are the numerators of the ratios; `peer`s are the denominators. */
export type SystemKind = "spool" | "baseline" | "peer";

/** How many messages each workload sends to this system (slow peers run smaller N). */
export interface Sizes {
  publishMany: number;
  /** By concurrency. */
  endToEnd: Record<number, number>;
  /** Ready messages held for the memory figure. */
  readyMemory: number;
  /** Timed runs of publish-many and each end-to-end: the median is reported (fast systems afford more). */
  repeats: number;
  /** The large backlog of the backlog scenario: messages already waiting in the queue (the small one is 1k). */
  backlog: number;
}

export interface BenchSystem {
  readonly name: string;
  readonly kind: SystemKind;
  readonly sizes: Sizes;
  /** `spool serve` flags that run this system's store behind HTTP; only systems with them run the http scenario. */
  readonly serveFlags?: readonly string[];
  /** What was measured, filled in by setup(): versions and the settings that matter (AOF, fsync, polling…). */
  readonly notes: string[];
  /** Connects (or opens). Throws, with a readable reason, when the service is unreachable. */
  setup(): Promise<void>;
  /** An empty queue with a unique name; the system deletes it in teardown() if the scenario did not. */
  createQueue(): Promise<BenchQueue>;
  /** The memory that `count` ready messages take where this system keeps them. */
  readyMemory(count: number): Promise<ReadyMemory>;
  /**
   * Systems that keep their data on disk in this process: closes the store (final snapshot
   * included) and opens it again from disk, timing both. Queues made before it are not usable after.
   */
  reopen?(): Promise<Reopen>;
  /** Systems that snapshot in this process: takes one now; resolves once it is durable. */
  snapshot?(): Promise<void>;
  /**
   * Systems whose data other processes can share (a database): the environment a child process
   * needs so that this system's `setup()` there attaches to the same data instead of making its
   * own. Set by setup(). The processes scenario runs only on systems that have it.
   */
  readonly sharedEnv?: Readonly<Record<string, string>>;
  /** With `sharedEnv`: a queue another process made, by name. */
  attachQueue?(name: string): Promise<BenchQueue>;
  /** Deletes every queue, key and schema it created, and disconnects. Never throws. */
  teardown(): Promise<void>;
}

export interface BenchQueue {
  readonly name: string;
  /** One bulk call of the system; resolves once every message is durable (acknowledged / confirmed). */
  publishMany(bodies: readonly BenchBody[]): Promise<void>;
  /** One message, one call. */
  publish(body: BenchBody): Promise<void>;
  /** Starts a consumer running a no-op handler; resolves once it is ready to receive. */
  consume(options: ConsumeOptions): Promise<Consumer>;
  delete(): Promise<void>;
}

export interface ConsumeOptions {
  /** Handlers running at once (prefetch for RabbitMQ, batch size for pg-boss). */
  concurrency: number;
  /** Expected arrival rate: a polling consumer may size its batches from it. */
  ratePerSec?: number;
  /** Called as a handler starts, with the decoded body. */
  onHandle?: (body: BenchBody) => void;
}

export interface Consumer {
  /** Messages whose handler finished (and, where the client reports it, whose ack was taken). */
  readonly handled: Counter;
  /**
   * Resolves once `count` messages are settled in the system (acked). Systems that report each
   * ack count it; the others (pg-boss completes in the background) are asked.
   */
  settled(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface ReadyMemory {
  /** Bytes that the ready messages add (after − before). */
  addedBytes: number;
  /** Where they were measured: "process RSS", "redis used_memory"… */
  where: string;
  /** The same resource as Spool's (memory), so a ratio makes sense. */
  comparable: boolean;
  /** For in-process systems: the RSS of the process holding them, and of the same process empty. */
  rssBytes?: number;
  emptyRssBytes?: number;
  /** Peak RSS of the measuring process (in-process systems). */
  peakRssBytes?: number;
  /** Systems with `reopen()`: closing and reopening while holding the messages. */
  reopen?: Reopen & { rssBytes: number };
  /** Systems with `snapshot()`: how long one took, and the longest the event loop was blocked meanwhile. */
  snapshot?: { ms: number; maxBlockMs: number };
}

export interface Reopen {
  /** close(): the final snapshot and syncs. */
  closeMs: number;
  /** open() until the store answers again: snapshot load plus log replay. */
  reopenMs: number;
}

/** One line of the registry: how to make a system, so the bench loads only what it runs. */
export interface SystemEntry {
  name: string;
  kind: SystemKind;
  create(): BenchSystem;
  /**
   * Targets of this system that differ from the row's (by row id; `null`: no target here). The
   * PostgreSQL store has its own (DESIGN.md §5): a network round trip and a database commit per
   * batch are not the journal's fdatasync.
   */
  targets?: Readonly<Record<string, Target | null>>;
  /** Spool systems: the peers whose ratios are printed (default: every peer). */
  comparedWith?: readonly string[];
}

/** Queue names unique to this run: `bench-<pid>-<time>-<n>`. */
let queueCounter = 0;
const RUN_ID = `${process.pid}-${Date.now().toString(36)}`;
export function uniqueName(prefix = "bench"): string {
  return `${prefix}-${RUN_ID}-${++queueCounter}`;
}
