/**
 * Engine state ↔ snapshot bytes. NDJSON: a header line, then per queue a line of queue data
 * followed by one line per message, section by section (ready in list order, delayed, leased,
 * each group's waiting line, completed, dead). One line per record keeps every string far
 * below V8's string-length limit, however many messages there are, and lets decoding stream.
 */
import type { DeadReason } from "../../core/message.js";
import type { EngineState, QueueSnapshot } from "../../engine/engine-state.js";
import { MessageRecord, type MessageExtras } from "../../engine/message-record.js";

type RecordRow = [
  id: string,
  seq: number,
  body: string,
  priority: number,
  publishedAt: number,
  availableAt: number,
  maxAttempts: number,
  attempt: number,
  leaseToken: string,
  leaseUntil: number,
  expiresAt: number,
  completedAt: number,
  extras: MessageExtras | 0,
];

function toRow(r: MessageRecord): RecordRow {
  return [r.id, r.seq, r.body, r.priority, r.publishedAt, r.availableAt, r.maxAttempts, r.attempt, r.leaseToken, r.leaseUntil, r.expiresAt, r.completedAt, r.extras ?? 0];
}

function fromRow(queue: string, row: RecordRow): MessageRecord {
  const record = new MessageRecord(row[0], queue, row[1], row[2], row[3], row[4], row[5], row[6], row[12] === 0 ? undefined : row[12]);
  record.attempt = row[7];
  record.leaseToken = row[8];
  // Keep the double representation (see MessageRecord): a parsed 0 becomes -0.
  record.leaseUntil = row[9] || -0;
  record.expiresAt = row[10] || -0;
  record.completedAt = row[11] || -0;
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

const CHUNK_LINES = 10_000;

export function encodeSnapshot(state: EngineState): Buffer {
  const chunks: Buffer[] = [];
  let lines: string[] = [];
  const push = (line: string) => {
    lines.push(line);
    if (lines.length >= CHUNK_LINES) {
      chunks.push(Buffer.from(lines.join("\n") + "\n"));
      lines = [];
    }
  };
  push(JSON.stringify({ v: 1, seq: state.seq, deadSeq: state.deadSeq, exchanges: state.exchanges, queues: state.queues.length }));
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
    push(JSON.stringify(header));
    for (const r of q.ready) push(JSON.stringify(toRow(r)));
    for (const r of q.delayed) push(JSON.stringify(toRow(r)));
    for (const r of q.leased) push(JSON.stringify(toRow(r)));
    for (const g of q.groups) for (const r of g.waiting) push(JSON.stringify(toRow(r)));
    for (const r of q.completed) push(JSON.stringify(toRow(r)));
    for (const d of q.dead) push(JSON.stringify([d.deadSeq, d.reason, d.deadAt, toRow(d.record)]));
  }
  if (lines.length > 0) chunks.push(Buffer.from(lines.join("\n") + "\n"));
  return Buffer.concat(chunks);
}

export function decodeSnapshot(bytes: Buffer): EngineState {
  let offset = 0;
  const next = (): unknown => {
    const end = bytes.indexOf(10, offset);
    if (end < 0) throw new Error(`snapshot ends early at byte ${offset}`);
    const line = bytes.toString("utf8", offset, end);
    offset = end + 1;
    return JSON.parse(line);
  };
  const head = next() as { v: number; seq: number; deadSeq: number; exchanges: EngineState["exchanges"]; queues: number };
  if (head.v !== 1) throw new Error(`unknown snapshot version ${head.v}`);
  const queues: QueueSnapshot[] = [];
  for (let qi = 0; qi < head.queues; qi++) {
    const h = next() as QueueHeader;
    const rows = (n: number) => {
      const out: MessageRecord[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = fromRow(h.name, next() as RecordRow);
      return out;
    };
    const ready = rows(h.counts.ready);
    const delayed = rows(h.counts.delayed);
    const leased = rows(h.counts.leased);
    const groups = h.groups.map((g) => ({ key: g.key, activeId: g.activeId, waiting: rows(g.waiting) }));
    const completed = rows(h.counts.completed);
    const dead: QueueSnapshot["dead"] = [];
    for (let i = 0; i < h.counts.dead; i++) {
      const [deadSeq, reason, deadAt, row] = next() as [number, DeadReason, number, RecordRow];
      dead.push({ deadSeq, reason, deadAt, record: fromRow(h.name, row) });
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
  if (offset !== bytes.length) throw new Error(`snapshot has ${bytes.length - offset} unexpected trailing bytes`);
  return { seq: head.seq, deadSeq: head.deadSeq, exchanges: head.exchanges, queues };
}
