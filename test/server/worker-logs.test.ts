import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { memoryStore, PermanentError, Spool } from "../../src/index.js";
import { serverLogger } from "../../src/server/logger.js";
import { logWorkerEvents } from "../../src/server/worker-logs.js";
import { pollUntil, uniqueQueueName } from "../helpers/poll-until.js";

const spools: Spool[] = [];
afterEach(async () => {
  for (const spool of spools.splice(0)) await spool.close();
});

async function logged(): Promise<{ spool: Spool; lines: () => Array<Record<string, unknown>> }> {
  const stream = new PassThrough();
  let text = "";
  stream.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
  const logger = await serverLogger({ level: "info", destination: stream });
  const spool = await Spool.open({ store: memoryStore() });
  spools.push(spool);
  logWorkerEvents(spool, logger);
  const lines = () => text.trim().split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, unknown>);
  return { spool, lines };
}

describe("spool serve logs its workers' retries, dead letters and circuit changes at info level", () => {
  it("a retry scheduled, then a message moved to the dead letters, with the queue, id, attempt and error", async () => {
    const { spool, lines } = await logged();
    const queue = spool.queue<number>(uniqueQueueName("logs"), { maxAttempts: 2, backoff: { type: "fixed", baseMs: 0, jitter: "none" } });
    const { id } = await queue.publish(1);
    queue.work(async () => {
      throw new Error("boom");
    });
    await pollUntil(() => lines().some((line) => line.msg === "message moved to the dead letters"), { what: "the dead-letter line" });
    const [retry, dead] = lines();
    expect(retry).toMatchObject({ level: 30, msg: "retry scheduled", queue: queue.name, id, attempt: 1, error: "boom" });
    expect(typeof retry.retryAt).toBe("string");
    expect(dead).toMatchObject({ level: 30, msg: "message moved to the dead letters", queue: queue.name, id, attempt: 2, deadReason: "max_attempts" });
  });

  it("a circuit breaker opening", async () => {
    const { spool, lines } = await logged();
    const queue = spool.queue<number>(uniqueQueueName("logs"));
    queue.work(async () => {
      throw new PermanentError("down");
    }, { circuitBreaker: { sampleSize: 2, failureThreshold: 0.5, openMs: 60_000 } });
    await queue.publishMany([{ body: 1 }, { body: 2 }]);
    await pollUntil(() => lines().some((line) => line.msg === "circuit breaker open"), { what: "the circuit line" });
    expect(lines().find((line) => line.msg === "circuit breaker open")).toMatchObject({ level: 30, queue: queue.name, state: "open" });
    expect(lines().filter((line) => line.msg === "message moved to the dead letters")).toHaveLength(2);
  });
});
