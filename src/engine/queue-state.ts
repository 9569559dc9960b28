import type { ResolvedQueueOptions } from "../config/schemas.js";
import type { QueueTotals } from "../core/message.js";
import { idempotencyExpiresAt, idempotencyKeyHolds } from "../core/retention.js";
import { DeadLetterStore } from "./dead-letter-store.js";
import { Deque } from "../util/deque.js";
import { NIL, Slot, type MessageTable } from "./message-table.js";
import { SlidingWindowLimiter } from "./rate-limiter.js";
import { ReadyIndex } from "./ready-index.js";

/**
 * An ordering group: `active` is the one message (row) of the group that may be ready, delayed
 * or leased; the rest wait behind it in publish order (linked through their prev/next). NIL = none.
 */
export interface Group {
  key: string;
  active: number;
  head: number;
  tail: number;
}

export interface IdempotencyEntry {
  key: string;
  id: string;
  expiresAt: number;
}

/** Everything the engine keeps per queue. */
export class QueueState {
  paused = false;
  /** Waiting in the engine's set of queues whose watchers are due a wake-up. */
  dirty = false;
  readonly ready: ReadyIndex;
  delayed = 0;
  leased = 0;
  groupWaiting = 0;
  readonly dead: DeadLetterStore;
  readonly totals: QueueTotals = { published: 0, completed: 0, retried: 0, dead: 0 };
  /** dedupKey → the waiting row that holds it. */
  readonly dedup = new Map<string, number>();
  readonly idempotency = new Map<string, IdempotencyEntry>();
  readonly #idempotencyOrder = new Deque<IdempotencyEntry>();
  readonly groups = new Map<string, Group>();
  /** Completed messages (rows) still answerable by status(), oldest first. */
  readonly completed = new Deque<number>();
  limiter: SlidingWindowLimiter | undefined;
  /** When a rate-limited queue with work waiting should be woken; 0 = no wake due. */
  limitedUntil = 0;

  readonly #table: MessageTable;

  constructor(
    readonly name: string,
    /** The engine's number for this queue, kept in each of its rows. */
    readonly number: number,
    public options: ResolvedQueueOptions,
    table: MessageTable,
  ) {
    this.#table = table;
    this.ready = new ReadyIndex(table);
    this.dead = new DeadLetterStore(table);
    this.applyOptions(options);
  }

  applyOptions(options: ResolvedQueueOptions): void {
    const limit = options.rateLimit;
    const same = this.limiter && limit && this.limiter.max === limit.max && this.limiter.intervalMs === limit.intervalMs;
    if (!same) this.limiter = limit ? new SlidingWindowLimiter(limit.max, limit.intervalMs) : undefined;
    this.options = options;
  }

  /** Messages waiting to be handed out: what maxLength bounds. */
  get waiting(): number {
    return this.ready.size + this.delayed + this.groupWaiting;
  }

  /** The id an idempotency key maps to, if seen within the window. */
  idempotentId(key: string, now: number): string | undefined {
    this.#forgetExpiredKeys(now);
    const entry = this.idempotency.get(key);
    return entry && idempotencyKeyHolds(entry.expiresAt, now) ? entry.id : undefined;
  }

  /** Like idempotentId, without forgetting expired keys on the way (a read that changes nothing). */
  peekIdempotentId(key: string, now: number): string | undefined {
    const entry = this.idempotency.get(key);
    return entry && entry.expiresAt > now ? entry.id : undefined;
  }

  /** Remembered idempotency keys, oldest first (for snapshots). */
  idempotencyEntries(): IdempotencyEntry[] {
    return [...this.#idempotencyOrder];
  }

  rememberKey(key: string, id: string, now: number, expiresAt = idempotencyExpiresAt(now, this.options.idempotencyWindowMs)): void {
    const entry = { key, id, expiresAt };
    this.idempotency.set(key, entry);
    this.#idempotencyOrder.push(entry);
  }

  #forgetExpiredKeys(now: number): void {
    const order = this.#idempotencyOrder;
    for (let entry = order.peekFront(); entry && !idempotencyKeyHolds(entry.expiresAt, now); entry = order.peekFront()) {
      order.shift();
      if (this.idempotency.get(entry.key) === entry) this.idempotency.delete(entry.key);
    }
  }

  appendToGroup(group: Group, r: number): void {
    const t = this.#table;
    t.slot[r] = Slot.GroupWaiting;
    t.prev[r] = group.tail;
    t.next[r] = NIL;
    if (group.tail !== NIL) t.next[group.tail] = r;
    else group.head = r;
    group.tail = r;
    this.groupWaiting++;
  }

  unlinkFromGroup(group: Group, r: number): void {
    const t = this.#table;
    const prev = t.prev[r];
    const next = t.next[r];
    if (prev !== NIL) t.next[prev] = next;
    else group.head = next;
    if (next !== NIL) t.prev[next] = prev;
    else group.tail = prev;
    t.prev[r] = NIL;
    t.next[r] = NIL;
    t.slot[r] = Slot.None;
    this.groupWaiting--;
  }

  /** The rows waiting in `group`'s line, in order. */
  groupLine(group: Group): number[] {
    const t = this.#table;
    const out: number[] = [];
    for (let r = group.head; r !== NIL; r = t.next[r]) out.push(r);
    return out;
  }
}
