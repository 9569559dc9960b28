/**
 * The delivery store's state in memory, and the one function that changes it: `apply(record)`.
 * The live path and replay call the same function with the same records, so a reopened store
 * rebuilds exactly what it had (counts and completion times included).
 *
 * Per batch the log is columnar: a status byte, an attempts counter and one timestamp column per
 * status, indexed by the recipient's index, and the recipient ids as bytes (recipient-ids.ts).
 * A million-recipient batch costs ~25–45 bytes per recipient plus its id's bytes, not an object
 * or a string each. Counts per status are kept as changes land, never
 * recounted (except once when a snapshot is loaded).
 *
 * Two moves leave the forward-only line, each only through its own record:
 *   reopen  a `change` with `r: 1`: failed → queued, for a dead delivery job an operator
 *           replayed (docs/batch-delivery.md, "Dead delivery jobs"); the batch is incomplete again.
 *   forget  a `forget` record: a complete batch (and its log, template copy and idempotency key)
 *           is removed after the retention period; refused for a batch that is not complete.
 * Completed batches are also kept in completion order (`completions`, a min-heap by completion
 * time), so retention finds the next batch due without scanning.
 */
import { RecipientIds } from "./recipient-ids.js";
import type { TemplateEscape } from "./templates.js";
import { RECIPIENT_STATUSES, type ChannelName, type RecipientStatus, type RenderedContent } from "./types.js";

export const STATUS_CODE: Record<RecipientStatus, number> = { pending: 0, queued: 1, sent: 2, delivered: 3, read: 4, failed: 5 };
const QUEUED = 1;
const FAILED = 5;

/** Whether a status may move `from` → `to` (types.ts: forward only; failed from pending, queued or sent). */
export function canMove(from: RecipientStatus, to: RecipientStatus): boolean {
  return canMoveCode(STATUS_CODE[from], STATUS_CODE[to]);
}

function canMoveCode(from: number, to: number): boolean {
  if (from === FAILED) return false;
  if (to === FAILED) return from <= 2;
  return to > from;
}

/** A recipient is done when its status is final for the batch's channel. */
export function isFinalStatus(channel: ChannelName, status: RecipientStatus): boolean {
  return isFinalCode(channel, STATUS_CODE[status]);
}

function isFinalCode(channel: ChannelName, code: number): boolean {
  if (code === FAILED) return true;
  return channel === "websocket" ? code >= 3 : code >= 2;
}

export interface TemplateRecord {
  id: string;
  body: string;
  subject?: string;
  escape: TemplateEscape;
  updatedAt: number;
}

export interface BatchRecord {
  id: string;
  channel: ChannelName;
  total: number;
  createdAt: number;
  /** The template as it was when the batch was accepted (a later PUT of the template changes nothing here). */
  template: { body: string; subject?: string; escape: TemplateEscape };
  templateId?: string;
  webhook?: { url?: string; secret?: string; timeoutMs?: number };
  mock?: { latencyMs?: number; failureRate?: number };
  priority?: number;
  idempotencyKey?: string;
  /**
   * Recipients per published chunk, fixed when the batch is accepted: a chunk's idempotency key
   * names its range, so a server restarted with another `expandChunkSize` still finds the chunk
   * the previous one published (absent in batches recorded before it: the current setting).
   */
  chunkSize?: number;
}

/** The durable records, as `apply` takes them. `t` is the time the change was made. */
export type DeliveryRecord =
  | { k: "template"; template: TemplateRecord }
  | { k: "batch"; batch: BatchRecord }
  /** Recipients [from, from + ids.length) were published: pending → queued; `c` = content (websocket only). */
  | { k: "expanded"; b: string; from: number; ids: string[]; t: number; c?: RenderedContent[] }
  /**
   * One recipient: a status move (`s`), and/or attempts and last error. With `r: 1` the move is a
   * reopen (failed → queued only), with the content to push again in `c` (websocket).
   */
  | { k: "change"; b: string; i: number; s?: number; t: number; a?: number; e?: string; r?: 1; c?: RenderedContent }
  /** A complete batch is forgotten (retention): its state, log, template copy and idempotency key. */
  | { k: "forget"; b: string; t: number };

export const RECORD_TYPES = { template: 1, batch: 2, expanded: 3, change: 4, forget: 5 } as const;

export class BatchState {
  readonly record: BatchRecord;
  /** Recipients [0, expandedUpTo) have been published to the channel's queue. */
  expandedUpTo = 0;
  readonly recipientIds: RecipientIds;
  readonly status: Uint8Array;
  readonly attempts: Uint16Array;
  /** One timestamp column per status code (1..5), made on first use. */
  readonly times: (Float64Array | undefined)[] = [];
  readonly errors = new Map<number, { message: string; at: number }>();
  readonly contents = new Map<number, RenderedContent>();
  readonly counts: number[] = [0, 0, 0, 0, 0, 0];
  /** Recipients in a final status. */
  done = 0;
  completedAt: number | undefined;

  constructor(record: BatchRecord) {
    this.record = record;
    this.recipientIds = new RecipientIds(record.total);
    this.status = new Uint8Array(record.total);
    this.attempts = new Uint16Array(record.total);
    this.counts[0] = record.total;
    if (record.total === 0) this.completedAt = record.createdAt;
  }

  get id(): string {
    return this.record.id;
  }

  get channel(): ChannelName {
    return this.record.channel;
  }

  get total(): number {
    return this.record.total;
  }

  time(code: number, index: number): number | undefined {
    const column = this.times[code];
    if (!column) return undefined;
    const value = column[index];
    return value === 0 ? undefined : value;
  }

  /** Moves one recipient; returns the previous status code, or -1 when the move is not allowed. */
  move(index: number, to: number, at: number): number {
    const from = this.status[index];
    if (!canMoveCode(from, to)) return -1;
    this.status[index] = to;
    this.counts[from]--;
    this.counts[to]++;
    (this.times[to] ??= new Float64Array(this.total))[index] = at;
    const channel = this.record.channel;
    if (!isFinalCode(channel, from) && isFinalCode(channel, to)) {
      this.done++;
      if (this.done === this.total) this.completedAt = at;
      this.contents.delete(index); // nothing will be pushed again
    }
    return from;
  }

  /** failed → queued (a replayed job); returns -1 unless the recipient is `failed`. */
  reopen(index: number, at: number): number {
    if (this.status[index] !== FAILED) return -1;
    this.status[index] = QUEUED;
    this.counts[FAILED]--;
    this.counts[QUEUED]++;
    (this.times[QUEUED] ??= new Float64Array(this.total))[index] = at;
    const failedAt = this.times[FAILED];
    if (failedAt) failedAt[index] = 0;
    this.done--;
    this.completedAt = undefined;
    return FAILED;
  }
}

/** Completed batches by completion time (earliest first). Entries of a batch reopened or forgotten since are stale: `due` skips them. */
export class CompletedBatches {
  readonly #heap: Array<{ at: number; batch: BatchState }> = [];

  get size(): number {
    return this.#heap.length;
  }

  add(batch: BatchState): void {
    const at = batch.completedAt;
    if (at === undefined) return;
    const heap = this.#heap;
    heap.push({ at, batch });
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (heap[parent].at <= heap[i].at) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }

  /** The earliest live entry, dropping stale ones on the way (`live` says whether an entry still stands). */
  peek(live: (batch: BatchState, at: number) => boolean): { at: number; batch: BatchState } | undefined {
    while (this.#heap.length > 0) {
      const top = this.#heap[0];
      if (live(top.batch, top.at)) return top;
      this.#pop();
    }
    return undefined;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    heap[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && heap[left].at < heap[least].at) least = left;
      if (right < heap.length && heap[right].at < heap[least].at) least = right;
      if (least === i) break;
      [heap[least], heap[i]] = [heap[i], heap[least]];
      i = least;
    }
  }
}

export type StatusHook = (batch: BatchState, index: number, from: number, to: number) => void;

export class DeliveryState {
  readonly templates = new Map<string, TemplateRecord>();
  readonly batches = new Map<string, BatchState>();
  readonly idempotency = new Map<string, string>();
  /** Websocket recipients' undelivered entries (queued or sent), in the order they were queued. */
  readonly outbox = new Map<string, Map<string, { batch: BatchState; index: number }>>();
  /** Completed batches in completion order, for retention. */
  readonly completions = new CompletedBatches();
  /** Called for every status move applied (live and replay alike; the owner decides whether to listen). */
  onStatus: StatusHook | undefined;
  /** Called when a batch is forgotten. */
  onForget: ((batchId: string) => void) | undefined;

  /** Applies one record; returns false when it changed nothing (a refused move). */
  apply(record: DeliveryRecord): boolean {
    switch (record.k) {
      case "template":
        this.templates.set(record.template.id, record.template);
        return true;
      case "batch": {
        const batch = new BatchState(record.batch);
        this.batches.set(batch.id, batch);
        if (record.batch.idempotencyKey !== undefined) this.idempotency.set(record.batch.idempotencyKey, batch.id);
        this.completions.add(batch); // an empty batch is complete at once
        return true;
      }
      case "expanded": {
        const batch = this.batches.get(record.b);
        if (!batch) return false;
        const { from, ids, t, c } = record;
        for (let k = 0; k < ids.length; k++) {
          const index = from + k;
          batch.recipientIds.fill(index, ids[k]);
          if (c) batch.contents.set(index, c[k]);
          this.#move(batch, index, 1, t);
        }
        batch.expandedUpTo = Math.max(batch.expandedUpTo, from + ids.length);
        return true;
      }
      case "change": {
        const batch = this.batches.get(record.b);
        if (!batch || record.i < 0 || record.i >= batch.total) return false;
        let changed = false;
        if (record.a !== undefined) {
          batch.attempts[record.i] = Math.min(record.a, 65_535);
          changed = true;
        }
        if (record.e !== undefined) {
          batch.errors.set(record.i, { message: record.e, at: record.t });
          changed = true;
        }
        if (record.r === 1) return this.#reopen(batch, record.i, record.t, record.c) || changed;
        if (record.s !== undefined) changed = this.#move(batch, record.i, record.s, record.t) || changed;
        return changed;
      }
      case "forget": {
        const batch = this.batches.get(record.b);
        if (!batch || batch.completedAt === undefined) return false; // never a batch that is not complete
        this.batches.delete(batch.id);
        const key = batch.record.idempotencyKey;
        if (key !== undefined && this.idempotency.get(key) === batch.id) this.idempotency.delete(key);
        // A complete batch has nothing in any outbox (every entry is final), and its heap entry is now stale.
        this.onForget?.(batch.id);
        return true;
      }
    }
  }

  /** Whether `batch`, completed at `at`, is still a live entry of `completions` (not forgotten, not reopened since). */
  isCompletedAt(batch: BatchState, at: number): boolean {
    return this.batches.get(batch.id) === batch && batch.completedAt === at;
  }

  #reopen(batch: BatchState, index: number, at: number, content: RenderedContent | undefined): boolean {
    const from = batch.reopen(index, at);
    if (from < 0) return false;
    if (content !== undefined && batch.channel === "websocket") batch.contents.set(index, content);
    if (batch.channel === "websocket") this.#trackOutbox(batch, index, QUEUED);
    this.onStatus?.(batch, index, from, QUEUED);
    return true;
  }

  #move(batch: BatchState, index: number, to: number, at: number): boolean {
    const wasComplete = batch.completedAt !== undefined;
    const from = batch.move(index, to, at);
    if (from < 0) return false;
    if (!wasComplete && batch.completedAt !== undefined) this.completions.add(batch);
    if (batch.channel === "websocket") this.#trackOutbox(batch, index, to);
    this.onStatus?.(batch, index, from, to);
    return true;
  }

  #trackOutbox(batch: BatchState, index: number, to: number): void {
    const recipientId = batch.recipientIds.get(index);
    if (recipientId === undefined) return;
    const logId = logIdOf(batch.id, index);
    if (to === 1 || to === 2) {
      let entries = this.outbox.get(recipientId);
      if (!entries) this.outbox.set(recipientId, (entries = new Map()));
      if (!entries.has(logId)) entries.set(logId, { batch, index });
    } else {
      const entries = this.outbox.get(recipientId);
      if (entries?.delete(logId) && entries.size === 0) this.outbox.delete(recipientId);
    }
  }

  /** Checks a status move without applying it. */
  allows(batch: BatchState, index: number, to: RecipientStatus): boolean {
    return canMoveCode(batch.status[index], STATUS_CODE[to]);
  }

  // ── snapshots ─────────────────────────────────────────────────────────────────────────

  export(): SnapshotData {
    return {
      v: 2,
      templates: [...this.templates.values()],
      batches: [...this.batches.values()].map((batch) => {
        const times: Record<string, string> = {};
        batch.times.forEach((column, code) => {
          if (column) times[code] = b64(column);
        });
        return {
          record: batch.record,
          expandedUpTo: batch.expandedUpTo,
          ...exportIds(batch.recipientIds),
          status: b64(batch.status),
          attempts: b64(batch.attempts),
          times,
          errors: [...batch.errors].map(([index, error]) => [index, error.message, error.at] as [number, string, number]),
          contents: [...batch.contents],
          completedAt: batch.completedAt ?? null,
        };
      }),
    };
  }

  static import(data: SnapshotData): DeliveryState {
    const state = new DeliveryState();
    for (const template of data.templates) state.templates.set(template.id, template);
    for (const saved of data.batches) {
      const batch = new BatchState(saved.record);
      state.batches.set(batch.id, batch);
      if (saved.record.idempotencyKey !== undefined) state.idempotency.set(saved.record.idempotencyKey, batch.id);
      batch.expandedUpTo = saved.expandedUpTo;
      if (saved.idBytes !== undefined && saved.idLengths !== undefined) {
        batch.recipientIds.restore(Buffer.from(saved.idBytes, "base64"), fromB64(saved.idLengths, Uint16Array, Buffer.byteLength(saved.idLengths, "base64") / 2));
      } else {
        saved.ids?.forEach((id, index) => {
          if (id !== null) batch.recipientIds.fill(index, id);
        });
      }
      batch.status.set(fromB64(saved.status, Uint8Array, batch.total));
      batch.attempts.set(fromB64(saved.attempts, Uint16Array, batch.total));
      for (const [code, text] of Object.entries(saved.times)) batch.times[Number(code)] = fromB64(text, Float64Array, batch.total);
      for (const [index, message, at] of saved.errors) batch.errors.set(index, { message, at });
      for (const [index, content] of saved.contents) batch.contents.set(index, content);
      batch.counts.fill(0);
      batch.done = 0;
      for (let index = 0; index < batch.total; index++) {
        const code = batch.status[index];
        batch.counts[code]++;
        if (isFinalCode(batch.channel, code)) batch.done++;
        else if (batch.channel === "websocket" && (code === 1 || code === 2)) state.#trackOutbox(batch, index, code);
      }
      batch.completedAt = saved.completedAt ?? undefined;
      state.completions.add(batch);
    }
    return state;
  }
}

/** v2 keeps the recipient ids as bytes (`idBytes`, `idLengths`); v1 had them as strings (`ids`). Both load. */
export interface SnapshotData {
  v: 1 | 2;
  templates: TemplateRecord[];
  batches: Array<{
    record: BatchRecord;
    expandedUpTo: number;
    /** The recipient ids' UTF-8 bytes in index order, and each one's byte length as a Uint16Array (base64 both). */
    idBytes?: string;
    idLengths?: string;
    /** The ids as strings, as snapshots written before `idBytes` have them. */
    ids?: (string | null)[];
    status: string;
    attempts: string;
    times: Record<string, string>;
    errors: [number, string, number][];
    contents: [number, RenderedContent][];
    completedAt: number | null;
  }>;
}

function exportIds(ids: RecipientIds): { idBytes: string; idLengths: string } {
  const { bytes, lengths } = ids.export();
  return { idBytes: bytes.toString("base64"), idLengths: b64(lengths) };
}

function b64(array: Uint8Array | Uint16Array | Float64Array): string {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString("base64");
}

function fromB64<T extends Uint8Array | Uint16Array | Float64Array>(
  text: string,
  Type: { new (buffer: ArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number },
  length: number,
): T {
  const bytes = Buffer.from(text, "base64");
  const copy = new ArrayBuffer(length * Type.BYTES_PER_ELEMENT);
  new Uint8Array(copy).set(bytes.subarray(0, copy.byteLength));
  return new Type(copy, 0, length);
}

export function logIdOf(batchId: string, index: number): string {
  return `${batchId}_${index}`;
}

/** `<batchId>_<index>` → its parts, or undefined for anything else. */
export function parseLogId(logId: string): { batchId: string; index: number } | undefined {
  const at = logId.lastIndexOf("_");
  if (at <= 0) return undefined;
  const indexText = logId.slice(at + 1);
  if (!/^\d{1,7}$/.test(indexText)) return undefined;
  return { batchId: logId.slice(0, at), index: Number(indexText) };
}

export function statusName(code: number): RecipientStatus {
  return RECIPIENT_STATUSES[code];
}
