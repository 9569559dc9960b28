/**
 * One handler function, run by a local `queue.work` (in the server's own Spool) and by a remote
 * `client.queue(q).work` (over HTTP): every message ends the same way, with the same attempts,
 * dead reasons, error kinds and worker events.
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { HandlerTimeoutError, PermanentError, type Handler, type MessageStatus, type Worker, type WorkerEvents } from "../../src/index.js";
import { pollUntil, uniqueQueueName } from "../helpers/poll-until.js";
import { startRemoteServer, type RemoteServer } from "./remote-server.js";

type Job = { kind: "ok" | "throw" | "permanent" | "slow" | "chain" | "flaky"; next?: string };

/** The handler under test: what it does depends only on the message. */
const handler: Handler<Job> = async (message, ctx) => {
  switch (message.body.kind) {
    case "ok":
      return;
    case "throw":
      throw new Error("boom");
    case "permanent":
      throw new PermanentError("bad input");
    case "flaky":
      if (message.attempt === 1) throw new Error("first try fails");
      return;
    case "slow":
      // Never finishes on its own: only the worker's timeout (ctx.signal) ends it.
      await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true }));
      return;
    case "chain":
      await ctx.publish(message.body.next as string, { kind: "ok" }, { headers: { from: message.id } });
      return;
  }
};

const JOBS: Job["kind"][] = ["ok", "throw", "permanent", "slow", "chain", "flaky"];
const QUEUE_OPTIONS = { maxAttempts: 2, backoff: { type: "fixed" as const, baseMs: 1, jitter: "none" as const } };
const WORKER_OPTIONS = { concurrency: 4, timeoutMs: 200 };

let server: RemoteServer;
beforeEach(async () => {
  server = await startRemoteServer();
});
afterEach(async () => server.close());

interface Run {
  statuses: Record<string, Pick<MessageStatus, "state" | "attempt" | "deadReason"> & { errorKind?: string }>;
  completed: Record<string, number[]>;
  failed: Record<string, Array<{ attempt: number; state: string | undefined; timeout: boolean }>>;
  durations: number[];
  chained: { correlationId: string | undefined; causationIsParent: boolean; headerIsParent: boolean } | undefined;
}

/** Publishes one message per job kind, runs `start`'s worker until every one is settled, and describes what happened. */
async function run(where: "local" | "remote"): Promise<Run> {
  const queue = uniqueQueueName(`same-${where}`);
  const next = uniqueQueueName(`same-${where}-next`);
  await server.spool.queue(queue, QUEUE_OPTIONS).info();
  const ids = new Map<string, Job["kind"]>();
  for (const kind of JOBS) {
    const { id } = await server.spool.queue<Job>(queue).publish({ kind, next }, kind === "chain" ? { correlationId: "order-7" } : undefined);
    ids.set(id, kind);
  }
  const client = server.client();
  const worker: Worker<Job> = where === "local" ? server.spool.queue<Job>(queue).work(handler, WORKER_OPTIONS) : client.queue<Job>(queue).work(handler, WORKER_OPTIONS);

  const result: Run = { statuses: {}, completed: {}, failed: {}, durations: [], chained: undefined };
  const kindOf = (id: string) => ids.get(id) as string;
  worker.on("message:completed", (e: WorkerEvents["message:completed"][0]) => {
    (result.completed[kindOf(e.id)] ??= []).push(e.attempt);
    result.durations.push(e.durationMs);
  });
  worker.on("message:failed", (e: WorkerEvents["message:failed"][0]) => {
    (result.failed[kindOf(e.id)] ??= []).push({ attempt: e.attempt, state: e.outcome?.state, timeout: e.error instanceof HandlerTimeoutError });
    result.durations.push(e.durationMs);
  });

  const settled = async () => {
    for (const id of ids.keys()) {
      const status = await server.spool.status(id);
      if (status?.state !== "completed" && status?.state !== "dead") return false;
    }
    return true;
  };
  await pollUntil(settled, { what: `every ${where} message to complete or die`, timeoutMs: 10_000 });
  await worker.close();

  for (const [id, kind] of ids) {
    const status = (await server.spool.status(id)) as MessageStatus;
    result.statuses[kind] = { state: status.state, attempt: status.attempt, deadReason: status.deadReason, errorKind: status.lastError?.kind };
  }
  const chainId = [...ids].find(([, kind]) => kind === "chain")?.[0];
  const [child] = await server.spool.queue<Job>(next).lease();
  if (child) {
    result.chained = { correlationId: child.correlationId, causationIsParent: child.causationId === chainId, headerIsParent: child.headers.from === chainId };
  }
  return result;
}

it("the same handler gives the same outcomes locally and over HTTP", async () => {
  const local = await run("local");
  const remote = await run("remote");

  const { durations: localDurations, ...localOutcomes } = local;
  const { durations: remoteDurations, ...remoteOutcomes } = remote;
  expect(remoteOutcomes).toEqual(localOutcomes);

  // And the outcomes are the documented ones.
  expect(local.statuses).toEqual({
    ok: { state: "completed", attempt: 1, deadReason: undefined, errorKind: undefined },
    chain: { state: "completed", attempt: 1, deadReason: undefined, errorKind: undefined },
    flaky: { state: "completed", attempt: 2, deadReason: undefined, errorKind: undefined },
    throw: { state: "dead", attempt: 2, deadReason: "max_attempts", errorKind: "error" },
    permanent: { state: "dead", attempt: 1, deadReason: "permanent_error", errorKind: "permanent" },
    slow: { state: "dead", attempt: 2, deadReason: "max_attempts", errorKind: "error" },
  });
  expect(local.failed.throw).toEqual([
    { attempt: 1, state: "delayed", timeout: false },
    { attempt: 2, state: "dead", timeout: false },
  ]);
  expect(local.failed.permanent).toEqual([{ attempt: 1, state: "dead", timeout: false }]);
  expect(local.failed.slow).toEqual([
    { attempt: 1, state: "delayed", timeout: true },
    { attempt: 2, state: "dead", timeout: true },
  ]);
  expect(local.chained).toEqual({ correlationId: "order-7", causationIsParent: true, headerIsParent: true });

  // durationMs: the handler's run time; a timed-out one ran for about its timeout.
  for (const durations of [localDurations, remoteDurations]) {
    expect(durations).toHaveLength(3 + 6); // completed: ok, chain, flaky; failed: throw ×2, permanent, slow ×2, flaky
    for (const ms of durations) expect(ms).toBeGreaterThanOrEqual(0);
    expect(Math.max(...durations)).toBeGreaterThanOrEqual(WORKER_OPTIONS.timeoutMs - 1);
  }
});
