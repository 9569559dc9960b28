/**
 * The journal is a log of engine operations that changed state, each with the decisions the
 * engine made while running it (the time, new ids, lease tokens, jitter draws). The engine is
 * deterministic given those, so replaying the log on a fresh engine rebuilds the exact state,
 * including lease tokens that workers still hold.
 */
import { newId, newLeaseToken } from "../../core/ids.js";
import type { QueueOptions } from "../../config/schemas.js";
import type { Engine } from "../../engine/engine.js";
import type { ExchangeType } from "../../routing/route.js";
import type { AckItem, NackRequest, ProgressReport, PublishInput, ReplaySelection } from "../../core/operations.js";
import type { ScheduleFire, ScheduleRecord } from "../../core/schedule.js";
import { BinaryReader, BinaryWriter } from "./binary.js";

export type JournalOp = { t: number; ids?: string[]; tokens?: string[]; randoms?: number[] } & (
  | { o: "publish"; inputs: PublishInput[] }
  /** `visible`: the engine's visibleSeq when it ran (what was durable), so replay leases the same. */
  | { o: "lease"; queue: string; max: number; leaseMs?: number; visible: number }
  /** `result`: the handler's result (JSON text), kept with the completed status. */
  | { o: "ack"; id: string; token: string; result?: string }
  | { o: "ackMany"; items: AckItem[] }
  /**
   * Acks that succeeded one after another at the same time `t`, with no other operation
   * between them (the journal store's ack run): replayed as those `ack` calls, in order.
   */
  | { o: "acks"; items: AckItem[] }
  | { o: "nack"; id: string; token: string; request: NackRequest }
  | { o: "extend"; id: string; token: string; leaseMs: number }
  /** A running handler's progress and log lines (ctx.progress, ctx.log). */
  | { o: "report"; id: string; token: string; report: ProgressReport }
  | { o: "ensureQueue"; name: string; options?: QueueOptions }
  | { o: "deleteQueue"; name: string }
  | { o: "setPaused"; name: string; paused: boolean }
  | { o: "purgeQueue"; name: string }
  | { o: "replayDead"; queue: string; selection: ReplaySelection }
  | { o: "deleteDead"; queue: string; id: string }
  | { o: "purgeDead"; queue: string }
  | { o: "declareExchange"; name: string; type: ExchangeType }
  | { o: "deleteExchange"; name: string }
  | { o: "bind"; exchange: string; queue: string; key: string }
  | { o: "unbind"; exchange: string; queue: string; key: string }
  /** Time passed and the engine processed what fell due (a timer, or a read that ticked). */
  | { o: "tick" }
  // Schedules (JSON records, code 0: a log without them reads as before). The record and the
  // plans carry every decision (slots, next run times) made with core/schedule.ts, so replay
  // needs no cron arithmetic and cannot come out differently under another time-zone database.
  /** A create, replace, pause or resume: the schedule's whole record. */
  | { o: "putSchedule"; record: ScheduleRecord }
  | { o: "removeSchedule"; name: string }
  /** Slots fired (each message published) and next run times moved on, in one record. */
  | { o: "fireSchedules"; plans: ScheduleFire[] }
);

export type OpBody = JournalOp extends infer O ? (O extends JournalOp ? Omit<O, "t" | "ids" | "tokens" | "randoms"> : never) : never;

// Record layout: [uint code][double t] then the op's fields. The hot operations (publish,
// lease, ack, extend, tick) are binary; the rare ones carry their JSON after the code.
// `publish` (1) wrote each input's queue name; `publishQueues` (7) writes the record's queue
// names once and an index per input (~30 bytes less per message). Both are read.
// `acks` (8): a run of successful acks at one time in one record (older logs hold `ack` records only).
const CODE = { json: 0, publish: 1, lease: 2, ack: 3, ackMany: 4, extend: 5, tick: 6, publishQueues: 7, acks: 8 } as const;
const F = { headers: 1, availableAt: 2, ttlMs: 4, maxAttempts: 8, dedupKey: 16, idempotencyKey: 32, groupKey: 64, correlationId: 128, causationId: 256 };

function writeStrings(w: BinaryWriter, values: readonly string[] | undefined): void {
  w.uint(values?.length ?? 0);
  if (values) for (const value of values) w.string(value);
}

function readStrings(r: BinaryReader): string[] | undefined {
  const count = r.uint();
  if (count === 0) return undefined;
  const values = new Array<string>(count);
  for (let i = 0; i < count; i++) values[i] = r.string();
  return values;
}

function optionFlags(input: PublishInput): number {
  return (
    (input.headers !== undefined ? F.headers : 0) | (input.availableAt !== undefined || input.delayMs !== undefined ? F.availableAt : 0) |
    (input.ttlMs !== undefined ? F.ttlMs : 0) | (input.maxAttempts !== undefined ? F.maxAttempts : 0) |
    (input.dedupKey !== undefined ? F.dedupKey : 0) | (input.idempotencyKey !== undefined ? F.idempotencyKey : 0) |
    (input.groupKey !== undefined ? F.groupKey : 0) | (input.correlationId !== undefined ? F.correlationId : 0) |
    (input.causationId !== undefined ? F.causationId : 0)
  );
}

/**
 * The optional fields of a publish input, in flag order. The log holds absolute times: a delayMs
 * is written as the availableAt it makes at the record's time `t` (what the engine resolved it to).
 */
function writeOptions(w: BinaryWriter, input: PublishInput, t: number): void {
  if (input.headers !== undefined) w.string(JSON.stringify(input.headers));
  if (input.delayMs !== undefined) w.double(t + input.delayMs);
  else if (input.availableAt !== undefined) w.double(input.availableAt);
  if (input.ttlMs !== undefined) w.uint(input.ttlMs);
  if (input.maxAttempts !== undefined) w.uint(input.maxAttempts);
  if (input.dedupKey !== undefined) w.string(input.dedupKey);
  if (input.idempotencyKey !== undefined) w.string(input.idempotencyKey);
  if (input.groupKey !== undefined) w.string(input.groupKey);
  if (input.correlationId !== undefined) w.string(input.correlationId);
  if (input.causationId !== undefined) w.string(input.causationId);
}

function readOptions(r: BinaryReader, flags: number, input: PublishInput): void {
  if (flags & F.headers) input.headers = JSON.parse(r.string()) as Record<string, string>;
  if (flags & F.availableAt) input.availableAt = r.double();
  if (flags & F.ttlMs) input.ttlMs = r.uint();
  if (flags & F.maxAttempts) input.maxAttempts = r.uint();
  if (flags & F.dedupKey) input.dedupKey = r.string();
  if (flags & F.idempotencyKey) input.idempotencyKey = r.string();
  if (flags & F.groupKey) input.groupKey = r.string();
  if (flags & F.correlationId) input.correlationId = r.string();
  if (flags & F.causationId) input.causationId = r.string();
}

/** The decisions an operation made (empty arrays when none): what `Decisions` captured. */
export interface OpDecisions {
  readonly ids: readonly string[];
  readonly tokens: readonly string[];
  readonly randoms: readonly number[];
}

export const NO_DECISIONS: OpDecisions = { ids: [], tokens: [], randoms: [] };

/**
 * The record of `op` run at `t` with the decisions `made`; written into `w` when given (reset
 * first: the result is a view into it, valid until its next use). Takes the parts separately so
 * the hot path builds no merged op object.
 */
export function encodeOp(op: OpBody, t: number, made: OpDecisions, w = new BinaryWriter(op.o === "publish" ? 64 + op.inputs.length * 160 : 96)): Buffer {
  w.reset();
  // The binary forms below hold the common case. What they have no field for goes as JSON: ids
  // made by an operation other than a publish (the dead-letter copies of a death in a tick, a
  // lease's or an ack's tick, a nack), and acks that carry a result.
  if (op.o !== "publish" && (made.ids.length > 0 || carriesResult(op))) return encodeJson(op, t, made, w);
  switch (op.o) {
    case "publish": {
      const inputs = op.inputs;
      // The record's queue names, in order of first use (usually one).
      const queues: string[] = [];
      const indexOf = new Map<string, number>();
      const indexes = new Uint32Array(inputs.length);
      for (let i = 0; i < inputs.length; i++) {
        const queue = inputs[i].queue;
        if (i > 0 && queue === inputs[i - 1].queue) {
          indexes[i] = indexes[i - 1];
          continue;
        }
        let index = indexOf.get(queue);
        if (index === undefined) indexOf.set(queue, (index = queues.push(queue) - 1));
        indexes[i] = index;
      }
      w.uint(CODE.publishQueues).double(t);
      writeStrings(w, queues);
      w.uint(inputs.length);
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i];
        const flags = optionFlags(input);
        w.uint(flags).uint(indexes[i]).string(input.body).uint(input.priority);
        if (flags !== 0) writeOptions(w, input, t);
      }
      writeStrings(w, made.ids);
      break;
    }
    case "lease":
      w.uint(CODE.lease).double(t).string(op.queue).uint(op.max).uint(op.leaseMs === undefined ? 0 : op.leaseMs + 1).uint(op.visible);
      writeStrings(w, made.tokens);
      break;
    case "ack":
      w.uint(CODE.ack).double(t).string(op.id).string(op.token);
      break;
    case "ackMany":
      w.uint(CODE.ackMany).double(t).uint(op.items.length);
      for (const item of op.items) w.string(item.id).string(item.leaseToken);
      break;
    case "acks":
      w.uint(CODE.acks).double(t).uint(op.items.length);
      for (const item of op.items) w.string(item.id).string(item.leaseToken);
      break;
    case "extend":
      w.uint(CODE.extend).double(t).string(op.id).string(op.token).uint(op.leaseMs);
      break;
    case "tick":
      w.uint(CODE.tick).double(t);
      break;
    default:
      return encodeJson(op, t, made, w);
  }
  return w.finish();
}

function carriesResult(op: OpBody): boolean {
  if (op.o === "ack") return op.result !== undefined;
  if (op.o === "ackMany") return op.items.some((item) => item.result !== undefined);
  return false;
}

/** The JSON form of any operation, with its decisions (read back by `decodeOp` as it is). */
function encodeJson(op: OpBody, t: number, made: OpDecisions, w: BinaryWriter): Buffer {
  w.reset();
  const full: Record<string, unknown> = { ...op, t };
  if (made.ids.length > 0) full.ids = made.ids;
  if (made.tokens.length > 0) full.tokens = made.tokens;
  if (made.randoms.length > 0) full.randoms = made.randoms;
  w.uint(CODE.json).string(JSON.stringify(full));
  return w.finish();
}

export function decodeOp(payload: Buffer): JournalOp {
  const r = new BinaryReader(payload);
  const code = r.uint();
  if (code === CODE.json) return JSON.parse(r.string()) as JournalOp;
  const t = r.double();
  switch (code) {
    case CODE.publish: {
      const inputs = new Array<PublishInput>(r.uint());
      for (let i = 0; i < inputs.length; i++) {
        const flags = r.uint();
        const input: PublishInput = { queue: r.string(), body: r.string(), priority: r.uint() };
        if (flags !== 0) readOptions(r, flags, input);
        inputs[i] = input;
      }
      return { o: "publish", t, inputs, ids: readStrings(r) };
    }
    case CODE.publishQueues: {
      const queues = readStrings(r) ?? [];
      const inputs = new Array<PublishInput>(r.uint());
      for (let i = 0; i < inputs.length; i++) {
        const flags = r.uint();
        const queue = queues[r.uint()];
        if (queue === undefined) throw new RangeError("journal publish record names a queue it does not list");
        const input: PublishInput = { queue, body: r.string(), priority: r.uint() };
        if (flags !== 0) readOptions(r, flags, input);
        inputs[i] = input;
      }
      return { o: "publish", t, inputs, ids: readStrings(r) };
    }
    case CODE.lease: {
      const queue = r.string();
      const max = r.uint();
      const leaseMs = r.uint();
      const visible = r.uint();
      return { o: "lease", t, queue, max, leaseMs: leaseMs === 0 ? undefined : leaseMs - 1, visible, tokens: readStrings(r) };
    }
    case CODE.ack:
      return { o: "ack", t, id: r.string(), token: r.string() };
    case CODE.ackMany: {
      const items = new Array<AckItem>(r.uint());
      for (let i = 0; i < items.length; i++) items[i] = { id: r.string(), leaseToken: r.string() };
      return { o: "ackMany", t, items };
    }
    case CODE.acks: {
      const count = r.uint();
      if (count === 0) throw new RangeError("journal acks record holds no ack");
      const items = new Array<AckItem>(count);
      for (let i = 0; i < count; i++) items[i] = { id: r.string(), leaseToken: r.string() };
      return { o: "acks", t, items };
    }
    case CODE.extend:
      return { o: "extend", t, id: r.string(), token: r.string(), leaseMs: r.uint() };
    case CODE.tick:
      return { o: "tick", t };
    default:
      throw new RangeError(`unknown journal operation code ${code}`);
  }
}

/**
 * The `acks` record of the acks `ids[i]`/`tokens[i]` (i < count) made at `t`, into `w` (reset
 * first; the result is a view into it): what `encodeOp` writes for `{ o: "acks" }`, without an
 * object per ack.
 */
export function encodeAcks(t: number, ids: readonly string[], tokens: readonly string[], count: number, w: BinaryWriter): Buffer {
  w.reset();
  w.uint(CODE.acks).double(t).uint(count);
  for (let i = 0; i < count; i++) w.string(ids[i]).string(tokens[i]);
  return w.finish();
}

const NONE: never[] = [];

/**
 * Where the engine's non-deterministic choices come from. Live: fresh values, captured so they
 * can be written with the op. Replay: the values recorded with the op, in order.
 */
export class Decisions {
  #replaying = false;
  ids: string[] = NONE;
  tokens: string[] = NONE;
  randoms: number[] = NONE;
  #next = { id: 0, token: 0, random: 0 };
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** Starts capturing for one live operation. */
  capture(): void {
    this.#replaying = false;
    this.ids = NONE;
    this.tokens = NONE;
    this.randoms = NONE;
  }

  /** Feeds one recorded operation's decisions back. */
  replay(op: JournalOp): void {
    this.#replaying = true;
    this.ids = op.ids ?? NONE;
    this.tokens = op.tokens ?? NONE;
    this.randoms = op.randoms ?? NONE;
    this.#next = { id: 0, token: 0, random: 0 };
  }

  newId = (nowMs: number): string => {
    if (this.#replaying) return this.#take(this.ids, "id");
    const id = newId(nowMs);
    (this.ids === NONE ? (this.ids = []) : this.ids).push(id);
    return id;
  };

  newLeaseToken = (): string => {
    if (this.#replaying) return this.#take(this.tokens, "token");
    const token = newLeaseToken();
    (this.tokens === NONE ? (this.tokens = []) : this.tokens).push(token);
    return token;
  };

  random = (): number => {
    if (this.#replaying) return this.#take(this.randoms, "random");
    const value = this.#random();
    (this.randoms === NONE ? (this.randoms = []) : this.randoms).push(value);
    return value;
  };

  #take<T>(values: T[], kind: "id" | "token" | "random"): T {
    const index = this.#next[kind]++;
    if (index >= values.length) throw new Error(`journal replay: the log recorded fewer ${kind}s than the engine asks for`);
    return values[index];
  }
}

/** Runs one operation on the engine: the same call live and in replay. */
export function applyOp(engine: Engine, op: OpBody): unknown {
  switch (op.o) {
    case "publish":
      return engine.publish(op.inputs);
    case "lease":
      engine.setVisibleSeq(op.visible);
      return engine.lease(op.queue, { max: op.max, leaseMs: op.leaseMs });
    case "ack":
      return engine.ack(op.id, op.token, op.result);
    case "ackMany":
      return engine.ackMany(op.items);
    case "acks":
      for (const item of op.items) engine.ack(item.id, item.leaseToken);
      return undefined;
    case "nack":
      return engine.nack(op.id, op.token, op.request);
    case "extend":
      return engine.extend(op.id, op.token, op.leaseMs);
    case "report":
      return engine.report(op.id, op.token, op.report);
    case "ensureQueue":
      return engine.ensureQueue(op.name, op.options);
    case "deleteQueue":
      return engine.deleteQueue(op.name);
    case "setPaused":
      return engine.setPaused(op.name, op.paused);
    case "purgeQueue":
      return engine.purgeQueue(op.name);
    case "replayDead":
      return engine.replayDead(op.queue, op.selection);
    case "deleteDead":
      return engine.deleteDead(op.queue, op.id);
    case "purgeDead":
      return engine.purgeDead(op.queue);
    case "declareExchange":
      return engine.declareExchange(op.name, op.type);
    case "deleteExchange":
      return engine.deleteExchange(op.name);
    case "bind":
      return engine.bind(op.exchange, op.queue, op.key);
    case "unbind":
      return engine.unbind(op.exchange, op.queue, op.key);
    case "tick":
      return engine.runDue();
    case "putSchedule":
      return engine.putSchedule(op.record);
    case "removeSchedule":
      return engine.removeSchedule(op.name);
    case "fireSchedules":
      return engine.fireSchedules(op.plans);
  }
}
