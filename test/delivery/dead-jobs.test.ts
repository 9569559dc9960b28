/**
 * Delivery jobs that die without their handler recording an outcome: the entry ends `failed`
 * with a clear last error, the batch completes, the dead letters stay, and replaying them
 * delivers the entries after all (failed → queued → sent).
 *
 * - lease expiry for real: a `spool serve` child holds the jobs (a mock latency far past the
 *   lease) and is killed with SIGKILL; the reopened server sees the leases run out on the last
 *   attempt.
 * - TTL: the jobs wait in a paused queue until their TTL passes.
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { RunningServer } from "../../src/server/serve.js";
import { pollUntil } from "../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { allMessages, call, FAST_RETRIES, startDeliveryServer, waitForBatch } from "./delivery-server.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

let dir: string;
let server: RunningServer | undefined;

beforeEach(async () => {
  dir = await makeTempDir("spool-dead-jobs-");
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await removeTempDir(dir);
});

it("a job whose lease runs out on its last attempt (the sender was killed) ends failed, durably, and its batch completes", async () => {
  const N = 5;
  const mockQueue = { ...FAST_RETRIES, maxAttempts: 1, leaseMs: 500 };
  const configFile = path.join(dir, "spool.config.json");
  await writeFile(configFile, JSON.stringify({ queues: { "delivery.mock": mockQueue } }));
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO, "src/cli/main.ts"), "serve", "--port", "0", "--data-dir", dir, "--config", configFile, "--log-level", "warn"], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
  let batchId: string;
  try {
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const url = await pollUntil(() => /listening on (http:\/\/\S+)/.exec(stderr)?.[1], { timeoutMs: 15_000, what: "the child listening" });
    const created = await call(url, "POST", "/v1/batches", {
      channel: "mock",
      mock: { latencyMs: 60_000 }, // the sends outlast the test: the jobs stay leased until the process dies
      template: { body: "Hi {{name}}" },
      recipients: Array.from({ length: N }, (_, i) => ({ id: `u${i}`, vars: { name: `U${i}` } })),
    });
    expect(created.status).toBe(202);
    batchId = created.body.batchId;
    await pollUntil(async () => (await call(url, "GET", "/v1/queues/delivery.mock")).body?.leased === N, { what: "every job leased by the child", timeoutMs: 20_000 });
    // Leases are handed out before their records are durable (a lost lease only costs a
    // redelivery); one durable write after them makes the group commit cover them too.
    expect((await call(url, "PUT", "/v1/queues/delivery.mock", mockQueue)).status).toBe(200);
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
  } finally {
    child.kill("SIGKILL");
  }

  server = await startDeliveryServer(dir, { queues: { "delivery.mock": mockQueue } });
  const done = await waitForBatch(server.url, batchId);
  expect(done.counts).toMatchObject({ queued: 0, sent: 0, failed: N });
  const entries = await allMessages(server.url, batchId);
  for (const entry of entries) {
    expect(entry).toMatchObject({ status: "failed", attempts: 1, lastError: { message: "attempts used up (1/1): the lease expired (the sender stopped)" } });
  }
  // The dead letters stay, for an operator to look at or replay.
  const dead = await call(server.url, "GET", "/v1/queues/delivery.mock/dead");
  expect(dead.body.items.map((d: { reason: string; body: { logId: string } }) => [d.reason, d.body.logId]).sort()).toEqual(entries.map((e) => ["max_attempts", e.logId]).sort());

  // Durable: after another restart the entries are still failed and the batch still complete.
  await server.close();
  server = await startDeliveryServer(dir, { queues: { "delivery.mock": mockQueue } });
  expect((await call(server.url, "GET", `/v1/batches/${batchId}`)).body).toMatchObject({ counts: { failed: N }, completedAt: done.completedAt });
});

it("a job whose TTL passes dies, its entry ends failed; replaying the dead letter reopens the entry and delivers it", async () => {
  server = await startDeliveryServer(dir, { queues: { "delivery.mock": { ...FAST_RETRIES, ttlMs: 300 } } });
  const url = server.url;
  expect((await call(url, "POST", "/v1/queues/delivery.mock/pause")).status).toBe(200);
  const created = await call(url, "POST", "/v1/batches", {
    channel: "mock",
    template: { body: "Hi {{name}}" },
    recipients: [{ id: "a", vars: { name: "A" } }, { id: "b", vars: { name: "B" } }, { id: "c", vars: { name: "C" } }],
  });
  const batchId: string = created.body.batchId;
  const failed = await waitForBatch(url, batchId);
  expect(failed.counts).toMatchObject({ queued: 0, sent: 0, failed: 3 });
  for (const entry of await allMessages(url, batchId)) {
    expect(entry).toMatchObject({ status: "failed", lastError: { message: "the delivery job's TTL passed before it was sent" } });
  }
  expect((await call(url, "GET", "/v1/queues/delivery.mock")).body).toMatchObject({ dead: 3 });

  // The operator replays them: each job starts again at attempt 1, reopens its entry and is sent.
  expect((await call(url, "POST", "/v1/queues/delivery.mock/resume")).status).toBe(200);
  const replayed = await call(url, "POST", "/v1/queues/delivery.mock/dead/replay", { all: true });
  expect(replayed.body).toMatchObject({ replayed: 3 });
  const sent = await pollUntil(
    async () => {
      const { body } = await call(url, "GET", `/v1/batches/${batchId}`);
      return body.counts.sent === 3 && body.completedAt !== undefined ? body : undefined;
    },
    { what: "the replayed jobs sent", timeoutMs: 20_000 },
  );
  expect(sent.counts).toMatchObject({ queued: 0, failed: 0, sent: 3 });
  expect(sent.completedAt).toBeGreaterThan(failed.completedAt);
  for (const entry of await allMessages(url, batchId)) expect(entry).toMatchObject({ status: "sent", attempts: 1 });
  expect((await call(url, "GET", "/v1/queues/delivery.mock")).body).toMatchObject({ dead: 0 });
});
