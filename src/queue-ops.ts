/**
 * Operations on one queue by name, each validated in this one place. `Queue` runs them after
 * declaring its queue; `Spool` runs them by name and declares nothing (an unknown queue is
 * `not_found`), which is what the HTTP routes and the CLI use. A rule added here holds for both.
 */
import { LeaseOptionsSchema, ReplaySelectionSchema } from "./config/schemas.js";
import { validate } from "./config/validate.js";
import { ValidationError } from "./core/errors.js";
import type { BrowsedMessage, BrowseState, DeadLetter, DeadReason, LeasedStoredMessage, QueueStats } from "./core/message.js";
import { requireCapability } from "./store/capabilities.js";
import { leaseWithWait } from "./store/lease-wait.js";
import type { Store } from "./store/store.js";
import type { ReplaySelection } from "./core/operations.js";
import type { CircuitState } from "./worker/circuit-breaker.js";
import { limits } from "./config/limits.js";

export interface LeaseOptions {
  /** Most messages to take (default 1, at most 1000). */
  max?: number;
  /** Lease length; the queue's leaseMs if unset. */
  leaseMs?: number;
  /** Long-poll: wait up to this long for a message when none is ready (default 0, at most 30 s). */
  waitMs?: number;
  signal?: AbortSignal;
}

export interface QueueStatsWithWorkers extends QueueStats {
  /** The circuit state of each of this process's workers on the queue, in start order. */
  circuits: CircuitState[];
}

export interface DeadLetterView<T> extends Omit<DeadLetter, "body"> {
  body: T;
}

export interface DeadLetterPageOptions {
  cursor?: string;
  /** 1–1000, default 100. */
  limit?: number;
  /** Only the dead letters that died for this reason. */
  reason?: DeadReason;
}

const DEAD_REASONS: readonly DeadReason[] = ["max_attempts", "permanent_error", "expired", "rejected", "overflow"];


export function positiveInt(value: unknown, name: string, max: number, where: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ValidationError(`${where}: ${name} must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`, [
      { path: `/${name}`, message: `expected integer 1..${max}` },
    ]);
  }
  return value;
}

/** Checks a lease request (the same schema as the HTTP lease body); returns it with its defaults (max 1, no wait). */
export function checkLease(queue: string, options: LeaseOptions): { max: number; leaseMs: number | undefined; waitMs: number; signal: AbortSignal | undefined } {
  if (options === null || typeof options !== "object") throw new ValidationError(`lease from "${queue}": options must be an object`);
  const { signal, ...settings } = options;
  validate(LeaseOptionsSchema, settings, `lease from "${queue}"`);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new ValidationError(`lease from "${queue}": signal must be an AbortSignal`, [{ path: "/signal", message: "expected an AbortSignal" }]);
  return { max: settings.max ?? 1, leaseMs: settings.leaseMs, waitMs: settings.waitMs ?? 0, signal };
}

/** Leases (long-polling when asked) as the store holds the messages: bodies still JSON text. */
export function leaseStored(store: Store, queue: string, request: ReturnType<typeof checkLease>): Promise<LeasedStoredMessage[]> {
  return leaseWithWait(store, queue, { max: request.max, leaseMs: request.leaseMs }, request.waitMs, request.signal);
}

export async function queueStats(store: Store, queue: string, circuits: CircuitState[]): Promise<QueueStatsWithWorkers> {
  const stats = await store.stats(queue);
  return { ...stats, circuits };
}

/** Checks a dead-letter page request before anything reaches the store; returns its limit. */
export function checkDeadLetterPage(store: Store, queue: string, page: DeadLetterPageOptions): number {
  const limit = page.limit === undefined ? 100 : positiveInt(page.limit, "limit", limits.maxDeadLetterPage, `dead letters of "${queue}"`);
  if (page.cursor !== undefined && typeof page.cursor !== "string") throw new ValidationError(`dead letters of "${queue}": cursor must be a string from a previous page`);
  if (page.reason !== undefined && !DEAD_REASONS.includes(page.reason)) {
    throw new ValidationError(`dead letters of "${queue}": reason must be one of ${DEAD_REASONS.join(", ")}, got ${JSON.stringify(page.reason)}`, [{ path: "/reason", message: "unknown reason" }]);
  }
  // A store without cursor paging answers the first page only: a cursor is refused, not ignored.
  if (page.cursor !== undefined) requireCapability(store, "deadLetterPaging", `dead letters of "${queue}"`);
  return limit;
}

export async function deadLetterPage<T>(store: Store, queue: string, page: DeadLetterPageOptions = {}): Promise<{ items: DeadLetterView<T>[]; nextCursor?: string }> {
  const limit = checkDeadLetterPage(store, queue, page);
  const result = await store.listDead(queue, { cursor: page.cursor, limit, ...(page.reason !== undefined && { reason: page.reason }) });
  const items = result.items.map((d) => ({ ...d, body: JSON.parse(d.body) as T }));
  return result.nextCursor === undefined ? { items } : { items, nextCursor: result.nextCursor };
}

/** A browsed message with its body decoded (absent once completed: the store keeps no body then). */
export interface BrowsedMessageView<T> extends Omit<BrowsedMessage, "body"> {
  body: T | undefined;
}

export interface BrowseOptions {
  /** Which messages: `ready` (default) in lease order, `delayed` by due time, `leased` by lease end, `completed` newest first. */
  state?: BrowseState;
  /** 1–100, default 20. */
  limit?: number;
  /** How many to skip first (0 to 100,000, default 0): the next page is at offset + limit. */
  offset?: number;
}

const BROWSE_STATES: readonly BrowseState[] = ["ready", "delayed", "leased", "completed"];

/** Up to `limit` messages of `queue` in a state, for looking at (queue.browse, GET /v1/queues/:q/messages). */
export async function browseMessages<T>(store: Store, queue: string, options: BrowseOptions = {}): Promise<BrowsedMessageView<T>[]> {
  const where = `browse "${queue}"`;
  if (options === null || typeof options !== "object") throw new ValidationError(`${where}: options must be an object`);
  const state = options.state ?? "ready";
  if (!BROWSE_STATES.includes(state)) {
    throw new ValidationError(`${where}: state must be one of ${BROWSE_STATES.join(", ")}, got ${JSON.stringify(state)}`, [{ path: "/state", message: "unknown state" }]);
  }
  const limit = options.limit === undefined ? 20 : positiveInt(options.limit, "limit", limits.maxBrowse, where);
  const offset = options.offset === undefined || options.offset === 0 ? 0 : positiveInt(options.offset, "offset", limits.maxBrowseOffset, where);
  const messages = await store.browse(queue, { state, limit, offset });
  return messages.map((m) => ({ ...m, body: m.body === undefined ? undefined : (JSON.parse(m.body) as T) }));
}

export function checkReplaySelection(queue: string, selection: ReplaySelection): void {
  // A program may compute an empty list: that replays nothing (HTTP refuses an empty request as a mistake).
  if (selection !== null && typeof selection === "object" && "ids" in selection && Array.isArray(selection.ids) && selection.ids.length === 0) return;
  validate(ReplaySelectionSchema, selection, `replay on "${queue}" (give {ids: string[]} or {all: true})`);
}

export function checkDeadId(queue: string, id: unknown): void {
  if (typeof id !== "string" || id.length === 0) throw new ValidationError(`dead letter of "${queue}": id must be a non-empty string, got ${JSON.stringify(id)}`);
}
