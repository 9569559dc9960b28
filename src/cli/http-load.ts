/**
 * The HTTP load generator behind `spool bench` and the bench's `http` scenario: publishes N
 * messages in batches with several requests in flight, then leases them in batches and acks
 * each leased batch with one bulk ack, and times both phases. It measures the server and the
 * client together, as an application would see them (the targets, bench/README.md: ≥ 200k msg/s
 * publishing in batches of 100; ≥ 50k msg/s lease + ack).
 */
import { randomBytes } from "node:crypto";
import type { SpoolClient } from "../client/spool-client.js";
import { SpoolError } from "../core/errors.js";

/** `spool bench`'s defaults, which the bench's http scenario uses too. */
// 32 requests in flight: with fsync `always` each request waits for a group commit, so more of them
// in flight share each fdatasync (8 reached ~60% of what 32 does here).
export const HTTP_LOAD_DEFAULTS = { messages: 100_000, batch: 100, concurrency: 32, leaseMax: 100 } as const;

/** Spool's targets for HTTP through `spool serve` (journal, fsync always): bench/README.md, "Targets". */
export const HTTP_TARGETS = { publishMsgPerSec: 200_000, leaseAckMsgPerSec: 50_000 } as const;

export interface HttpLoadOptions {
  client: SpoolClient;
  /** An empty queue: every message leased is counted as one of ours. Default: a fresh name. */
  queue?: string;
  messages: number;
  /** Messages per publish request. */
  batch: number;
  /** Requests in flight in each phase. */
  concurrency: number;
  /** Messages asked for per lease request (1–1000). */
  leaseMax: number;
  /** The body of message `seq`; default: a ~120-byte JSON object, as the other benchmarks send. */
  makeBody?: (seq: number) => unknown;
}

export interface PhaseFigures {
  messages: number;
  requests: number;
  elapsedMs: number;
  msgPerSec: number;
}

export interface HttpLoadResult {
  queue: string;
  publish: PhaseFigures;
  leaseAck: PhaseFigures;
}

function benchQueueName(): string {
  return `bench-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}

export async function runHttpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const queue = options.queue ?? benchQueueName();
  const publish = await publishPhase(options, queue);
  const leaseAck = await leaseAckPhase(options, queue);
  return { queue, publish, leaseAck };
}

async function publishPhase({ client, messages, batch, concurrency, makeBody = defaultBody }: HttpLoadOptions, queue: string): Promise<PhaseFigures> {
  // Bodies are made before the clock starts: the figure is the server's and the client's, not ours.
  const batches: Array<Array<{ body: unknown }>> = [];
  for (let from = 0; from < messages; from += batch) {
    const items: Array<{ body: unknown }> = [];
    for (let seq = from; seq < Math.min(messages, from + batch); seq++) items.push({ body: makeBody(seq) });
    batches.push(items);
  }
  const target = client.queue(queue);
  let next = 0;
  const started = performance.now();
  await inParallel(concurrency, async () => {
    while (next < batches.length) await target.publishMany(batches[next++]);
  });
  return figures(messages, batches.length, performance.now() - started);
}

async function leaseAckPhase({ client, messages, concurrency, leaseMax }: HttpLoadOptions, queue: string): Promise<PhaseFigures> {
  const source = client.queue(queue);
  let acked = 0;
  let failed = 0;
  let requests = 0;
  const started = performance.now();
  await inParallel(concurrency, async () => {
    // Everything was published (and durable) before this phase: an empty lease means the
    // rest is in the other consumers' hands, so this one is done.
    for (;;) {
      const leased = await source.lease({ max: leaseMax });
      requests++;
      if (leased.length === 0) return;
      const outcomes = await client.ackMany(leased.map((message) => ({ id: message.id, leaseToken: message.leaseToken })));
      requests++;
      for (const outcome of outcomes) {
        if (outcome.ok) acked++;
        else failed++;
      }
    }
  });
  const elapsedMs = performance.now() - started;
  if (acked !== messages) {
    throw new SpoolError("conflict", `bench queue "${queue}": acked ${acked} of the ${messages} messages published${failed > 0 ? ` (${failed} acks failed)` : ""}`);
  }
  return figures(messages, requests, elapsedMs);
}

/** Runs `worker` `count` times at once and waits for all; the first failure wins. */
async function inParallel(count: number, worker: () => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: count }, () => worker()));
}

function figures(messages: number, requests: number, elapsedMs: number): PhaseFigures {
  return { messages, requests, elapsedMs, msgPerSec: elapsedMs > 0 ? (messages * 1000) / elapsedMs : Infinity };
}

const PAD = "x".repeat(33);

/** {"seq":12,"to":"user-4711@example.test","subject":"Your order has shipped","pad":"xx…"}: ~120 bytes. */
function defaultBody(seq: number): unknown {
  return { seq, to: "user-4711@example.test", subject: "Your order has shipped", pad: PAD };
}
