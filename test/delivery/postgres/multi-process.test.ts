/**
 * Batch delivery across processes on one PostgreSQL schema (issue 12, item 5): real servers in
 * child processes (pg-host.ts), a real database, SIGKILL for a crash.
 *   - a batch created through A's HTTP API is answered by B (status, recipient log, paging, filter);
 *   - the process expanding a 20,000-recipient batch is killed mid-expansion: the other takes the
 *     batch over, it completes, and every recipient is published and accounted for exactly once;
 *   - a recipient connected to A gets a message whose job B ran, acks on A, and B's status settles.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { pollUntil } from "../../helpers/poll-until.js";
import { dropSchemas, queryOnce, TEST_PG_URL, uniqueSchema } from "../../helpers/postgres.js";
import { allMessages, call, FAST_RETRIES, waitForBatch } from "../delivery-server.js";
import { TestClient } from "../realtime/realtime-server.js";
import { killPgHost, startPgHost, stopPgHosts } from "./pg-hosts.js";

const schemas: string[] = [];

function schema(): string {
  const name = uniqueSchema("spool_pgdel");
  schemas.push(name);
  return name;
}

afterEach(async () => {
  await stopPgHosts();
});
afterAll(async () => {
  await dropSchemas(schemas);
});

const query = queryOnce;

describe("batch delivery on PostgreSQL, across processes", () => {
  it("answers a batch created through one process's API from another (status, log, filter, paging)", async () => {
    const s = schema();
    const a = await startPgHost({ mode: "serve", connectionString: TEST_PG_URL, schema: s });
    const b = await startPgHost({ mode: "http-only", connectionString: TEST_PG_URL, schema: s });
    const template = await call(a.url, "PUT", "/v1/templates/greet", { body: "Hello {{name}}" });
    expect(template.status).toBe(200);
    // A template put on A is there on B.
    expect((await call(b.url, "GET", "/v1/templates/greet")).body).toMatchObject({ id: "greet", variables: ["name"] });

    const recipients = Array.from({ length: 250 }, (_, i) => ({ id: `r${i}`, vars: { name: `N${i}` } }));
    const accepted = await call(a.url, "POST", "/v1/batches", { templateId: "greet", recipients, channel: "mock", idempotencyKey: "k1" });
    expect(accepted.status).toBe(202);
    const batchId = accepted.body.batchId as string;

    // At once (no waiting for a notification): B catches up before it answers.
    const early = await call(b.url, "GET", `/v1/batches/${batchId}`);
    expect(early.status).toBe(200);
    expect(early.body).toMatchObject({ id: batchId, channel: "mock", total: 250, templateId: "greet", idempotencyKey: "k1" });
    // The same idempotency key through B answers A's batch.
    const again = await call(b.url, "POST", "/v1/batches", { templateId: "greet", recipients, channel: "mock", idempotencyKey: "k1" });
    expect(again.body).toEqual({ batchId, total: 250, duplicate: true });
    // Two requests with one new key racing through both processes make one batch.
    const racing = await Promise.all(
      [a, b, a, b].map((host) => call(host.url, "POST", "/v1/batches", { template: { body: "r" }, recipients: [{ id: "x" }], channel: "mock", idempotencyKey: "k2" })),
    );
    expect(new Set(racing.map((answer) => answer.body.batchId)).size).toBe(1);
    expect(racing.filter((answer) => answer.body.duplicate === false)).toHaveLength(1);

    const done = await waitForBatch(b.url, batchId);
    expect(done.counts).toMatchObject({ sent: 250, pending: 0, queued: 0, failed: 0 });
    expect(done.expanded).toBe(250);
    const fromA = await call(a.url, "GET", `/v1/batches/${batchId}`);
    expect(fromA.body).toEqual(done);

    const log = await allMessages(b.url, batchId);
    expect(log.map((e) => e.recipientId)).toEqual(recipients.map((r) => r.id));
    expect(log.every((e) => e.status === "sent" && e.attempts === 1)).toBe(true);
    const page = await call(b.url, "GET", `/v1/batches/${batchId}/messages?status=sent&limit=100&cursor=200`);
    expect(page.body.items.map((e: { index: number }) => e.index)).toEqual(Array.from({ length: 50 }, (_, i) => 200 + i));
    expect(page.body.nextCursor).toBeUndefined();

    // Failures recorded by A's workers: attempts and last errors, read on B.
    const failing = await call(a.url, "POST", "/v1/batches", { template: { body: "x" }, recipients: [{ id: "f1" }, { id: "f2" }], channel: "mock", mock: { failureRate: 1 } });
    const failed = await waitForBatch(b.url, failing.body.batchId as string);
    expect(failed.counts).toMatchObject({ failed: 2 });
    const failedLog = await allMessages(b.url, failing.body.batchId as string, "failed");
    expect(failedLog).toHaveLength(2);
    for (const entry of failedLog) {
      expect(entry.attempts).toBe(FAST_RETRIES.maxAttempts);
      expect(entry.lastError).toEqual({ message: expect.any(String), at: expect.any(Number) });
      expect(entry.failedAt).toEqual(expect.any(Number));
    }
    const stats = await call(b.url, "GET", "/v1/stats/messages");
    expect(stats.body.batches).toEqual([
      expect.objectContaining({ id: failing.body.batchId }),
      expect.objectContaining({ id: racing[0].body.batchId, total: 1 }),
      expect.objectContaining({ id: batchId, total: 250 }),
    ]);
  }, 60_000);

  it("a process killed mid-expansion: the other takes the batch over; every recipient published and accounted for once", async () => {
    const s = schema();
    const TOTAL = 20_000;
    const config = {
      // Small chunks and a queue bound, so the expansion takes seconds and can be cut in the middle;
      // short leases, so the dead process's jobs come back soon.
      delivery: { expandChunkSize: 100, concurrency: { mock: 64 } },
      queues: { "delivery.mock": { ...FAST_RETRIES, maxAttempts: 5, leaseMs: 2_000, maxLength: 1_500 } },
    };
    const a = await startPgHost({ mode: "serve", connectionString: TEST_PG_URL, schema: s, config });
    const b = await startPgHost({ mode: "serve", connectionString: TEST_PG_URL, schema: s, config });
    const lines = [JSON.stringify({ channel: "mock", template: { body: "Hi {{n}}" }, mock: { latencyMs: 5 } })];
    for (let i = 0; i < TOTAL; i++) lines.push(JSON.stringify({ id: `u${i}`, vars: { n: i } }));
    const accepted = await call(a.url, "POST", "/v1/batches", lines.join("\n"), { "content-type": "application/x-ndjson" });
    expect(accepted.status).toBe(202);
    const batchId = accepted.body.batchId as string;

    // Whoever holds the claim is expanding: kill it once it is well into the batch.
    const claim = await pollUntil(
      async () => {
        const rows = await query<{ owner: string | null; expanded_up_to: number }>(`SELECT owner, expanded_up_to FROM "${s}".delivery_expansions WHERE batch_id = $1`, [batchId]);
        return rows[0] && rows[0].owner !== null && rows[0].expanded_up_to >= 2_000 ? rows[0] : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 5, what: "the expansion to be under way" },
    );
    const [expanding, other] = claim.owner === a.owner ? [a, b] : [b, a];
    expect(claim.owner).toBe(expanding.owner);
    await killPgHost(expanding);
    const atKill = (await query<{ expanded_up_to: number }>(`SELECT expanded_up_to FROM "${s}".delivery_expansions WHERE batch_id = $1`, [batchId]))[0].expanded_up_to;
    expect(atKill).toBeLessThan(TOTAL); // killed mid-expansion

    const done = await waitForBatch(other.url, batchId, 120_000);
    expect(done.counts).toMatchObject({ sent: TOTAL, pending: 0, queued: 0, failed: 0 });
    expect(done.expanded).toBe(TOTAL);
    const owner = (await query<{ owner: string | null }>(`SELECT owner FROM "${s}".delivery_expansions WHERE batch_id = $1`, [batchId]))[0];
    expect(owner.owner).toBeNull(); // released by the process that finished it

    // Published once: one job per recipient, no chunk twice, none missing.
    const stats = await call(other.url, "GET", "/v1/queues/delivery.mock");
    expect(stats.body.totals.published).toBe(TOTAL);
    const log = await allMessages(other.url, batchId);
    expect(log).toHaveLength(TOTAL);
    expect(new Set(log.map((e) => e.recipientId)).size).toBe(TOTAL);
    expect(log.every((e, i) => e.recipientId === `u${i}` && e.status === "sent")).toBe(true);
    // Nothing left behind: the recipients' rows are gone once the batch is expanded.
    expect((await query<{ n: number }>(`SELECT count(*)::int AS n FROM "${s}".delivery_recipients`))[0].n).toBe(0);
  }, 180_000);

  it("a recipient connected to one process gets the message whose job another ran, and an ack there settles it", async () => {
    const s = schema();
    const a = await startPgHost({ mode: "http-only", connectionString: TEST_PG_URL, schema: s }); // no delivery workers: never runs a job
    const b = await startPgHost({ mode: "serve", connectionString: TEST_PG_URL, schema: s });
    // A token from B opens a stream on A: the secret is the database's, one for every process.
    const token = await call(b.url, "POST", "/v1/recipients/alice/token", {});
    expect(token.status).toBe(200);
    const client = await TestClient.open(`${a.url.replace("http", "ws")}/v1/stream?token=${encodeURIComponent(token.body.token as string)}`, {});
    try {
      const accepted = await call(b.url, "POST", "/v1/batches", {
        template: { body: "hi {{name}}" },
        recipients: [
          { id: "alice", vars: { name: "Alice" } },
          { id: "bob", vars: { name: "Bob" } },
        ],
        channel: "websocket",
      });
      expect(accepted.status).toBe(202);
      const batchId = accepted.body.batchId as string;
      await client.until((frames) => frames.some((f) => f.type === "message"), "the message B's job handed over", 15_000);
      const message = client.messages()[0];
      expect(message).toMatchObject({ batchId, id: `${batchId}_0`, content: { body: "hi Alice" }, attempt: 1 });
      await pollUntil(async () => (await call(b.url, "GET", `/v1/batches/${batchId}`)).body.counts.sent === 1, { timeoutMs: 10_000, what: "sent, seen from B" });

      client.send({ type: "ack", id: message.id });
      const settled = await pollUntil(
        async () => {
          const entry = (await allMessages(b.url, batchId)).find((e) => e.recipientId === "alice");
          return entry?.status === "delivered" ? entry : undefined;
        },
        { timeoutMs: 10_000, what: "the ack on A to settle the entry, seen from B" },
      );
      expect(settled.deliveredAt).toEqual(expect.any(Number));
      // Bob never connected: held, queued.
      expect((await call(a.url, "GET", `/v1/batches/${batchId}`)).body.counts).toMatchObject({ delivered: 1, queued: 1 });

      // Bob connects to A later: the held message comes from the log.
      const bobToken = await call(a.url, "POST", "/v1/recipients/bob/token", {});
      const bob = await TestClient.open(`${a.url.replace("http", "ws")}/v1/stream?token=${encodeURIComponent(bobToken.body.token as string)}`, {});
      await bob.until((frames) => frames.some((f) => f.type === "message"), "bob's held message");
      bob.send({ type: "read", id: `${batchId}_1` });
      const done = await waitForBatch(b.url, batchId, 10_000);
      expect(done.counts).toMatchObject({ delivered: 1, read: 1 });
      bob.ws.close();
    } finally {
      client.ws.close();
    }
  }, 60_000);
});
