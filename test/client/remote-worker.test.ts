/**
 * The library's Worker over HTTP (`client.queue(q).work`): heartbeats, graceful close, batched
 * leases and acks, lost leases, the circuit breaker with a waiting long-poll, and a server that
 * goes down and comes back. Waits are on observable conditions (pollUntil, events), not sleeps.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { LeaseLostError, SpoolError, WorkerClosedError, type HandlerContext, type LeasedMessage, type Worker } from "../../src/index.js";
import { pollUntil, uniqueQueueName } from "../helpers/poll-until.js";
import { startRemoteServer, type RemoteServer } from "./remote-server.js";

let server: RemoteServer;
let q: string;
beforeEach(async () => {
  server = await startRemoteServer();
  q = uniqueQueueName("remote-worker");
});
afterEach(async () => {
  for (const gate of gates) gate.openAll();
  gates.clear();
  await server.close();
});

const gates = new Set<Gate>();

/** A handler that holds each call until the test opens it (or ctx.signal aborts it). */
class Gate {
  readonly calls: Array<{ message: LeasedMessage<unknown>; ctx: HandlerContext }> = [];
  readonly #waiting: Array<() => void> = [];
  constructor() {
    gates.add(this);
  }
  readonly handler = (message: LeasedMessage<unknown>, ctx: HandlerContext): Promise<void> => {
    this.calls.push({ message, ctx });
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push(resolve);
      ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
    });
  };
  open(count = 1): void {
    for (const resolve of this.#waiting.splice(0, count)) resolve();
  }
  openAll(): void {
    this.open(this.#waiting.length);
  }
}

function record<T>(worker: Worker<T>) {
  const seen = { completed: [] as string[], failed: [] as string[], errors: [] as unknown[], errorTimes: [] as number[] };
  worker.on("message:completed", (e) => seen.completed.push(e.id));
  worker.on("message:failed", (e) => seen.failed.push(e.id));
  worker.on("worker:error", (e) => {
    seen.errors.push(e.error);
    seen.errorTimes.push(Date.now());
  });
  return seen;
}

const codeOf = (error: unknown) => (error instanceof SpoolError ? error.code : undefined);

it("heartbeats keep a long handler's lease: it outlives many lease lengths and completes on attempt 1", async () => {
  const client = server.client();
  const { id } = await client.publish(q, "long");
  const gate = new Gate();
  const worker = client.queue(q).work(gate.handler, { leaseMs: 300 });
  const seen = record(worker);
  await pollUntil(() => gate.calls.length === 1, { what: "the handler to start" });

  // Each heartbeat moves leaseUntil on; after several, the first lease is long expired.
  const leaseEnds = new Set<number>();
  await pollUntil(
    async () => {
      const status = await client.status(id);
      expect(status).toMatchObject({ state: "leased", attempt: 1 });
      leaseEnds.add(status?.leaseUntil as number);
      return leaseEnds.size >= 5;
    },
    { what: "four heartbeats", timeoutMs: 10_000 },
  );
  expect(gate.calls[0].ctx.signal.aborted).toBe(false);
  gate.open();
  await pollUntil(() => seen.completed.length === 1, { what: "the handler to complete" });
  expect(await client.status(id)).toMatchObject({ state: "completed", attempt: 1 });
  expect(seen.errors).toEqual([]);
  expect(gate.calls).toHaveLength(1);
  await worker.close();
});

it("close() waits for running handlers, and past its deadline releases the message without using an attempt", async () => {
  const client = server.client();
  await client.queue(q).setOptions({ maxAttempts: 1 }); // a shutdown must not use up the last attempt
  const [first, second] = await client.queue(q).publishMany([{ body: 1 }, { body: 2 }]);
  const gate = new Gate();
  const worker = client.queue(q).work(gate.handler, { concurrency: 1 });
  const seen = record(worker);
  await pollUntil(() => gate.calls.length === 1, { what: "the first handler to start" });
  gate.open();
  await pollUntil(() => gate.calls.length === 2, { what: "the second handler to start" });

  await worker.close({ timeoutMs: 0 });
  const { ctx } = gate.calls[1];
  expect(ctx.signal.aborted).toBe(true);
  expect(ctx.signal.reason).toBeInstanceOf(WorkerClosedError);
  expect(seen.completed).toEqual([first.id]);
  expect(seen.failed).toEqual([]);
  expect(seen.errors).toEqual([]);
  expect(await client.status(second.id)).toMatchObject({ state: "ready", attempt: 0 });
  const [again] = await client.queue(q).lease();
  expect(again).toMatchObject({ id: second.id, attempt: 1 });
});

it("close() drains in-flight handlers, and ends an idle long-poll at once: later messages stay ready", async () => {
  const client = server.client();
  const gate = new Gate();
  const worker = client.queue(q).work(gate.handler);
  const seen = record(worker);
  const { id } = await client.publish(q, "x");
  await pollUntil(() => gate.calls.length === 1, { what: "the handler to start" });

  let closed = false;
  const closing = worker.close({ timeoutMs: 60_000 }).then(() => (closed = true));
  await client.publish(q, "after close");
  gate.open();
  await closing;
  expect(closed).toBe(true);
  expect(seen.completed).toEqual([id]);
  expect(gate.calls).toHaveLength(1);
  expect(await client.queue(q).stats()).toMatchObject({ ready: 1, leased: 0 });

  // An idle worker: its long-poll waits on the server for 20 s; close() aborts it instead.
  const idle = client.queue(uniqueQueueName("idle")).work(() => {});
  await pollUntil(() => server.count("GET /v1/queues/:q") >= 2, { what: "the idle worker to start" });
  const startedAt = Date.now();
  await idle.close();
  expect(Date.now() - startedAt).toBeLessThan(10_000);
});

it("client.close() closes its workers, draining them like spool.close()", async () => {
  const client = server.client();
  const gate = new Gate();
  const worker = client.queue(q).work(gate.handler);
  const seen = record(worker);
  const { id } = await client.publish(q, "x");
  await pollUntil(() => gate.calls.length === 1, { what: "the handler to start" });
  const closing = client.close();
  gate.open();
  await closing;
  expect(worker.closed).toBe(true);
  expect(seen.completed).toEqual([id]);
  expect(() => client.queue(q).work(() => {})).toThrow(SpoolError);
});

it("leases in batches and acknowledges successes in bulk (POST /v1/acks), never one request per message", async () => {
  const client = server.client();
  const total = 500;
  await client.queue<number>(q).publishMany(Array.from({ length: total }, (_, body) => ({ body })));
  let handled = 0;
  const worker = client.queue<number>(q).work(() => void handled++, { concurrency: 100 });
  const seen = record(worker);
  await pollUntil(() => seen.completed.length === total, { what: "every message to complete", timeoutMs: 10_000 });
  await worker.close();

  expect(handled).toBe(total);
  expect((await server.spool.queue(q).stats()).totals).toMatchObject({ completed: total });
  expect(server.count("POST /v1/messages/:id/ack")).toBe(0);
  expect(server.count("POST /v1/acks")).toBeGreaterThan(0);
  expect(server.count("POST /v1/acks")).toBeLessThan(total / 10);
  expect(server.count("POST /v1/queues/:q/lease")).toBeLessThan(total / 10);
  expect(seen.errors).toEqual([]);
});

it("an ack refused because the lease was lost is a worker:error; the handler is not thrown into", async () => {
  const client = server.client();
  const { id } = await client.publish(q, "x");
  const gate = new Gate();
  const worker = client.queue(q).work(gate.handler);
  const seen = record(worker);
  await pollUntil(() => gate.calls.length === 1, { what: "the handler to start" });

  // Someone else settles the message with its token: the worker's lease is gone.
  const { message, ctx } = gate.calls[0];
  await server.spool.nack(message.id, message.leaseToken, { release: true });
  gate.open();
  await pollUntil(() => seen.errors.length === 1, { what: "the refused ack to be reported" });
  expect(seen.errors[0]).toBeInstanceOf(LeaseLostError);
  expect(seen.completed).toEqual([]);
  expect(seen.failed).toEqual([]);
  expect(ctx.signal.aborted).toBe(false);
  await worker.close({ timeoutMs: 0 });
  expect((await client.status(id))?.state).not.toBe("completed");
});

it("a message that arrives for a long-poll after the circuit opened is released, not run, and keeps its attempt", async () => {
  const client = server.client();
  await client.queue(q).setOptions({ backoff: { type: "fixed", baseMs: 3_600_000, jitter: "none" } });
  let calls = 0;
  let fail: ((error: Error) => void) | undefined;
  // Concurrency 2: while the first handler runs, the free slot's long-poll waits on the server.
  const worker = client.queue(q).work(
    () => {
      calls++;
      return new Promise<void>((_, reject) => (fail = reject));
    },
    { concurrency: 2, circuitBreaker: { sampleSize: 1, failureThreshold: 1, openMs: 3_600_000 } },
  );
  const circuit: string[] = [];
  worker.on("worker:circuit", (e) => circuit.push(e.state));
  await client.publish(q, "fails");
  await pollUntil(() => calls === 1, { what: "the first handler to start" });
  await pollUntil(() => server.count("POST /v1/queues/:q/lease") === 1, { what: "the first lease to be answered" });

  fail?.(new Error("down"));
  await pollUntil(() => circuit.includes("open"), { what: "the circuit to open" });
  const { id } = await client.publish(q, "waits");
  await pollUntil(() => server.count("POST /v1/messages/:id/nack") === 2, { what: "the failure and the release", timeoutMs: 5_000 });
  expect(calls).toBe(1);
  expect(await client.status(id)).toMatchObject({ state: "ready", attempt: 0 });
  expect(worker.circuitState).toBe("open");
  await worker.close();
});

it("a server that goes down: the worker reports worker:error without spinning, and resumes when it is back", async () => {
  const client = server.client();
  const handled: unknown[] = [];
  const worker = client.queue(q).work((message) => void handled.push(message.body), { concurrency: 4 });
  const seen = record(worker);
  await client.publish(q, "before");
  await pollUntil(() => handled.length === 1, { what: "the first message" });

  await server.stop();
  await pollUntil(() => seen.errors.length >= 2 && Date.now() - seen.errorTimes[0] >= 1500, { what: "failing calls to be reported for 1.5 s", timeoutMs: 10_000 });
  expect(seen.errors.every((e) => codeOf(e) === "unavailable")).toBe(true);
  // Retried after a pause (1 s), not in a loop: a spinning worker would have reported hundreds
  // of failures in 1.5 s; a slow machine only makes the count smaller.
  expect(seen.errors.length).toBeLessThan(20);

  await server.spool.queue(q).publish("while down"); // straight into the store
  await server.restart();
  await pollUntil(() => handled.length === 2, { what: "the worker to resume", timeoutMs: 10_000 });
  expect(handled).toEqual(["before", "while down"]);
  await client.publish(q, "after");
  await pollUntil(() => handled.length === 3, { what: "the next message" });
  await worker.close();
});

it("a worker started while the server is down keeps trying until it is up", async () => {
  await server.stop();
  const client = server.client();
  const handled: unknown[] = [];
  const worker = client.queue(q).work((message) => void handled.push(message.body));
  const seen = record(worker);
  await pollUntil(() => seen.errors.length >= 1, { what: "the failed start to be reported" });
  expect(codeOf(seen.errors[0])).toBe("unavailable");
  await server.restart();
  await client.publish(q, "hello");
  await pollUntil(() => handled.length === 1, { what: "the worker to start for real", timeoutMs: 10_000 });
  await worker.close();
});

it("scale(n) changes a remote worker's concurrency at run time", async () => {
  const client = server.client();
  await client.queue(q).publishMany(Array.from({ length: 6 }, (_, body) => ({ body })));
  const gate = new Gate();
  const worker = client.queue(q).work(gate.handler, { concurrency: 1 });
  await pollUntil(() => gate.calls.length === 1, { what: "one handler" });
  worker.scale(4);
  await pollUntil(() => gate.calls.length === 4, { what: "four handlers after scale(4)" });
  expect(await client.queue(q).stats()).toMatchObject({ leased: 4, ready: 2 });
  gate.openAll();
  await worker.close({ timeoutMs: 0 });
});
