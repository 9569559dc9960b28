/**
 * Random operation sequences through Spool's public API, for the journal's replay and torn-tail
 * properties: fast-check arbitraries for the operations, and an interpreter that runs one
 * operation on one "side" (a Spool over a store, with its ManualClock).
 *
 * Operations name what they act on by index (the k-th lease handed out so far, the k-th dead
 * letter of a queue), so the same operation list can run on two stores whose ids and tokens
 * differ, and the results line up: the k-th lease of one side is the k-th lease of the other.
 * An operation's result is returned as plain data, or `{ error: code }` for the expected
 * refusals (`lease_lost`, `not_found`, `conflict`, `queue_full`); anything else throws, so an
 * `unavailable` from a healthy disk fails the test.
 */
import fc from "fast-check";
import { SpoolError, type ManualClock, type PublishItem, type QueueOptions, type Spool } from "../../src/index.js";

export const QUEUES = ["q0", "q1", "q2"] as const;
export const EXCHANGES = [
  { name: "x-direct", type: "direct" },
  { name: "x-topic", type: "topic" },
  { name: "x-fan", type: "fanout" },
] as const;
const BINDING_KEYS = ["a", "a.b", "a.*", "#", "b.#", ""];
const ROUTING_KEYS = ["a", "a.b", "a.c", "b.x.y", "q0", "q1", "zz"];

export interface PublishSpec {
  n: number;
  priority?: number;
  delayMs?: number;
  ttlMs?: number;
  maxAttempts?: number;
  dedupKey?: string;
  idempotencyKey?: string;
  groupKey?: string;
  headers?: Record<string, string>;
  correlationId?: string;
}

export type SpoolOp =
  | { t: "publish"; q: number; spec: PublishSpec }
  | { t: "publishMany"; q: number; specs: PublishSpec[] }
  | { t: "lease"; q: number; max: number; leaseMs?: number }
  | { t: "ack"; k: number }
  | { t: "ackMany"; ks: number[] }
  | { t: "nack"; k: number; kind?: "permanent" | "transient" | "error"; delayMs?: number }
  | { t: "extend"; k: number; leaseMs: number }
  | { t: "advance"; ms: number }
  | { t: "pause"; q: number }
  | { t: "resume"; q: number }
  | { t: "purge"; q: number }
  | { t: "replayDead"; q: number; all: boolean; ks: number[] }
  | { t: "deleteDead"; q: number; k: number }
  | { t: "purgeDead"; q: number }
  | { t: "declareExchange"; x: number; type: "direct" | "topic" | "fanout" }
  | { t: "bind"; x: number; q: number; key: string }
  | { t: "unbind"; x: number; q: number; key: string }
  | { t: "publishToExchange"; x: number; routingKey: string; spec: PublishSpec }
  | { t: "setOptions"; q: number; options: QueueOptions }
  | { t: "concurrent"; ops: SpoolOp[] };

const queueArb = fc.integer({ min: 0, max: QUEUES.length - 1 });
/** 100 ms steps, so due times often coincide. */
const steps = (min: number, max: number) => fc.integer({ min, max }).map((k) => k * 100);

export const publishSpecArb: fc.Arbitrary<PublishSpec> = fc.record(
  {
    n: fc.nat(1_000_000),
    priority: fc.integer({ min: 0, max: 9 }),
    delayMs: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: steps(1, 30) }),
    ttlMs: steps(1, 300),
    maxAttempts: fc.integer({ min: 1, max: 3 }),
    dedupKey: fc.constantFrom("d0", "d1"),
    idempotencyKey: fc.constantFrom("i0", "i1", "i2"),
    groupKey: fc.constantFrom("g0", "g1"),
    headers: fc.constant({ h: "v" }),
    correlationId: fc.constant("corr"),
  },
  { requiredKeys: ["n"] },
);

const queueOptionsArb: fc.Arbitrary<QueueOptions> = fc.record(
  {
    maxAttempts: fc.integer({ min: 1, max: 4 }),
    leaseMs: steps(5, 50),
    maxLength: fc.integer({ min: 2, max: 8 }),
    overflow: fc.constantFrom("reject", "drop-oldest"),
    ttlMs: steps(10, 80),
    rateLimit: fc.record({ max: fc.integer({ min: 1, max: 3 }), intervalMs: steps(1, 20) }),
    backoff: fc.record({ type: fc.constantFrom("fixed", "exponential"), baseMs: steps(0, 10), jitter: fc.constantFrom("full", "none") }),
    idempotencyWindowMs: steps(10, 100),
    completedRetentionMs: steps(0, 100),
    completedRetentionCount: fc.integer({ min: 0, max: 5 }),
  },
  { requiredKeys: [] },
);

const single: Array<fc.WeightedArbitrary<SpoolOp>> = [
  { weight: 10, arbitrary: fc.record({ t: fc.constant("publish"), q: queueArb, spec: publishSpecArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("publishMany"), q: queueArb, specs: fc.array(publishSpecArb, { minLength: 1, maxLength: 4 }) }) },
  {
    weight: 12,
    arbitrary: fc.record(
      { t: fc.constant("lease"), q: queueArb, max: fc.integer({ min: 1, max: 4 }), leaseMs: fc.oneof(steps(1, 60), steps(100, 1000)) },
      { requiredKeys: ["t", "q", "max"] },
    ),
  },
  { weight: 5, arbitrary: fc.record({ t: fc.constant("ack"), k: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("ackMany"), ks: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }) },
  {
    weight: 4,
    arbitrary: fc.record(
      { t: fc.constant("nack"), k: fc.nat(), kind: fc.constantFrom("permanent", "transient", "error"), delayMs: steps(0, 30) },
      { requiredKeys: ["t", "k"] },
    ),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("extend"), k: fc.nat(), leaseMs: steps(1, 60) }) },
  {
    weight: 6,
    arbitrary: fc.record({ t: fc.constant("advance"), ms: fc.oneof({ weight: 5, arbitrary: steps(0, 40) }, { weight: 1, arbitrary: steps(100, 700) }) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("pause"), q: queueArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("resume"), q: queueArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("purge"), q: queueArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("replayDead"), q: queueArb, all: fc.boolean(), ks: fc.array(fc.nat(), { maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("deleteDead"), q: queueArb, k: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("purgeDead"), q: queueArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("declareExchange"), x: fc.integer({ min: 0, max: 2 }), type: fc.constantFrom("direct", "topic", "fanout") }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("bind"), x: fc.integer({ min: 0, max: 2 }), q: queueArb, key: fc.constantFrom(...BINDING_KEYS) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("unbind"), x: fc.integer({ min: 0, max: 2 }), q: queueArb, key: fc.constantFrom(...BINDING_KEYS) }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant("publishToExchange"), x: fc.integer({ min: -1, max: 2 }), routingKey: fc.constantFrom(...ROUTING_KEYS), spec: publishSpecArb }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("setOptions"), q: queueArb, options: queueOptionsArb }) },
];

/** One operation. With `concurrent`, some are groups of operations started together (one group commit). */
export function spoolOpArb(options: { concurrent?: boolean } = {}): fc.Arbitrary<SpoolOp> {
  if (!options.concurrent) return fc.oneof(...single);
  const oneOp = fc.oneof(...single).filter((op) => op.t !== "advance");
  return fc.oneof(...single, { weight: 4, arbitrary: fc.record({ t: fc.constant("concurrent" as const), ops: fc.array(oneOp, { minLength: 2, maxLength: 6 }) }) });
}

export interface HeldLease {
  id: string;
  token: string;
}

/** One store seen through Spool's public API, with what the operations handed out so far. */
export interface Side {
  spool: Spool;
  clock: ManualClock;
  /** Every lease handed out, in order (stale ones stay: acking them must fail the same way). */
  held: HeldLease[];
  /** Every id a publish returned, in order. */
  ids: string[];
}

export type OpResult = unknown;

const EXPECTED_CODES = new Set(["lease_lost", "not_found", "conflict", "queue_full"]);

function publishOptions(spec: PublishSpec): PublishItem<{ n: number }> {
  const { n, ...options } = spec;
  return { body: { n }, ...options };
}

async function expected<T>(run: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof SpoolError && EXPECTED_CODES.has(error.code)) return { error: error.code };
    throw error;
  }
}

function pick<T>(items: readonly T[], k: number): T | undefined {
  return items.length === 0 ? undefined : items[k % items.length];
}

/** Runs one operation on one side and returns what it answered. */
export async function applyOp(op: SpoolOp, side: Side): Promise<OpResult> {
  const { spool } = side;
  const queue = (q: number) => spool.queue<{ n: number }>(QUEUES[q]);
  switch (op.t) {
    case "publish":
      return expected(async () => {
        const { body, ...options } = publishOptions(op.spec);
        const result = await queue(op.q).publish(body, options);
        side.ids.push(result.id);
        return result;
      });
    case "publishMany":
      return expected(async () => {
        const results = await queue(op.q).publishMany(op.specs.map(publishOptions));
        for (const result of results) side.ids.push(result.id);
        return results;
      });
    case "publishToExchange":
      return expected(async () => {
        const { body, ...options } = publishOptions(op.spec);
        const exchange = op.x < 0 ? "" : EXCHANGES[op.x].name;
        const routingKey = op.x < 0 ? QUEUES[op.spec.n % QUEUES.length] : op.routingKey;
        const result = await spool.publishToExchange(exchange, routingKey, body, options);
        for (const message of result.messages) side.ids.push(message.id);
        return result;
      });
    case "lease": {
      const leased = await queue(op.q).lease({ max: op.max, leaseMs: op.leaseMs });
      for (const message of leased) side.held.push({ id: message.id, token: message.leaseToken });
      return leased;
    }
    case "ack": {
      const lease = pick(side.held, op.k);
      return lease && expected(() => spool.ack(lease.id, lease.token));
    }
    case "ackMany": {
      const items = op.ks.map((k) => pick(side.held, k)).filter((l): l is HeldLease => l !== undefined);
      return expected(() => spool.ackMany(items.map((l) => ({ id: l.id, leaseToken: l.token }))));
    }
    case "nack": {
      const lease = pick(side.held, op.k);
      const error = op.kind === undefined ? undefined : { message: `failed ${op.kind}`, kind: op.kind };
      return lease && expected(() => spool.nack(lease.id, lease.token, { error, delayMs: op.delayMs }));
    }
    case "extend": {
      const lease = pick(side.held, op.k);
      return lease && expected(() => spool.extend(lease.id, lease.token, op.leaseMs));
    }
    case "advance":
      side.clock.advance(op.ms);
      return side.clock.now();
    case "pause":
      return expected(() => queue(op.q).pause());
    case "resume":
      return expected(() => queue(op.q).resume());
    case "purge":
      return expected(() => queue(op.q).purge());
    case "replayDead":
      return expected(async () => {
        if (op.all) return queue(op.q).replayDead({ all: true });
        const dead = (await queue(op.q).deadLetters({ limit: 1000 })).items;
        const ids = op.ks.map((k) => pick(dead, k)?.id).filter((id): id is string => id !== undefined);
        return queue(op.q).replayDead({ ids });
      });
    case "deleteDead":
      return expected(async () => {
        const dead = pick((await queue(op.q).deadLetters({ limit: 1000 })).items, op.k);
        return dead ? queue(op.q).deleteDead(dead.id) : false;
      });
    case "purgeDead":
      return expected(() => queue(op.q).purgeDead());
    case "declareExchange":
      return expected(() => spool.declareExchange(EXCHANGES[op.x].name, op.type));
    case "bind":
      return expected(() => spool.bind(EXCHANGES[op.x].name, QUEUES[op.q], op.key));
    case "unbind":
      return expected(() => spool.unbind(EXCHANGES[op.x].name, QUEUES[op.q], op.key));
    case "setOptions":
      return expected(() => queue(op.q).setOptions(op.options));
    case "concurrent":
      return Promise.all(op.ops.map((inner) => applyOp(inner, side)));
  }
}

/** Declares the exchanges the operations route through (most runs should have some). */
export async function declareExchanges(spool: Spool): Promise<void> {
  for (const exchange of EXCHANGES) await spool.declareExchange(exchange.name, exchange.type);
}
