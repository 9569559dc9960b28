/**
 * Every message the engine holds, as a table of columns (struct of arrays): message `r` is
 * row r of each typed array. Rows are recycled through a free list. Ids live as four 32-bit
 * words per row behind an `IdIndex`, bodies as UTF-8 in a `BodyArena`; only the rare fields
 * (extras) and lease tokens sit in Maps, for the rows that have them.
 *
 * Why: one object per message (with its id string, body string, boxed doubles and a Map entry)
 * cost ~450 bytes of heap and made the garbage collector trace millions of objects; a row here
 * is ~110 bytes plus its body, and the heap holds almost nothing per message. Snapshots
 * read and write rows straight from and to the columns.
 *
 * A row number is only meaningful while the row is allocated: structures that keep rows
 * (ready lists, heaps, groups, dead letters) must drop them when the row is freed.
 */
import { idFromWords, idToWords } from "../core/ids.js";
import type { DeadReason, FailureInfo, LeasedStoredMessage, MessageState, StoredMessage } from "../core/message.js";
import type { MessageLogEntry } from "../core/story.js";
import { BodyArena } from "./body-arena.js";
import { IdIndex } from "./id-index.js";

/** Where a message sits inside the engine. */
export const enum Slot {
  /** The row is not in use. */
  Free = -2,
  /** Not placed yet, or being moved. */
  None = -1,
  Ready = 0,
  Delayed = 1,
  Leased = 2,
  /** Behind an earlier message of its ordering group. */
  GroupWaiting = 3,
  /** Acked; kept (without its body) only so `status(id)` can answer during the retention. */
  Completed = 4,
  /** In its queue's dead-letter store. */
  Dead = 5,
}

/** No row: the null of row links. */
export const NIL = -1;

/** Fields most messages never set live in one optional object, to keep the common row small. */
export interface MessageExtras {
  headers?: Record<string, string>;
  groupKey?: string;
  correlationId?: string;
  causationId?: string;
  dedupKey?: string;
  idempotencyKey?: string;
  ttlMs?: number;
  lastError?: FailureInfo;
  /** The last reported progress, as JSON text. */
  progress?: string;
  /** The message's log, oldest first (core/story.ts). */
  log?: MessageLogEntry[];
  /** A completed message's result, as JSON text. */
  result?: string;
}

export const DEAD_REASONS: readonly DeadReason[] = ["max_attempts", "permanent_error", "expired", "rejected", "overflow"];
const DEAD_REASON_CODE = new Map(DEAD_REASONS.map((reason, code) => [reason, code]));

/** The columns a new row is created with. */
export interface NewRow {
  queue: number;
  seq: number;
  priority: number;
  publishedAt: number;
  availableAt: number;
  maxAttempts: number;
}

/**
 * What a snapshot reads of each row: MessageTable itself, or a `FrozenRows` copy taken at one
 * instant that a snapshot can encode while the engine runs on.
 */
export interface RowSource {
  readonly size: number;
  readonly idWords: Uint32Array;
  readonly seq: Float64Array;
  readonly publishedAt: Float64Array;
  readonly availableAt: Float64Array;
  readonly leaseUntil: Float64Array;
  readonly expiresAt: Float64Array;
  readonly endedAt: Float64Array;
  readonly attempt: Uint32Array;
  readonly maxAttempts: Uint32Array;
  readonly priority: Uint8Array;
  readonly deadReason: Uint8Array;
  readonly bodyRef: Uint32Array;
  readonly bodyBytes: Uint32Array;
  readonly extras: ReadonlyMap<number, MessageExtras>;
  readonly leaseTokens: ReadonlyMap<number, string>;
  readonly bodies: Pick<BodyArena, "copyTo" | "pageBytes">;
}

/**
 * The rows of a table as they were when `MessageTable.freeze` ran: the snapshot columns copied
 * (a memcpy each), the maps copied (their values are never mutated in place, only replaced),
 * and the body arena pinned rather than copied. `release` unpins it; call it exactly once.
 */
export class FrozenRows implements RowSource {
  readonly size: number;
  readonly idWords: Uint32Array;
  readonly seq: Float64Array;
  readonly publishedAt: Float64Array;
  readonly availableAt: Float64Array;
  readonly leaseUntil: Float64Array;
  readonly expiresAt: Float64Array;
  readonly endedAt: Float64Array;
  readonly attempt: Uint32Array;
  readonly maxAttempts: Uint32Array;
  readonly priority: Uint8Array;
  readonly deadReason: Uint8Array;
  readonly bodyRef: Uint32Array;
  readonly bodyBytes: Uint32Array;
  readonly extras: ReadonlyMap<number, MessageExtras>;
  readonly leaseTokens: ReadonlyMap<number, string>;
  readonly bodies: BodyArena;
  #released = false;

  constructor(t: MessageTable) {
    const rows = t.highWater;
    this.size = t.size;
    this.idWords = t.idWords.slice(0, rows * 4);
    this.seq = t.seq.slice(0, rows);
    this.publishedAt = t.publishedAt.slice(0, rows);
    this.availableAt = t.availableAt.slice(0, rows);
    this.leaseUntil = t.leaseUntil.slice(0, rows);
    this.expiresAt = t.expiresAt.slice(0, rows);
    this.endedAt = t.endedAt.slice(0, rows);
    this.attempt = t.attempt.slice(0, rows);
    this.maxAttempts = t.maxAttempts.slice(0, rows);
    this.priority = t.priority.slice(0, rows);
    this.deadReason = t.deadReason.slice(0, rows);
    this.bodyRef = t.bodyRef.slice(0, rows);
    this.bodyBytes = t.bodyBytes.slice(0, rows);
    this.extras = new Map(t.extras);
    this.leaseTokens = new Map(t.leaseTokens);
    this.bodies = t.bodies;
    this.bodies.pin();
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.bodies.unpin();
  }
}

const MIN_CAPACITY = 64;
const scratchWords = new Uint32Array(4);

export class MessageTable implements RowSource {
  // ── columns (replaced by larger copies as the table grows: do not keep them across a `create`)
  /** Publish order, engine-wide: the FIFO tie-breaker. */
  seq = new Float64Array(MIN_CAPACITY);
  publishedAt = new Float64Array(MIN_CAPACITY);
  availableAt = new Float64Array(MIN_CAPACITY);
  leaseUntil = new Float64Array(MIN_CAPACITY);
  /** 0 = never. */
  expiresAt = new Float64Array(MIN_CAPACITY);
  /** When it completed or went dead. */
  endedAt = new Float64Array(MIN_CAPACITY);
  /** Links in the ready list of its priority, or in its group's waiting line. */
  prev = new Int32Array(MIN_CAPACITY);
  next = new Int32Array(MIN_CAPACITY);
  /** Position in whichever ordered structure its slot uses: the delay or lease timeline, or its dead-letter list. */
  timeIndex = new Int32Array(MIN_CAPACITY);
  /** Position in the TTL timeline. */
  ttlIndex = new Int32Array(MIN_CAPACITY);
  slot = new Int8Array(MIN_CAPACITY).fill(Slot.Free);
  priority = new Uint8Array(MIN_CAPACITY);
  deadReason = new Uint8Array(MIN_CAPACITY);
  attempt = new Uint32Array(MIN_CAPACITY);
  maxAttempts = new Uint32Array(MIN_CAPACITY);
  /** The engine's number for the queue. */
  queue = new Uint32Array(MIN_CAPACITY);
  bodyRef = new Uint32Array(MIN_CAPACITY);
  bodyBytes = new Uint32Array(MIN_CAPACITY);
  /** The id of row r in words [4r, 4r+4). */
  idWords = new Uint32Array(MIN_CAPACITY * 4);

  readonly extras = new Map<number, MessageExtras>();
  readonly leaseTokens = new Map<number, string>();
  readonly bodies = new BodyArena();
  readonly #ids: IdIndex;
  #capacity = MIN_CAPACITY;
  /** Rows ever used: rows at or past it are free and not on the free list. */
  #highWater = 0;
  #freeRows: number[] = [];
  #size = 0;

  /** `expectedRows`: room to make at once (a snapshot load knows how many rows it brings). */
  constructor(expectedRows = 0) {
    this.#ids = new IdIndex(this, expectedRows);
    if (expectedRows > MIN_CAPACITY) this.#grow(expectedRows);
  }

  /** A copy of the rows as they are now, for a snapshot that encodes while the engine runs on. */
  freeze(): FrozenRows {
    return new FrozenRows(this);
  }

  /** Rows in use. */
  get size(): number {
    return this.#size;
  }

  /** Rows below this may be in use (for whole-table walks). */
  get highWater(): number {
    return this.#highWater;
  }

  /**
   * A new row with id `id` (a canonical id, not held yet) and body `body`; every other column
   * starts at its zero (links NIL, slot None).
   */
  create(id: string, body: string, row: NewRow): number {
    const bodyBytes = Buffer.byteLength(body, "utf8");
    const r = this.#allocRow();
    if (!idToWords(id, this.idWords, r * 4)) {
      this.#releaseRow(r);
      throw new Error(`engine: "${id}" is not a canonical message id`);
    }
    this.bodyRef[r] = this.bodies.put(body, bodyBytes);
    this.bodyBytes[r] = bodyBytes;
    this.#init(r, row);
    return r;
  }

  /** The same, with the id as words and the body copied from `source` (snapshot load). */
  createFrom(w0: number, w1: number, w2: number, w3: number, source: Buffer, bodyStart: number, bodyBytes: number, row: NewRow): number {
    const r = this.#allocRow();
    const at = r * 4;
    this.idWords[at] = w0;
    this.idWords[at + 1] = w1;
    this.idWords[at + 2] = w2;
    this.idWords[at + 3] = w3;
    this.bodyRef[r] = this.bodies.putBytes(source, bodyStart, bodyBytes);
    this.bodyBytes[r] = bodyBytes;
    this.#init(r, row);
    return r;
  }

  #init(r: number, row: NewRow): void {
    if (!this.#ids.insert(r)) {
      const id = this.id(r);
      this.bodies.free(this.bodyRef[r], this.bodyBytes[r]);
      this.#releaseRow(r);
      throw new Error(`engine: message id ${id} is already in use`);
    }
    this.queue[r] = row.queue;
    this.seq[r] = row.seq;
    this.priority[r] = row.priority;
    this.publishedAt[r] = row.publishedAt;
    this.availableAt[r] = row.availableAt;
    this.maxAttempts[r] = row.maxAttempts;
    this.leaseUntil[r] = 0;
    this.expiresAt[r] = 0;
    this.endedAt[r] = 0;
    this.attempt[r] = 0;
    this.deadReason[r] = 0;
    this.prev[r] = NIL;
    this.next[r] = NIL;
    this.timeIndex[r] = NIL;
    this.ttlIndex[r] = NIL;
    this.slot[r] = Slot.None;
    this.#size++;
  }

  /** Forgets row r: its id, body, token and extras. */
  free(r: number): void {
    this.#ids.remove(r);
    this.dropBody(r);
    this.extras.delete(r);
    this.leaseTokens.delete(r);
    this.#releaseRow(r);
    this.#size--;
  }

  /** The row holding `id`, or NIL. */
  find(id: string): number {
    if (!idToWords(id, scratchWords, 0)) return NIL;
    return this.#ids.find(scratchWords[0], scratchWords[1], scratchWords[2], scratchWords[3]);
  }

  id(r: number): string {
    return idFromWords(this.idWords, r * 4);
  }

  body(r: number): string {
    return this.bodies.get(this.bodyRef[r], this.bodyBytes[r]);
  }

  /** A completed message keeps its row for status() but not its body. */
  dropBody(r: number): void {
    if (this.bodyBytes[r] === 0) return;
    this.bodies.free(this.bodyRef[r], this.bodyBytes[r]);
    this.bodyBytes[r] = 0;
    this.bodyRef[r] = 0;
  }

  /** A dedupKey replace. */
  replaceBody(r: number, body: string): void {
    const bodyBytes = Buffer.byteLength(body, "utf8");
    this.dropBody(r);
    this.bodyRef[r] = this.bodies.put(body, bodyBytes);
    this.bodyBytes[r] = bodyBytes;
  }

  setDeadReason(r: number, reason: DeadReason): void {
    this.deadReason[r] = DEAD_REASON_CODE.get(reason) as number;
  }

  deadReasonOf(r: number): DeadReason {
    return DEAD_REASONS[this.deadReason[r]];
  }

  state(r: number): MessageState {
    switch (this.slot[r]) {
      case Slot.Leased:
        return "leased";
      case Slot.Delayed:
        return "delayed";
      case Slot.Completed:
        return "completed";
      case Slot.Dead:
        return "dead";
      default:
        return "ready";
    }
  }

  toStored(r: number, queueName: string): StoredMessage {
    const extras = this.extras.get(r);
    const expiresAt = this.expiresAt[r];
    return {
      id: this.id(r),
      queue: queueName,
      body: this.body(r),
      headers: extras?.headers,
      priority: this.priority[r],
      groupKey: extras?.groupKey,
      publishedAt: this.publishedAt[r],
      availableAt: this.availableAt[r],
      expiresAt: expiresAt === 0 ? undefined : expiresAt,
      attempt: this.attempt[r],
      maxAttempts: this.maxAttempts[r],
      correlationId: extras?.correlationId,
      causationId: extras?.causationId,
    };
  }

  /**
   * One object literal with every field (not toStored's object with two fields added, which
   * moved it to a new shape and gave it a second allocation for the added properties): every
   * leased message goes through here.
   */
  toLeased(r: number, queueName: string): LeasedStoredMessage {
    const extras = this.extras.size === 0 ? undefined : this.extras.get(r);
    const expiresAt = this.expiresAt[r];
    return {
      id: this.id(r),
      queue: queueName,
      body: this.body(r),
      headers: extras?.headers,
      priority: this.priority[r],
      groupKey: extras?.groupKey,
      publishedAt: this.publishedAt[r],
      availableAt: this.availableAt[r],
      expiresAt: expiresAt === 0 ? undefined : expiresAt,
      attempt: this.attempt[r],
      maxAttempts: this.maxAttempts[r],
      correlationId: extras?.correlationId,
      causationId: extras?.causationId,
      leaseToken: this.leaseTokens.get(r) as string,
      leaseUntil: this.leaseUntil[r],
    };
  }

  #allocRow(): number {
    if (this.#freeRows.length > 0) return this.#freeRows.pop() as number;
    if (this.#highWater === this.#capacity) this.#grow(this.#capacity * 2);
    return this.#highWater++;
  }

  #releaseRow(r: number): void {
    this.slot[r] = Slot.Free;
    this.#freeRows.push(r);
  }

  #grow(capacity: number): void {
    // Fresh typed arrays are zero pages the OS maps lazily: the unused half costs no memory.
    const grow = <A extends Float64Array | Int32Array | Int8Array | Uint8Array | Uint32Array>(old: A, factor = 1): A => {
      const next = new (old.constructor as new (length: number) => A)(capacity * factor);
      next.set(old);
      return next;
    };
    this.seq = grow(this.seq);
    this.publishedAt = grow(this.publishedAt);
    this.availableAt = grow(this.availableAt);
    this.leaseUntil = grow(this.leaseUntil);
    this.expiresAt = grow(this.expiresAt);
    this.endedAt = grow(this.endedAt);
    this.prev = grow(this.prev);
    this.next = grow(this.next);
    this.timeIndex = grow(this.timeIndex);
    this.ttlIndex = grow(this.ttlIndex);
    this.slot = grow(this.slot);
    this.slot.fill(Slot.Free, this.#capacity);
    this.priority = grow(this.priority);
    this.deadReason = grow(this.deadReason);
    this.attempt = grow(this.attempt);
    this.maxAttempts = grow(this.maxAttempts);
    this.queue = grow(this.queue);
    this.bodyRef = grow(this.bodyRef);
    this.bodyBytes = grow(this.bodyBytes);
    this.idWords = grow(this.idWords, 4);
    this.#capacity = capacity;
  }
}
