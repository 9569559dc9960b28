/**
 * Engine state ↔ snapshot bytes: a JSON header, then per queue a JSON line of queue data
 * followed by one binary row per message, section by section (ready in list order, delayed,
 * leased, each group's waiting line, completed, dead). No single string grows with the state.
 *
 * Version 3 rows are copied straight from and into the engine's message table: fixed-width
 * columns, then the lease token, the rare fields as JSON, and the body's UTF-8 bytes (a memcpy
 * from and into the body arena; no string per message on either side).
 *
 *   row v3 = id (4 × u32) · seq, publishedAt, availableAt, leaseUntil, expiresAt, endedAt (6 × f64)
 *            · attempt, maxAttempts (2 × u32) · priority, deadReason (2 × u8)
 *            · token (string) · extras (string, "" = none) · body (uint length + bytes)
 *   dead row = deadSeq (f64) · row
 *
 * Version 2 snapshots (one varint/string row per message) are still read. The head's
 * `schedules` (the schedules' records) is optional: a snapshot without it has none, and a reader
 * that predates it ignores it.
 */
import { DEAD_REASONS, MessageTable, type MessageExtras, type NewRow, type RowSource } from "../../engine/message-table.js";
import type { EngineState, QueueSnapshot } from "../../engine/engine-state.js";
import type { DeadReason } from "../../core/message.js";
import type { ScheduleRecord } from "../../core/schedule.js";
import { BinaryReader, BinaryWriter } from "./binary.js";

const VERSION = 3;
const ROW_FIXED_BYTES = 16 + 6 * 8 + 2 * 4 + 2;

function writeRow(w: BinaryWriter, t: RowSource, r: number): void {
  const buffer = w.room(ROW_FIXED_BYTES);
  let at = w.length;
  const id = r * 4;
  at = buffer.writeUInt32LE(t.idWords[id], at);
  at = buffer.writeUInt32LE(t.idWords[id + 1], at);
  at = buffer.writeUInt32LE(t.idWords[id + 2], at);
  at = buffer.writeUInt32LE(t.idWords[id + 3], at);
  at = buffer.writeDoubleLE(t.seq[r], at);
  at = buffer.writeDoubleLE(t.publishedAt[r], at);
  at = buffer.writeDoubleLE(t.availableAt[r], at);
  at = buffer.writeDoubleLE(t.leaseUntil[r], at);
  at = buffer.writeDoubleLE(t.expiresAt[r], at);
  at = buffer.writeDoubleLE(t.endedAt[r], at);
  at = buffer.writeUInt32LE(t.attempt[r], at);
  at = buffer.writeUInt32LE(t.maxAttempts[r], at);
  buffer[at++] = t.priority[r];
  buffer[at++] = t.deadReason[r];
  w.advance(ROW_FIXED_BYTES);
  w.string(t.leaseTokens.get(r) ?? "");
  const extras = t.extras.get(r);
  w.string(extras === undefined ? "" : JSON.stringify(extras));
  const bytes = t.bodyBytes[r];
  w.uint(bytes);
  const target = w.room(bytes);
  w.advance(t.bodies.copyTo(t.bodyRef[r], bytes, target, w.length) - w.length);
}

const row: NewRow = { queue: 0, seq: 0, priority: 0, publishedAt: 0, availableAt: 0, maxAttempts: 0 };

function readRow(reader: BinaryReader, t: MessageTable, queue: number): number {
  const source = reader.source;
  let at = reader.take(ROW_FIXED_BYTES);
  const w0 = source.readUInt32LE(at);
  const w1 = source.readUInt32LE(at + 4);
  const w2 = source.readUInt32LE(at + 8);
  const w3 = source.readUInt32LE(at + 12);
  at += 16;
  row.queue = queue;
  row.seq = source.readDoubleLE(at);
  row.publishedAt = source.readDoubleLE(at + 8);
  row.availableAt = source.readDoubleLE(at + 16);
  const leaseUntil = source.readDoubleLE(at + 24);
  const expiresAt = source.readDoubleLE(at + 32);
  const endedAt = source.readDoubleLE(at + 40);
  at += 48;
  const attempt = source.readUInt32LE(at);
  row.maxAttempts = source.readUInt32LE(at + 4);
  row.priority = source[at + 8];
  const deadReason = source[at + 9];
  if (row.priority > 9 || deadReason >= DEAD_REASONS.length) throw new RangeError("snapshot row has an impossible priority or dead reason");
  const token = reader.string();
  const extras = reader.string();
  const bytes = reader.uint();
  const r = t.createFrom(w0, w1, w2, w3, source, reader.take(bytes), bytes, row);
  t.leaseUntil[r] = leaseUntil;
  t.expiresAt[r] = expiresAt;
  t.endedAt[r] = endedAt;
  t.attempt[r] = attempt;
  t.deadReason[r] = deadReason;
  if (token !== "") t.leaseTokens.set(r, token);
  if (extras !== "") t.extras.set(r, JSON.parse(extras) as MessageExtras);
  return r;
}

interface QueueHeader {
  name: string;
  options: QueueSnapshot["options"];
  paused: boolean;
  totals: QueueSnapshot["totals"];
  limiterStamps: number[];
  dedup: QueueSnapshot["dedup"];
  idempotency: QueueSnapshot["idempotency"];
  groups: Array<{ key: string; activeId: string | null; waiting: number }>;
  counts: { ready: number; delayed: number; leased: number; completed: number; dead: number };
}

interface SnapshotHead {
  v: number;
  seq: number;
  deadSeq: number;
  exchanges: EngineState["exchanges"];
  queues: number;
  /** Rows in all (v3): the loader sizes its table once. */
  messages?: number;
  /** The schedules, when there are any (absent before schedules existed). */
  schedules?: ScheduleRecord[];
}

/** What encoding reads: an engine state, possibly with its rows frozen (`MessageTable.freeze`). */
export type SnapshotSource = Omit<EngineState, "table"> & { table: RowSource };

/** The whole snapshot in one buffer. */
export function encodeSnapshot(state: SnapshotSource): Buffer {
  const [only, ...more] = encodeSnapshotChunks(state, Infinity);
  return more.length === 0 ? only : Buffer.concat([only, ...more]);
}

/**
 * The snapshot as a sequence of buffers of about `chunkBytes` each (whole rows; a row larger
 * than that gets a chunk of its own size), so a caller can yield to the event loop between them.
 */
export function* encodeSnapshotChunks(state: SnapshotSource, chunkBytes = 4 << 20): Generator<Buffer> {
  const t = state.table;
  // Sized from the table (rows plus the arena's pages bound the bytes), not grown by doubling copies.
  const estimate = Math.max(1 << 16, t.size * (ROW_FIXED_BYTES + 16) + t.bodies.pageBytes);
  const writerBytes = Math.min(estimate, chunkBytes + (64 << 10));
  let w = new BinaryWriter(writerBytes);
  const head: SnapshotHead = { v: VERSION, seq: state.seq, deadSeq: state.deadSeq, exchanges: state.exchanges, queues: state.queues.length, messages: t.size };
  if (state.schedules !== undefined && state.schedules.length > 0) head.schedules = state.schedules;
  w.string(JSON.stringify(head));
  for (const q of state.queues) {
    const header: QueueHeader = {
      name: q.name,
      options: q.options,
      paused: q.paused,
      totals: q.totals,
      limiterStamps: q.limiterStamps,
      dedup: q.dedup,
      idempotency: q.idempotency,
      groups: q.groups.map((g) => ({ key: g.key, activeId: g.activeId, waiting: g.waiting.length })),
      counts: { ready: q.ready.length, delayed: q.delayed.length, leased: q.leased.length, completed: q.completed.length, dead: q.dead.rows.length },
    };
    w.string(JSON.stringify(header));
    const sections = [q.ready, q.delayed, q.leased, ...q.groups.map((g) => g.waiting), q.completed];
    for (const rows of sections) {
      for (const r of rows) {
        writeRow(w, t, r);
        if (w.length >= chunkBytes) {
          yield w.finish();
          w = new BinaryWriter(writerBytes);
        }
      }
    }
    for (let i = 0; i < q.dead.rows.length; i++) {
      w.double(q.dead.deadSeqs[i]);
      writeRow(w, t, q.dead.rows[i]);
      if (w.length >= chunkBytes) {
        yield w.finish();
        w = new BinaryWriter(writerBytes);
      }
    }
  }
  if (w.length > 0) yield w.finish();
}

export function decodeSnapshot(bytes: Buffer): EngineState {
  const reader = new BinaryReader(bytes);
  const head = JSON.parse(reader.string()) as SnapshotHead;
  if (head.v !== VERSION && head.v !== 2) {
    throw new Error(`snapshot format version ${head.v} is not one this version of Spool reads (it reads 2 and 3)`);
  }
  const readRowOf = head.v === 2 ? readRowV2 : readRow;
  const t = new MessageTable(head.messages ?? 0);
  const queues: QueueSnapshot[] = [];
  for (let qi = 0; qi < head.queues; qi++) {
    const h = JSON.parse(reader.string()) as QueueHeader;
    const rows = (n: number) => {
      const out: number[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readRowOf(reader, t, qi);
      return out;
    };
    const ready = rows(h.counts.ready);
    const delayed = rows(h.counts.delayed);
    const leased = rows(h.counts.leased);
    const groups = h.groups.map((g) => ({ key: g.key, activeId: g.activeId, waiting: rows(g.waiting) }));
    const completed = rows(h.counts.completed);
    const dead: QueueSnapshot["dead"] = { rows: [], deadSeqs: [] };
    for (let i = 0; i < h.counts.dead; i++) {
      if (head.v === 2) {
        const { deadSeq, r } = readDeadRowV2(reader, t, qi);
        dead.deadSeqs.push(deadSeq);
        dead.rows.push(r);
      } else {
        dead.deadSeqs.push(reader.double());
        dead.rows.push(readRow(reader, t, qi));
      }
    }
    queues.push({
      name: h.name,
      options: h.options,
      paused: h.paused,
      totals: h.totals,
      limiterStamps: h.limiterStamps,
      ready,
      delayed,
      leased,
      groups,
      completed,
      dead,
      dedup: h.dedup,
      idempotency: h.idempotency,
    });
  }
  if (!reader.done) throw new Error("snapshot has unexpected trailing bytes");
  return { seq: head.seq, deadSeq: head.deadSeq, exchanges: head.exchanges, table: t, queues, schedules: head.schedules ?? [] };
}

// ── version 2 (read only) ─────────────────────────────────────────────────────────────────

function readRowV2(reader: BinaryReader, t: MessageTable, queue: number): number {
  const id = reader.string();
  const seq = reader.uint();
  const body = reader.string();
  const priority = reader.uint();
  const publishedAt = reader.double();
  const availableAt = reader.double();
  const maxAttempts = reader.uint();
  const r = t.create(id, body, { queue, seq, priority, publishedAt, availableAt, maxAttempts });
  t.attempt[r] = reader.uint();
  const token = reader.string();
  if (token !== "") t.leaseTokens.set(r, token);
  t.leaseUntil[r] = reader.double();
  t.expiresAt[r] = reader.double();
  t.endedAt[r] = reader.double(); // completedAt
  const extras = reader.string();
  if (extras !== "") t.extras.set(r, JSON.parse(extras) as MessageExtras);
  return r;
}

function readDeadRowV2(reader: BinaryReader, t: MessageTable, queue: number): { deadSeq: number; r: number } {
  const deadSeq = reader.uint();
  const reason = reader.string() as DeadReason;
  const deadAt = reader.double();
  const r = readRowV2(reader, t, queue);
  if (!DEAD_REASONS.includes(reason)) throw new RangeError(`snapshot dead letter has an unknown reason "${reason}"`);
  t.setDeadReason(r, reason);
  t.endedAt[r] = deadAt;
  return { deadSeq, r };
}
