/**
 * Retention (`delivery.retentionMs`): a complete batch — its recipients' log, its template copy
 * and its idempotency key — is forgotten once it has been complete that long; a batch that is not
 * complete never is. Forgetting is durable: it survives a restart (the `forget` record replayed)
 * and a snapshot. Over real HTTP, against the app around the real delivery service on the journal.
 */
import type { FastifyInstance } from "fastify";
import { Value } from "@sinclair/typebox/value";
import { afterEach, beforeEach, expect, it } from "vitest";
import { ServerConfigSchema } from "../../src/config/server-config.js";
import { DeliveryService } from "../../src/delivery/delivery-service.js";
import { Spool } from "../../src/index.js";
import { createApp } from "../../src/server/app.js";
import { pollUntil } from "../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { call, waitForBatch } from "./delivery-server.js";

interface Running {
  url: string;
  spool: Spool;
  delivery: DeliveryService;
  app: FastifyInstance;
  close(): Promise<void>;
}

let dir: string;
let running: Running | undefined;

beforeEach(async () => {
  dir = await makeTempDir("spool-retention-");
});
afterEach(async () => {
  await running?.close();
  running = undefined;
  await removeTempDir(dir);
});

async function start(retentionMs?: number): Promise<Running> {
  const spool = await Spool.open({ dataDir: dir });
  const delivery = await DeliveryService.open({ spool, dataDir: dir, ...(retentionMs === undefined ? {} : { retentionMs }) });
  const app = await createApp({ spool, delivery });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address !== "object") throw new Error("no port");
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${address.port}`,
    spool,
    delivery,
    app,
    close: () =>
      (closed ??= (async () => {
        await app.close();
        await delivery.close();
        await spool.close();
      })()),
  };
}

async function restart(retentionMs?: number): Promise<Running> {
  await running?.close();
  running = await start(retentionMs);
  return running;
}

const mockBatch = (idempotencyKey: string) => ({
  channel: "mock",
  template: { body: "Hi {{name}}" },
  recipients: [{ id: "a", vars: { name: "A" } }, { id: "b", vars: { name: "B" } }],
  idempotencyKey,
});

it("forgets a complete batch after retentionMs (log, template copy, idempotency key), never an incomplete one, durably", async () => {
  let s = await restart(300);
  // Never complete: a websocket message held for a recipient who never connects.
  const held = await call(s.url, "POST", "/v1/batches", { channel: "websocket", template: { body: "Hello" }, recipients: [{ id: "offline" }] });
  expect(held.status).toBe(202);
  const done = await call(s.url, "POST", "/v1/batches", mockBatch("order-1"));
  const doneId: string = done.body.batchId;
  expect((await waitForBatch(s.url, doneId)).counts).toMatchObject({ sent: 2 });

  await pollUntil(async () => (await call(s.url, "GET", `/v1/batches/${doneId}`)).status === 404, { what: "the complete batch forgotten" });
  expect((await call(s.url, "GET", `/v1/batches/${doneId}/messages`)).status).toBe(404);
  expect(s.delivery.log.get(`${doneId}_0`)).toBeUndefined();
  const stats = (await call(s.url, "GET", "/v1/stats/messages")).body;
  expect(stats.batches.map((b: { id: string }) => b.id)).toEqual([held.body.batchId]);
  expect(stats.counts).toMatchObject({ sent: 0, queued: 1 });
  // The incomplete batch stays, however old.
  const heldSummary = (await call(s.url, "GET", `/v1/batches/${held.body.batchId}`)).body;
  expect(heldSummary).toMatchObject({ total: 1, counts: { queued: 1 } });
  expect(heldSummary.completedAt).toBeUndefined();
  // The idempotency key went with the batch: the same request now makes a new batch.
  const again = await call(s.url, "POST", "/v1/batches", mockBatch("order-1"));
  expect(again.body).toMatchObject({ duplicate: false });
  expect(again.body.batchId).not.toBe(doneId);

  // A restart replays the forget record; a snapshot no longer holds the batch. Retention is back
  // at its default (7 days): the new batch stays once complete.
  s = await restart();
  expect((await call(s.url, "GET", `/v1/batches/${doneId}`)).status).toBe(404);
  expect((await call(s.url, "GET", `/v1/batches/${held.body.batchId}`)).status).toBe(200);
  const second = await waitForBatch(s.url, again.body.batchId);
  expect(second.counts).toMatchObject({ sent: 2 });
  await s.delivery.store.snapshot();
  s = await restart();
  expect((await call(s.url, "GET", `/v1/batches/${doneId}`)).status).toBe(404);
  expect((await call(s.url, "GET", `/v1/batches/${again.body.batchId}`)).body).toMatchObject({ counts: { sent: 2 }, completedAt: second.completedAt });
  expect((await call(s.url, "POST", "/v1/batches", mockBatch("order-1"))).body).toEqual({ batchId: again.body.batchId, total: 2, duplicate: true });
});

it("forgets on start a batch whose retention passed while the server was down", async () => {
  let s = await restart();
  const done = await call(s.url, "POST", "/v1/batches", mockBatch("order-2"));
  await waitForBatch(s.url, done.body.batchId);
  s = await restart(1); // the restart itself takes longer than 1 ms
  await pollUntil(async () => (await call(s.url, "GET", `/v1/batches/${done.body.batchId}`)).status === 404, { what: "the batch forgotten after the restart" });
});

it("the server config takes delivery.retentionMs", () => {
  expect(Value.Check(ServerConfigSchema, { delivery: { retentionMs: 86_400_000 } })).toBe(true);
  expect(Value.Check(ServerConfigSchema, { delivery: { retentionMs: 0 } })).toBe(false);
});
