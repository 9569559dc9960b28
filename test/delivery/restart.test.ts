/**
 * Durability of batch delivery across restarts: a server closed in the middle of expansion, and
 * a `spool serve` child killed with SIGKILL in the middle of expansion. Either way the reopened
 * server resumes the batch and every recipient is published once and sent once.
 */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { RunningServer } from "../../src/server/serve.js";
import { pollUntil } from "../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { allMessages, call, FAST_RETRIES, startDeliveryServer, waitForBatch } from "./delivery-server.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const N = 20_000;
const CHUNK = 200;

let dir: string;
let server: RunningServer | undefined;

beforeEach(async () => {
  dir = await makeTempDir("spool-restart-");
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await removeTempDir(dir);
});

function ndjson(n: number): ReadableStream {
  const lines = function* () {
    yield JSON.stringify({ channel: "mock", template: { body: "Hi {{name}}" } }) + "\n";
    for (let i = 0; i < n; i += 1000) yield Array.from({ length: Math.min(1000, n - i) }, (_, k) => JSON.stringify({ id: `u${i + k}`, vars: { name: `U${i + k}` } })).join("\n") + "\n";
  };
  return Readable.toWeb(Readable.from(lines())) as ReadableStream;
}

async function postStream(url: string, n: number): Promise<{ batchId: string; total: number }> {
  const response = await fetch(`${url}/v1/batches`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body: ndjson(n), duplex: "half" } as RequestInit);
  expect(response.status).toBe(202);
  return (await response.json()) as { batchId: string; total: number };
}

/**
 * The reopened server finishes the batch: each recipient published once, sent once. Messages the
 * killed process had leased come back when their lease (500 ms here) expires; their log entries
 * are already final, so they are acked without being sent again.
 */
async function expectFinishedOnce(batchId: string): Promise<void> {
  server = await startDeliveryServer(dir);
  const done = await waitForBatch(server.url, batchId, 20_000);
  expect(done).toMatchObject({ total: N, expanded: N, counts: { pending: 0, queued: 0, sent: N, failed: 0 } });
  const queue = server.spool.queue("delivery.mock");
  // Leases the killed process held are durable: they come back once they expire, then complete.
  await pollUntil(async () => (await queue.stats()).totals.completed === N, { timeoutMs: 20_000, what: "every delivery message completed" });
  const stats = await queue.stats();
  expect(stats.totals).toMatchObject({ published: N, completed: N, dead: 0 });
  expect(await server.delivery.store.recipients.list()).toEqual([]); // the recipient file is gone once expanded
  const sample = await allMessages(server.url, batchId, "sent");
  expect(sample).toHaveLength(N);
  expect(sample[N - 1].recipientId).toBe(`u${N - 1}`);
}

it("a server closed in the middle of expansion resumes it after a restart, without duplicates", async () => {
  server = await startDeliveryServer(dir, { delivery: { expandChunkSize: CHUNK } });
  const { batchId } = await postStream(server.url, N);
  await pollUntil(async () => (await call(server!.url, "GET", `/v1/batches/${batchId}`)).body.expanded >= 5 * CHUNK, { what: "expansion under way" });
  await server.close();
  server = undefined;
  await expectFinishedOnce(batchId);
});

it("a spool serve killed with SIGKILL in the middle of expansion resumes it when reopened", async () => {
  const configFile = path.join(dir, "spool.config.json");
  await writeFile(configFile, JSON.stringify({ queues: { "delivery.mock": { ...FAST_RETRIES, leaseMs: 500 } }, delivery: { expandChunkSize: CHUNK } }));
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO, "src/cli/main.ts"), "serve", "--port", "0", "--data-dir", dir, "--config", configFile, "--log-level", "warn"], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once("exit", (code, signal) => resolve(signal ?? code)));
  try {
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const url = await pollUntil(() => /listening on (http:\/\/\S+)/.exec(stderr)?.[1], { timeoutMs: 15_000, what: "the child listening" });
    const { batchId } = await postStream(url, N);
    const expanded = await pollUntil(
      async () => {
        const { body } = await call(url, "GET", `/v1/batches/${batchId}`);
        return body.expanded >= 5 * CHUNK ? (body.expanded as number) : 0;
      },
      { what: "expansion under way" },
    );
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(expanded).toBeLessThan(N); // killed mid-expansion, not after
    await expectFinishedOnce(batchId);
  } finally {
    child.kill("SIGKILL");
  }
});
