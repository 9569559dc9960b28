import type { DeadReason, FailureInfo, LeasedStoredMessage, MessageState, StoredMessage } from "../core/message.js";

/** Where a live message sits inside the engine. */
export const enum Slot {
  /** Not placed yet, or already taken out (completed / dead). */
  None = -1,
  Ready = 0,
  Delayed = 1,
  Leased = 2,
  /** Behind an earlier message of its ordering group. */
  GroupWaiting = 3,
  /** Acked; kept (without its body) only so `status(id)` can answer during the retention. */
  Completed = 4,
}

const DOUBLE_ZERO = -0;

/** Fields most messages never set live in one optional object, to keep the common record small. */
export interface MessageExtras {
  headers?: Record<string, string>;
  groupKey?: string;
  correlationId?: string;
  causationId?: string;
  dedupKey?: string;
  idempotencyKey?: string;
  ttlMs?: number;
  lastError?: FailureInfo;
}

/**
 * One live message. A class with a fixed shape (V8 keeps one hidden class) and intrusive list
 * links and heap positions, so the hot paths allocate nothing beyond the record itself.
 */
export class MessageRecord {
  /** Links in the ready list of its priority, or in its group's waiting list. */
  prev: MessageRecord | null = null;
  next: MessageRecord | null = null;
  /** Position in the delay or lease-expiry timeline (whichever its slot uses). */
  timeIndex = -1;
  /** Position in the TTL timeline. */
  ttlIndex = -1;
  slot: Slot = Slot.None;
  attempt = 0;
  leaseToken = "";
  // Timestamps start as the double -0 (=== 0), not the small integer 0: storing a real
  // timestamp later then keeps the field's representation, so V8 never has to migrate
  // every existing record to a new shape (which cost ~2 µs per record on the lease path).
  leaseUntil = DOUBLE_ZERO;
  expiresAt = DOUBLE_ZERO; // 0 = never
  completedAt = DOUBLE_ZERO;

  constructor(
    readonly id: string,
    readonly queue: string,
    /** Publish order, engine-wide: the FIFO tie-breaker. */
    public seq: number,
    public body: string,
    public priority: number,
    readonly publishedAt: number,
    public availableAt: number,
    public maxAttempts: number,
    public extras: MessageExtras | undefined,
  ) {}

  get state(): MessageState {
    switch (this.slot) {
      case Slot.Leased:
        return "leased";
      case Slot.Delayed:
        return "delayed";
      case Slot.Completed:
        return "completed";
      default:
        return "ready";
    }
  }

  toStored(): StoredMessage {
    const extras = this.extras;
    return {
      id: this.id,
      queue: this.queue,
      body: this.body,
      headers: extras?.headers,
      priority: this.priority,
      groupKey: extras?.groupKey,
      publishedAt: this.publishedAt,
      availableAt: this.availableAt,
      expiresAt: this.expiresAt === 0 ? undefined : this.expiresAt,
      attempt: this.attempt,
      maxAttempts: this.maxAttempts,
      correlationId: extras?.correlationId,
      causationId: extras?.causationId,
    };
  }

  toLeased(): LeasedStoredMessage {
    const leased = this.toStored() as LeasedStoredMessage;
    leased.leaseToken = this.leaseToken;
    leased.leaseUntil = this.leaseUntil;
    return leased;
  }
}

export interface DeadEntry {
  /** Order of arrival in the dead-letter store: the paging cursor. */
  deadSeq: number;
  record: MessageRecord;
  reason: DeadReason;
  deadAt: number;
  removed: boolean;
}
