/**
 * Batches through `spool serve` over real HTTP on the mock channel: intake (JSON and streamed
 * NDJSON), validation, idempotency, templates, the message log's reads and SSE progress.
 */
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashApiKey } from "../../src/auth/api-keys.js";
import type { RunningServer } from "../../src/server/serve.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { allMessages, call, startDeliveryServer, waitForBatch } from "./delivery-server.js";

let dir: string;
let server: RunningServer | undefined;

beforeEach(async () => {
  dir = await makeTempDir("spool-batches-");
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await removeTempDir(dir);
});

const recipients = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ id: `user-${from + i}`, vars: { name: `User ${from + i}` } }));

describe("batches on the mock channel", () => {
  it("10,000 recipients end to end: every recipient's final status is accounted for", async () => {
    server = await startDeliveryServer(dir, { delivery: { expandChunkSize: 2_500 } });
    const created = await call(server.url, "POST", "/v1/batches", { channel: "mock", template: { body: "Hi {{name}}" }, recipients: recipients(10_000) });
    expect(created.status).toBe(202);
    expect(created.body.total).toBe(10_000);
    const done = await waitForBatch(server.url, created.body.batchId, 15_000);
    expect(done).toMatchObject({ total: 10_000, progress: 1, expanded: 10_000, counts: { pending: 0, queued: 0, sent: 10_000, failed: 0 }, completedAt: expect.any(Number) });
    const entries = await allMessages(server.url, created.body.batchId);
    expect(entries).toHaveLength(10_000);
    expect(entries.map((e) => e.index)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(new Set(entries.map((e) => e.status))).toEqual(new Set(["sent"]));
    expect(entries[42]).toMatchObject({ recipientId: "user-42", channel: "mock", attempts: 1, queuedAt: expect.any(Number), sentAt: expect.any(Number) });
    expect(await server.spool.queue("delivery.mock").stats()).toMatchObject({ ready: 0, leased: 0, delayed: 0, dead: 0, totals: { published: 10_000, completed: 10_000 } });
  });

  it("a failing mock retries and fails some recipients; counts add up to the total", async () => {
    server = await startDeliveryServer(dir);
    const created = await call(server.url, "POST", "/v1/batches", { channel: "mock", mock: { failureRate: 0.5 }, template: { body: "Hi {{name}}" }, recipients: recipients(200) });
    const done = await waitForBatch(server.url, created.body.batchId);
    expect(done.counts.sent + done.counts.failed).toBe(200);
    expect(done.counts.failed).toBeGreaterThan(0); // 0.5³ of 200 fail all three attempts: ~25
    const failed = await allMessages(server.url, created.body.batchId, "failed");
    expect(failed).toHaveLength(done.counts.failed);
    expect(failed.every((e) => e.attempts === 3 && e.lastError.message.includes("simulated"))).toBe(true);
  });

  it("streams 50,000 recipients as NDJSON without a JSON body limit", async () => {
    server = await startDeliveryServer(dir, { bodyLimitBytes: 1024 * 1024, delivery: { expandChunkSize: 5_000 } });
    const lines = function* () {
      yield JSON.stringify({ channel: "mock", template: { body: "Hi {{name}}" }, idempotencyKey: "stream-1" }) + "\n";
      for (let i = 0; i < 50_000; i += 1000) yield recipients(1000, i).map((r) => JSON.stringify(r)).join("\n") + "\n";
    };
    const response = await fetch(`${server.url}/v1/batches`, {
      method: "POST",
      headers: { "content-type": "application/x-ndjson" },
      body: Readable.toWeb(Readable.from(lines())) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    const created = (await response.json()) as { batchId: string; total: number };
    expect(response.status).toBe(202);
    expect(created.total).toBe(50_000);
    const done = await waitForBatch(server.url, created.batchId, 20_000);
    expect(done.counts).toMatchObject({ sent: 50_000, pending: 0, queued: 0, failed: 0 });
    const page = await call(server.url, "GET", `/v1/batches/${created.batchId}/messages?limit=2&cursor=49998`);
    expect(page.body.items.map((e: { recipientId: string }) => e.recipientId)).toEqual(["user-49998", "user-49999"]);
    expect(page.body.nextCursor).toBeUndefined();
  });

  it("a missing variable is a 400 naming the recipient's index, and nothing is created", async () => {
    server = await startDeliveryServer(dir);
    const list = recipients(5);
    delete (list[3].vars as Record<string, unknown>).name;
    const refused = await call(server.url, "POST", "/v1/batches", { channel: "mock", template: { body: "Hi {{name}}" }, recipients: list });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("validation_failed");
    expect(refused.body.error.details).toEqual([{ path: "/recipients/3/vars", message: 'recipient 3 ("user-3"): missing variable "name"' }]);
    expect(refused.body.error.message).toMatch(/; no batch was created \(5 recipients checked\)$/);
    expect((await call(server.url, "GET", "/v1/stats/messages")).body.batches).toEqual([]);
    const one = await call(server.url, "POST", "/v1/batches", { channel: "mock", template: { body: "Hi {{name}}" }, recipients: [{ id: "solo" }] });
    expect(one.body.error.message).toMatch(/; no batch was created \(1 recipient checked\)$/);

    // The same in a stream: line 4 is recipient 2.
    const ndjson = [JSON.stringify({ channel: "mock", template: { body: "Hi {{name}}" } }), ...recipients(3).map((r, i) => JSON.stringify(i === 2 ? { id: r.id } : r))].join("\n");
    const streamed = await call(server.url, "POST", "/v1/batches", ndjson, { "content-type": "application/x-ndjson" });
    expect(streamed.status).toBe(400);
    expect(streamed.body.error.details).toEqual([{ path: "/recipients/2/vars", message: 'recipient 2 ("user-2"): missing variable "name"' }]);
    expect((await call(server.url, "GET", "/v1/stats/messages")).body.batches).toEqual([]);
    expect(await server.delivery.store.recipients.list()).toEqual([]);
  });

  it("an idempotencyKey makes a retried request answer the first batch", async () => {
    server = await startDeliveryServer(dir);
    const body = { channel: "mock", template: { body: "Hi {{name}}" }, recipients: recipients(3), idempotencyKey: "order-7" };
    const first = await call(server.url, "POST", "/v1/batches", body);
    const again = await call(server.url, "POST", "/v1/batches", body);
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ batchId: first.body.batchId, total: 3, duplicate: true });
    const { recipients: list, ...header } = body;
    const ndjson = [JSON.stringify(header), ...list.map((r) => JSON.stringify(r))].join("\n");
    const streamedAgain = await call(server.url, "POST", "/v1/batches", ndjson, { "content-type": "application/x-ndjson" });
    expect(streamedAgain.body).toEqual({ batchId: first.body.batchId, total: 3, duplicate: true });
    const [a, b] = await Promise.all([1, 2].map(() => call(server!.url, "POST", "/v1/batches", { ...body, idempotencyKey: "raced" })));
    expect(a.body.batchId).toBe(b.body.batchId);
    await waitForBatch(server.url, first.body.batchId);
    const stats = (await call(server.url, "GET", "/v1/stats/messages")).body;
    expect(stats.batches).toHaveLength(2);
    expect(stats.counts.sent + stats.counts.queued + stats.counts.pending).toBe(6);
  });

  it("templates: stored, listed variables, used by id, HTML-escaped unless escape is none", async () => {
    server = await startDeliveryServer(dir);
    const put = await call(server.url, "PUT", "/v1/templates/welcome", { subject: "Welcome {{user.name}}", body: "<p>{{note}}</p>{{#vip}} VIP {{level}}{{/vip}}", escape: "none" });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ id: "welcome", variables: ["note", "user.name"], escape: "none" });
    expect((await call(server.url, "GET", "/v1/templates/welcome")).body.variables).toEqual(["note", "user.name"]);
    expect((await call(server.url, "PUT", "/v1/templates/bad", { body: "{{#open}} never closed" })).status).toBe(400);
    expect((await call(server.url, "GET", "/v1/templates/nope")).status).toBe(404);

    const created = await call(server.url, "POST", "/v1/batches", {
      channel: "websocket",
      templateId: "welcome",
      recipients: [{ id: "ann", vars: { note: "a < b", user: { name: "Ann" } } }],
    });
    expect(created.status).toBe(202);
    const entry = server.delivery.log.get(`${created.body.batchId}_0`);
    expect(entry).toMatchObject({ recipientId: "ann", status: expect.stringMatching(/pending|queued/) });
    await server.delivery.expanded();
    expect(server.delivery.log.get(`${created.body.batchId}_0`)?.content).toEqual({ subject: "Welcome Ann", body: "<p>a < b</p>" });
    expect(server.delivery.log.undeliveredFor("ann", "websocket").map((e) => e.logId)).toEqual([`${created.body.batchId}_0`]);

    const missing = await call(server.url, "POST", "/v1/batches", { channel: "mock", templateId: "welcome", recipients: [{ id: "bo", vars: { note: "x" } }] });
    expect(missing.body.error.details[0].message).toContain('missing variable "user.name"');
    expect((await call(server.url, "POST", "/v1/batches", { channel: "mock", templateId: "nope", recipients: [{ id: "x" }] })).status).toBe(400);
  });

  it("reads: unknown batch 404, status filter and cursor paging, stats per batch", async () => {
    server = await startDeliveryServer(dir);
    expect((await call(server.url, "GET", "/v1/batches/01J0000000000000000000000Z")).status).toBe(404);
    const created = await call(server.url, "POST", "/v1/batches", { channel: "mock", template: { body: "Hi {{name}}" }, recipients: recipients(25) });
    await waitForBatch(server.url, created.body.batchId);
    const first = await call(server.url, "GET", `/v1/batches/${created.body.batchId}/messages?status=sent&limit=10`);
    expect(first.body.items).toHaveLength(10);
    expect(first.body.nextCursor).toBe("10");
    expect((await call(server.url, "GET", `/v1/batches/${created.body.batchId}/messages?status=failed`)).body).toEqual({ items: [] });
    expect((await call(server.url, "GET", `/v1/batches/${created.body.batchId}/messages?status=nope`)).status).toBe(400);
    const stats = (await call(server.url, "GET", "/v1/stats/messages")).body;
    expect(stats).toEqual({
      counts: { pending: 0, queued: 0, sent: 25, delivered: 0, read: 0, failed: 0 },
      batches: [{ id: created.body.batchId, channel: "mock", total: 25, counts: expect.objectContaining({ sent: 25 }), completedAt: expect.any(Number) }],
    });
  });

  it("SSE /v1/events streams batch.progress and batch.completed, and ends on shutdown", async () => {
    server = await startDeliveryServer(dir);
    const response = await fetch(`${server.url}/v1/events`);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const created = await call(server.url, "POST", "/v1/batches", { channel: "mock", template: { body: "Hi {{name}}" }, recipients: recipients(100) });
    let text = "";
    while (!text.includes("event: batch.completed")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended early: ${text}`);
      text += value;
    }
    expect(text).toContain("event: batch.progress");
    const completed = text.split("\n\n").find((block) => block.startsWith("event: batch.completed"))!;
    expect(JSON.parse(completed.split("data: ")[1])).toMatchObject({ id: created.body.batchId, progress: 1, counts: { sent: 100 } });
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return true;
    })();
    await server.close();
    expect(await ended).toBe(true);
  });

  it("refuses NDJSON on routes that take JSON, and a batch over 10,000 recipients in JSON", async () => {
    server = await startDeliveryServer(dir);
    expect((await call(server.url, "POST", "/v1/queues/q/messages", '{"body":1}', { "content-type": "application/x-ndjson" })).status).toBe(415);
    const tooMany = await call(server.url, "POST", "/v1/batches", { channel: "mock", template: { body: "x" }, recipients: Array.from({ length: 10_001 }, (_, i) => ({ id: `r${i}` })) });
    expect(tooMany.status).toBe(400);
  });

  it("scopes: templates and batches need publish, reads any valid key", async () => {
    const keys = { publisher: "pub-key-0123456789", consumer: "con-key-0123456789" };
    server = await startDeliveryServer(dir, {
      keys: [
        { name: "publisher", hash: hashApiKey(keys.publisher), scopes: ["publish"] },
        { name: "consumer", hash: hashApiKey(keys.consumer), scopes: ["consume"] },
      ],
    });
    const as = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
    const body = { channel: "mock", template: { body: "x" }, recipients: [{ id: "a" }] };
    expect((await call(server.url, "POST", "/v1/batches", body)).status).toBe(401);
    expect((await call(server.url, "POST", "/v1/batches", body, as(keys.consumer))).status).toBe(403);
    expect((await call(server.url, "PUT", "/v1/templates/t", { body: "x" }, as(keys.consumer))).status).toBe(403);
    expect((await call(server.url, "PUT", "/v1/templates/t", { body: "x" }, as(keys.publisher))).status).toBe(200);
    const created = await call(server.url, "POST", "/v1/batches", body, as(keys.publisher));
    expect(created.status).toBe(202);
    expect((await call(server.url, "GET", `/v1/batches/${created.body.batchId}`, undefined, as(keys.consumer))).status).toBe(200);
    expect((await call(server.url, "GET", "/v1/stats/messages")).status).toBe(401);
  });
});
