/**
 * Engine state ↔ snapshot bytes: a JSON header, then per queue a JSON line of queue data
 * followed by one binary row per message, section by section (ready in list order, delayed,
 * leased, each group's waiting line, completed, dead). Binary rows are what make a
 * million-message snapshot quick to write and to load; no single string grows with the state.
 */
import type { DeadReason } from "../../core/message.js";
import type { EngineState, QueueSnapshot } from "../../engine/engine-state.js";
import { MessageRecord, type MessageExtras } from "../../engine/message-record.js";
import { BinaryReader, BinaryWriter } from "./binary.js";

function writeRecord(w: BinaryWriter, r: MessageRecord): void {
  w.string(r.id).uint(r.seq).string(r.body).uint(r.priority).double(r.publishedAt).double(r.availableAt);
  w.uint(r.maxAttempts).uint(r.attempt).string(r.leaseToken).double(r.leaseUntil).double(r.expiresAt).double(r.completedAt);
  w.string(r.extras === undefined ? "" : JSON.stringify(r.extras));
}

function readRecord(reader: BinaryReader, queue: string): MessageRecord {
  const id = reader.string();
  const seq = reader.uint();
  const body = reader.string();
  const priority = reader.uint();
  const publishedAt = reader.double();
  const availableAt = reader.double();
  const maxAttempts = reader.uint();
  const record = new MessageRecord(id, queue, seq, body, priority, publishedAt, availableAt, maxAttempts, undefined);
  record.attempt = reader.uint();
  record.leaseToken = reader.string();
  // Keep the double representation (see MessageRecord): a stored 0 comes back as -0.
  record.leaseUntil = reader.double() || -0;
  record.expiresAt = reader.double() || -0;
  record.completedAt = reader.double() || -0;
  const extras = reader.string();
  if (extras !== "") record.extras = JSON.parse(extras) as MessageExtras;
  return record;
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

export function encodeSnapshot(state: EngineState): Buffer {
  const w = new BinaryWriter(1 << 20);
  w.string(JSON.stringify({ v: 2, seq: state.seq, deadSeq: state.deadSeq, exchanges: state.exchanges, queues: state.queues.length }));
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
      counts: { ready: q.ready.length, delayed: q.delayed.length, leased: q.leased.length, completed: q.completed.length, dead: q.dead.length },
    };
    w.string(JSON.stringify(header));
    for (const r of q.ready) writeRecord(w, r);
    for (const r of q.delayed) writeRecord(w, r);
    for (const r of q.leased) writeRecord(w, r);
    for (const g of q.groups) for (const r of g.waiting) writeRecord(w, r);
    for (const r of q.completed) writeRecord(w, r);
    for (const d of q.dead) {
      w.uint(d.deadSeq).string(d.reason).double(d.deadAt);
      writeRecord(w, d.record);
    }
  }
  return w.finish();
}

export function decodeSnapshot(bytes: Buffer): EngineState {
  const reader = new BinaryReader(bytes);
  const head = JSON.parse(reader.string()) as { v: number; seq: number; deadSeq: number; exchanges: EngineState["exchanges"]; queues: number };
  if (head.v !== 2) throw new Error(`unknown snapshot version ${head.v}`);
  const queues: QueueSnapshot[] = [];
  for (let qi = 0; qi < head.queues; qi++) {
    const h = JSON.parse(reader.string()) as QueueHeader;
    const rows = (n: number) => {
      const out: MessageRecord[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readRecord(reader, h.name);
      return out;
    };
    const ready = rows(h.counts.ready);
    const delayed = rows(h.counts.delayed);
    const leased = rows(h.counts.leased);
    const groups = h.groups.map((g) => ({ key: g.key, activeId: g.activeId, waiting: rows(g.waiting) }));
    const completed = rows(h.counts.completed);
    const dead: QueueSnapshot["dead"] = [];
    for (let i = 0; i < h.counts.dead; i++) {
      const deadSeq = reader.uint();
      const reason = reader.string() as DeadReason;
      const deadAt = reader.double();
      dead.push({ deadSeq, reason, deadAt, record: readRecord(reader, h.name) });
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
  return { seq: head.seq, deadSeq: head.deadSeq, exchanges: head.exchanges, queues };
}
