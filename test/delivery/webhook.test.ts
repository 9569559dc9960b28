/**
 * The webhook channel end to end: `spool serve` (journal in a temp dir) over real HTTP, with a
 * real local webhook target that scripts its answers per request.
 */
import { createHmac } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server/serve.js";
import { pollUntil } from "../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { allMessages, call, startDeliveryServer, startWebhookTarget, waitForBatch, type WebhookTarget } from "./delivery-server.js";

let dir: string;
let server: RunningServer | undefined;
const targets: WebhookTarget[] = [];

beforeEach(async () => {
  dir = await makeTempDir("spool-webhook-");
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await Promise.all(targets.splice(0).map((t) => t.close()));
  await removeTempDir(dir);
});

async function target(respond?: Parameters<typeof startWebhookTarget>[0]): Promise<WebhookTarget> {
  const started = await startWebhookTarget(respond);
  targets.push(started);
  return started;
}

function webhookBatch(url: string, recipients: Array<{ id: string; vars?: Record<string, unknown>; address?: string }>, extra: Record<string, unknown> = {}) {
  return { channel: "webhook", template: { subject: "Hi {{name}}", body: "Hello {{name}}, <b>{{what}}</b>" }, webhook: { url }, recipients, ...extra };
}

const person = (id: string) => ({ id, vars: { name: id.toUpperCase(), what: "news & more" } });

describe("webhook channel", () => {
  it("POSTs the rendered, HTML-escaped message with a signature that verifies with the secret", async () => {
    const hook = await target();
    server = await startDeliveryServer(dir);
    const created = await call(server.url, "POST", "/v1/batches", webhookBatch(`${hook.url}/in`, [person("ann"), person("bob")], { webhook: { url: `${hook.url}/in`, secret: "s3cret" } }));
    expect(created.status).toBe(202);
    expect(created.body).toEqual({ batchId: expect.any(String), total: 2, duplicate: false });
    const done = await waitForBatch(server.url, created.body.batchId);
    expect(done).toMatchObject({ total: 2, progress: 1, counts: { sent: 2, failed: 0, pending: 0, queued: 0 } });

    expect(hook.requests).toHaveLength(2);
    for (const request of hook.requests) {
      expect(request.path).toBe("/in");
      const timestamp = String(request.headers["x-spool-timestamp"]);
      const expected = `sha256=${createHmac("sha256", "s3cret").update(`${timestamp}.${request.body}`).digest("hex")}`;
      expect(request.headers["x-spool-signature"]).toBe(expected);
      expect(request.headers["x-spool-message-id"]).toBe(request.json.logId);
    }
    const ann = hook.requests.find((r) => r.json.recipientId === "ann")!;
    expect(ann.json).toEqual({ logId: `${created.body.batchId}_0`, batchId: created.body.batchId, recipientId: "ann", subject: "Hi ANN", body: "Hello ANN, <b>news &amp; more</b>" });
    const entries = await allMessages(server.url, created.body.batchId);
    expect(entries.map((e) => [e.recipientId, e.status, e.attempts])).toEqual([["ann", "sent", 1], ["bob", "sent", 1]]);
  });

  it("a 500 is retried with the queue's backoff, then sent; the log keeps attempts and the last error", async () => {
    let calls = 0;
    const hook = await target((_req, res) => res.writeHead(++calls === 1 ? 500 : 200).end());
    server = await startDeliveryServer(dir);
    const created = await call(server.url, "POST", "/v1/batches", webhookBatch(hook.url, [person("ann")]));
    await waitForBatch(server.url, created.body.batchId);
    const [entry] = await allMessages(server.url, created.body.batchId);
    expect(entry).toMatchObject({ status: "sent", attempts: 2, lastError: { message: expect.stringContaining("HTTP 500") } });
    expect(hook.requests).toHaveLength(2);
  });

  it("a 429 with Retry-After is retried after that pause, not the backoff's", async () => {
    const hook = await target((_req, res) => {
      if (hook.requests.length === 1) res.writeHead(429, { "retry-after": "1" }).end();
      else res.writeHead(200).end();
    });
    server = await startDeliveryServer(dir); // backoff: fixed 20 ms
    const created = await call(server.url, "POST", "/v1/batches", webhookBatch(hook.url, [person("ann")]));
    const queue = server.spool.queue("delivery.webhook");
    // After the 429 the job waits as a delayed message, its attempt recorded in the log.
    await pollUntil(async () => (await queue.stats()).delayed === 1, { what: "the job delayed" });
    const [waiting] = await allMessages(server.url, created.body.batchId);
    expect(waiting).toMatchObject({ status: "queued", attempts: 1, lastError: { message: expect.stringContaining("HTTP 429") } });
    await waitForBatch(server.url, created.body.batchId);
    expect(hook.requests).toHaveLength(2);
    // The retry came no sooner than the server asked (the backoff alone would have been 20 ms).
    expect(hook.requests[1].at - hook.requests[0].at).toBeGreaterThanOrEqual(1000);
    const [entry] = await allMessages(server.url, created.body.batchId);
    expect(entry).toMatchObject({ status: "sent", attempts: 2 });
  });

  it("a response slower than the timeout is an attempt that failed; the retry is sent", async () => {
    const hook = await target((_req, res) => {
      if (hook.requests.length === 1) setTimeout(() => res.writeHead(200).end(), 2_000).unref();
      else res.writeHead(200).end();
    });
    server = await startDeliveryServer(dir);
    const created = await call(server.url, "POST", "/v1/batches", webhookBatch(hook.url, [person("ann")], { webhook: { url: hook.url, timeoutMs: 100 } }));
    await waitForBatch(server.url, created.body.batchId);
    const [entry] = await allMessages(server.url, created.body.batchId);
    expect(entry).toMatchObject({ status: "sent", attempts: 2, lastError: { message: expect.stringContaining("no answer within 100 ms") } });
  });

  it("a 404 fails the recipient at once: one request, status failed with the error", async () => {
    const hook = await target((_req, res) => res.writeHead(404).end());
    server = await startDeliveryServer(dir);
    const created = await call(server.url, "POST", "/v1/batches", webhookBatch(hook.url, [person("ann")]));
    const done = await waitForBatch(server.url, created.body.batchId);
    expect(done.counts).toMatchObject({ failed: 1, sent: 0 });
    const [entry] = await allMessages(server.url, created.body.batchId, "failed");
    expect(entry).toMatchObject({ status: "failed", attempts: 1, lastError: { message: expect.stringContaining("HTTP 404") }, failedAt: expect.any(Number) });
    expect(hook.requests).toHaveLength(1);
    // The log records the failure, then the worker's nack makes the job dead: wait for the second.
    const queue = server.spool.queue("delivery.webhook");
    await pollUntil(async () => (await queue.stats()).dead === 1, { what: "the job dead in its queue" });
    expect((await queue.stats()).totals.dead).toBe(1);
  });

  it("attempts used up → failed with the last error", async () => {
    const hook = await target((_req, res) => res.writeHead(503).end());
    server = await startDeliveryServer(dir); // maxAttempts 3
    const created = await call(server.url, "POST", "/v1/batches", webhookBatch(hook.url, [person("ann")]));
    await waitForBatch(server.url, created.body.batchId);
    const [entry] = await allMessages(server.url, created.body.batchId);
    expect(entry).toMatchObject({ status: "failed", attempts: 3, lastError: { message: expect.stringContaining("HTTP 503") } });
    expect(hook.requests).toHaveLength(3);
  });

  it("a dead host's circuit opens: its jobs wait without using attempts while another host keeps flowing", async () => {
    const dead = await target((_req, res) => res.writeHead(503).end());
    const live = await target();
    server = await startDeliveryServer(dir, {
      delivery: { circuitBreaker: { minimumCalls: 4, failureThreshold: 0.5, openMs: 60_000 }, concurrency: { webhook: 4 } },
      queues: { "delivery.webhook": { backoff: { type: "fixed", baseMs: 5, jitter: "none" }, maxAttempts: 50 } },
    });
    const recipients = [];
    for (let i = 0; i < 40; i++) recipients.push({ ...person(`r${i}`), address: `${i % 2 === 0 ? dead.url : live.url}/hook` });
    const created = await call(server.url, "POST", "/v1/batches", webhookBatch(live.url, recipients));
    const batchId = created.body.batchId;
    await pollUntil(async () => (await call(server!.url, "GET", `/v1/batches/${batchId}`)).body.counts.sent === 20, { what: "the live host's 20 sent" });
    expect(server.delivery.workers?.circuits.state(dead.host)).toBe("open");
    expect(server.delivery.workers?.circuits.state(live.host)).toBe("closed");
    // The dead host saw about minimumCalls requests, not 20 recipients × 50 attempts.
    expect(dead.requests.length).toBeLessThanOrEqual(4 + 4);
    const waiting = await allMessages(server.url, batchId, "queued");
    expect(waiting).toHaveLength(20);
    expect(waiting.every((entry) => entry.attempts <= 2)).toBe(true);
    expect((await server.spool.queue("delivery.webhook").stats()).dead).toBe(0);
  });

  it("delivers each recipient's messages in publish order, a retry holding the next one back", async () => {
    const failedOnce = new Set<string>();
    const hook = await target((req, res) => {
      // The first message of each recipient fails once.
      if (req.json.body.endsWith("#0") && !failedOnce.has(req.json.recipientId)) {
        failedOnce.add(req.json.recipientId);
        return res.writeHead(500).end();
      }
      res.writeHead(200).end();
    });
    server = await startDeliveryServer(dir);
    const recipients = [];
    for (let k = 0; k < 4; k++) for (const id of ["ann", "bob", "cy"]) recipients.push({ id, vars: { k } });
    const created = await call(server.url, "POST", "/v1/batches", { channel: "webhook", template: { body: "msg #{{k}}" }, webhook: { url: hook.url }, recipients });
    await waitForBatch(server.url, created.body.batchId);
    for (const id of ["ann", "bob", "cy"]) {
      const seen = hook.requests.filter((r) => r.json.recipientId === id).map((r) => r.json.body);
      expect(seen).toEqual(["msg #0", "msg #0", "msg #1", "msg #2", "msg #3"]);
    }
  });

  it("a recipient with no address and a batch with no URL is refused at creation", async () => {
    server = await startDeliveryServer(dir);
    const refused = await call(server.url, "POST", "/v1/batches", { channel: "webhook", template: { body: "x" }, recipients: [{ id: "a", address: "http://127.0.0.1:9/x" }, { id: "b" }] });
    expect(refused.status).toBe(400);
    expect(refused.body.error.details).toEqual([{ path: "/recipients/1/address", message: expect.stringContaining("no address") }]);
  });
});
