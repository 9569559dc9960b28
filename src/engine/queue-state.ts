import type { ResolvedQueueOptions } from "../config/schemas.js";
import type { QueueTotals } from "../core/message.js";
import { DeadLetterStore } from "./dead-letter-store.js";
import { Deque } from "./deque.js";
import { Slot, type MessageRecord } from "./message-record.js";
import { SlidingWindowLimiter } from "./rate-limiter.js";
import { ReadyIndex } from "./ready-index.js";

/**
 * An ordering group: `active` is the one message of the group that may be ready, delayed or
 * leased; the rest wait behind it in publish order (linked through their prev/next).
 */
export interface Group {
  key: string;
  active: MessageRecord | null;
  head: MessageRecord | null;
  tail: MessageRecord | null;
}

export interface IdempotencyEntry {
  key: string;
  id: string;
  expiresAt: number;
}

/** Everything the engine keeps per queue. */
export class QueueState {
  paused = false;
  readonly ready = new ReadyIndex();
  delayed = 0;
  leased = 0;
  groupWaiting = 0;
  readonly dead = new DeadLetterStore();
  readonly totals: QueueTotals = { published: 0, completed: 0, retried: 0, dead: 0 };
  readonly dedup = new Map<string, MessageRecord>();
  readonly idempotency = new Map<string, IdempotencyEntry>();
  readonly #idempotencyOrder = new Deque<IdempotencyEntry>();
  readonly groups = new Map<string, Group>();
  /** Completed messages still answerable by status(), oldest first. */
  readonly completed = new Deque<MessageRecord>();
  limiter: SlidingWindowLimiter | undefined;
  /** When a rate-limited queue with work waiting should be woken; 0 = no wake due. */
  limitedUntil = 0;

  constructor(
    readonly name: string,
    public options: ResolvedQueueOptions,
  ) {
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
    return entry && entry.expiresAt > now ? entry.id : undefined;
  }

  /** Remembered idempotency keys, oldest first (for snapshots). */
  idempotencyEntries(): IdempotencyEntry[] {
    return [...this.#idempotencyOrder];
  }

  rememberKey(key: string, id: string, now: number, expiresAt = now + this.options.idempotencyWindowMs): void {
    const entry = { key, id, expiresAt };
    this.idempotency.set(key, entry);
    this.#idempotencyOrder.push(entry);
  }

  #forgetExpiredKeys(now: number): void {
    const order = this.#idempotencyOrder;
    for (let entry = order.peekFront(); entry && entry.expiresAt <= now; entry = order.peekFront()) {
      order.shift();
      if (this.idempotency.get(entry.key) === entry) this.idempotency.delete(entry.key);
    }
  }

  appendToGroup(group: Group, record: MessageRecord): void {
    record.slot = Slot.GroupWaiting;
    record.prev = group.tail;
    record.next = null;
    if (group.tail) group.tail.next = record;
    else group.head = record;
    group.tail = record;
    this.groupWaiting++;
  }

  unlinkFromGroup(group: Group, record: MessageRecord): void {
    if (record.prev) record.prev.next = record.next;
    else group.head = record.next;
    if (record.next) record.next.prev = record.prev;
    else group.tail = record.prev;
    record.prev = null;
    record.next = null;
    record.slot = Slot.None;
    this.groupWaiting--;
  }
}
