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
import type { AckItem, NackRequest, PublishInput, ReplaySelection } from "../store.js";

export type JournalOp = { t: number; ids?: string[]; tokens?: string[]; randoms?: number[] } & (
  | { o: "publish"; inputs: PublishInput[] }
  | { o: "lease"; queue: string; max: number; leaseMs?: number }
  | { o: "ack"; id: string; token: string }
  | { o: "ackMany"; items: AckItem[] }
  | { o: "nack"; id: string; token: string; request: NackRequest }
  | { o: "extend"; id: string; token: string; leaseMs: number }
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
);

export type OpBody = JournalOp extends infer O ? (O extends JournalOp ? Omit<O, "t" | "ids" | "tokens" | "randoms"> : never) : never;

export function encodeOp(op: JournalOp): Buffer {
  return Buffer.from(JSON.stringify(op));
}

export function decodeOp(payload: Buffer): JournalOp {
  return JSON.parse(payload.toString("utf8")) as JournalOp;
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

  /** The decisions captured for the current live operation, to write with it. */
  recorded(): Pick<JournalOp, "ids" | "tokens" | "randoms"> {
    const out: Pick<JournalOp, "ids" | "tokens" | "randoms"> = {};
    if (this.ids.length > 0) out.ids = this.ids;
    if (this.tokens.length > 0) out.tokens = this.tokens;
    if (this.randoms.length > 0) out.randoms = this.randoms;
    return out;
  }
}

/** Runs one operation on the engine: the same call live and in replay. */
export function applyOp(engine: Engine, op: OpBody): unknown {
  switch (op.o) {
    case "publish":
      return engine.publish(op.inputs);
    case "lease":
      return engine.lease(op.queue, { max: op.max, leaseMs: op.leaseMs });
    case "ack":
      return engine.ack(op.id, op.token);
    case "ackMany":
      return engine.ackMany(op.items);
    case "nack":
      return engine.nack(op.id, op.token, op.request);
    case "extend":
      return engine.extend(op.id, op.token, op.leaseMs);
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
  }
}
