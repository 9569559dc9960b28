/**
 * A webhook host whose failures come in bursts must not stall a batch behind its circuit: the
 * endpoint of the issue fails 17 recipients in a row out of every 100 (10 with one 500, 5 with one
 * 429 + `Retry-After: 1`, 2 with 404) and must still get the batch at no less than half the rate of
 * a healthy endpoint on the same server, with the default circuit settings.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server/serve.js";
import { pollUntil } from "../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { call, startDeliveryServer, startWebhookTarget, type Responder, type WebhookTarget } from "./delivery-server.js";

/** Large enough that the one-second `Retry-After` of the last hundred's 429s is small beside the batch. */
const RECIPIENTS = 5_000;

let dir: string;
let server: RunningServer | undefined;
const targets: WebhookTarget[] = [];

beforeEach(async () => {
  dir = await makeTempDir("spool-webhook-bursts-");
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await Promise.all(targets.splice(0).map((t) => t.close()));
  await removeTempDir(dir);
});

/** Recipient `r<i>`'s answer by its place in each hundred: the first 17 fail, in a row. */
function burstyResponder(): Responder {
  const failedOnce = new Set<string>();
  return (request, res) => {
    const id = request.json.recipientId;
    const place = Number(id.slice(1)) % 100;
    if (place >= 15 && place < 17) return void res.writeHead(404).end();
    if (place < 15 && !failedOnce.has(id)) {
      failedOnce.add(id);
      if (place < 10) return void res.writeHead(500).end();
      return void res.writeHead(429, { "retry-after": "1" }).end();
    }
    res.writeHead(200).end();
  };
}

interface Run {
  settled: number;
  elapsedMs: number;
}

/**
 * Sends a batch of `count` recipients to `url` and follows it until it is complete or `deadlineMs`
 * has passed; how many recipients were settled (sent or failed) by then, and in how long.
 */
async function deliver(url: string, count: number, deadlineMs: number): Promise<Run> {
  const recipients = Array.from({ length: count }, (_, i) => ({ id: `r${i}` }));
  const startedAt = Date.now();
  const created = await call(server!.url, "POST", "/v1/batches", { channel: "webhook", template: { body: "hello" }, webhook: { url }, recipients });
  expect(created.status).toBe(202);
  const batchId = created.body.batchId as string;
  return pollUntil(
    async () => {
      const batch = (await call(server!.url, "GET", `/v1/batches/${batchId}`)).body;
      const elapsedMs = Date.now() - startedAt;
      if (batch.completedAt === undefined && elapsedMs < deadlineMs) return undefined;
      return { settled: batch.counts.sent + batch.counts.failed, elapsedMs };
    },
    { timeoutMs: deadlineMs + 5_000, intervalMs: 20, what: "the batch complete or its deadline passed" },
  );
}

describe("webhook host with bursty failures", () => {
  it("gets a batch delivered at no less than half the rate of a healthy host", { timeout: 90_000 }, async () => {
    const healthy = await startWebhookTarget();
    const bursty = await startWebhookTarget(burstyResponder());
    targets.push(healthy, bursty);
    server = await startDeliveryServer(dir);

    await deliver(healthy.url, 200, 30_000); // warm-up: the healthy run is not the first one
    const good = await deliver(healthy.url, RECIPIENTS, 30_000);
    expect(good.settled).toBe(RECIPIENTS);
    const goodRate = good.settled / good.elapsedMs;
    // At half the healthy rate the batch completes within twice the healthy run's time: no need to wait longer.
    const bad = await deliver(bursty.url, RECIPIENTS, 2 * good.elapsedMs);
    const badRate = bad.settled / bad.elapsedMs;

    const figures = `healthy: ${good.settled} in ${good.elapsedMs} ms; bursty: ${bad.settled} in ${bad.elapsedMs} ms`;
    expect(badRate / goodRate, figures).toBeGreaterThanOrEqual(0.5);
    expect(bad.settled).toBe(RECIPIENTS);
    // The endpoint did fail as scripted: each 500 and 429 was retried once, the 404s never.
    expect(bursty.requests).toHaveLength(RECIPIENTS + (15 * RECIPIENTS) / 100);
    expect(server.delivery.workers?.circuits.state(bursty.host)).toBe("closed");
  });
});
