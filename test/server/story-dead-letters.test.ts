/**
 * Over HTTP: a consumer reports progress and log lines (`POST /v1/messages/:id/progress`), acks
 * with a `result`, rejects (`nack` with `reject: true`), and `GET /v1/messages/:id` shows the
 * story; a queue's `deadLetter` option (PUT /v1/queues/:q) routes dead messages with x-death-*
 * headers (docs/http-api.md).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { STORY_LIMITS } from "../../src/index.js";
import { uniqueQueueName } from "../helpers/poll-until.js";
import { startTestServer, type TestServer } from "../helpers/http-server.js";

let server: TestServer;
let q: string;

beforeEach(async () => {
  server = await startTestServer();
  q = uniqueQueueName("story");
});
afterEach(async () => server.close());

async function leaseOne(queue = q) {
  const answer = await server.call("POST", `/v1/queues/${queue}/lease`, { max: 1 });
  expect(answer.status).toBe(200);
  return (answer.body.messages as Array<{ id: string; leaseToken: string; body: unknown; headers: Record<string, string> }>)[0];
}

describe("progress, log and result over HTTP", () => {
  it("progress and log lines show in the status while leased; the ack's result with the completed status", async () => {
    await server.call("POST", `/v1/queues/${q}/messages`, { body: { n: 1 } });
    const m = await leaseOne();
    const progress = await server.call("POST", `/v1/messages/${m.id}/progress`, { leaseToken: m.leaseToken, progress: { pct: 40 }, log: ["step 1", "step 2"] });
    expect(progress.status).toBe(204);
    expect((await server.call("POST", `/v1/messages/${m.id}/progress`, { leaseToken: m.leaseToken, log: "step 3" })).status).toBe(204);
    const running = await server.call("GET", `/v1/messages/${m.id}`);
    expect(running.body).toMatchObject({ state: "leased", progress: { pct: 40 } });
    expect(running.body.log.map((entry: { line: string }) => entry.line)).toEqual(["step 1", "step 2", "step 3"]);
    expect(running.body.log[0].at).toEqual(expect.any(Number));

    const ack = await server.call("POST", `/v1/messages/${m.id}/ack`, { leaseToken: m.leaseToken, result: { ok: true, pages: [1, 2] } });
    expect(ack.status).toBe(204);
    const done = await server.call("GET", `/v1/messages/${m.id}`);
    expect(done.body).toMatchObject({ state: "completed", result: { ok: true, pages: [1, 2] }, progress: { pct: 40 } });
  });

  it("POST /v1/acks takes a result per item", async () => {
    await server.call("POST", `/v1/queues/${q}/messages/batch`, { messages: [{ body: 1 }, { body: 2 }] });
    const leased = (await server.call("POST", `/v1/queues/${q}/lease`, { max: 2 })).body.messages as Array<{ id: string; leaseToken: string }>;
    const acks = await server.call("POST", "/v1/acks", { acks: [{ ...pick(leased[0]), result: "first" }, pick(leased[1])] });
    expect(acks.body.results.map((r: { ok: boolean }) => r.ok)).toEqual([true, true]);
    expect((await server.call("GET", `/v1/messages/${leased[0].id}`)).body.result).toBe("first");
    expect((await server.call("GET", `/v1/messages/${leased[1].id}`)).body.result).toBeUndefined();
  });

  it("refuses a stale token (409 lease_lost), too large a progress or result (413), and a bad log (400)", async () => {
    await server.call("POST", `/v1/queues/${q}/messages`, { body: 1 });
    const m = await leaseOne();
    const stale = await server.call("POST", `/v1/messages/${m.id}/progress`, { leaseToken: "nope", progress: 1 });
    expect([stale.status, stale.body.error.code]).toEqual([409, "lease_lost"]);
    const big = await server.call("POST", `/v1/messages/${m.id}/progress`, { leaseToken: m.leaseToken, progress: "x".repeat(STORY_LIMITS.maxProgressBytes) });
    expect([big.status, big.body.error.code]).toEqual([413, "too_large"]);
    const badLog = await server.call("POST", `/v1/messages/${m.id}/progress`, { leaseToken: m.leaseToken, log: [1, 2] });
    expect([badLog.status, badLog.body.error.code]).toEqual([400, "validation_failed"]);
    const bigResult = await server.call("POST", `/v1/messages/${m.id}/ack`, { leaseToken: m.leaseToken, result: "r".repeat(STORY_LIMITS.maxResultBytes) });
    expect([bigResult.status, bigResult.body.error.code]).toEqual([413, "too_large"]);
    expect((await server.call("GET", `/v1/messages/${m.id}`)).body.state).toBe("leased");
  });
});

describe("dead-letter routing and reject over HTTP", () => {
  it("a rejected message is dead at once (reason rejected) and copied to the deadLetter queue with x-death-* headers", async () => {
    const dlq = uniqueQueueName("dlq");
    const put = await server.call("PUT", `/v1/queues/${q}`, { maxAttempts: 5, deadLetter: { queue: dlq } });
    expect(put.status).toBe(200);
    expect((await server.call("GET", `/v1/queues/${q}`)).body.options.deadLetter).toEqual({ queue: dlq });
    const { body: published } = await server.call("POST", `/v1/queues/${q}/messages`, { body: { order: 1 }, headers: { tenant: "t" } });
    const m = await leaseOne();
    const nack = await server.call("POST", `/v1/messages/${m.id}/nack`, { leaseToken: m.leaseToken, reject: true, error: { message: "unknown order" } });
    expect(nack.body).toMatchObject({ state: "dead", deadReason: "rejected" });
    const dead = await server.call("GET", `/v1/queues/${q}/dead`);
    expect(dead.body.items.map((d: { id: string; reason: string }) => [d.id, d.reason])).toEqual([[published.id, "rejected"]]);
    const copy = await leaseOne(dlq);
    expect(copy.body).toEqual({ order: 1 });
    expect(copy.headers).toEqual({
      tenant: "t",
      "x-death-reason": "rejected",
      "x-death-attempts": "1",
      "x-death-last-error": "unknown order",
      "x-death-queue": q,
      "x-death-id": published.id,
      "x-death-path": q,
    });
  });

  it("routes through an exchange target; refuses a malformed target and reject with release", async () => {
    const x = uniqueQueueName("dlx");
    const bound = uniqueQueueName("bound");
    expect((await server.call("PUT", `/v1/exchanges/${x}`, { type: "topic" })).status).toBeLessThan(300);
    expect((await server.call("POST", `/v1/exchanges/${x}/bindings`, { queue: bound, bindingKey: "failed.#" })).status).toBeLessThan(300);
    await server.call("PUT", `/v1/queues/${q}`, { deadLetter: { exchange: x, routingKey: "failed.orders" } });
    const bad = await server.call("PUT", `/v1/queues/${q}`, { deadLetter: { queue: q, exchange: x } });
    expect([bad.status, bad.body.error.code]).toEqual([400, "validation_failed"]);
    await server.call("POST", `/v1/queues/${q}/messages`, { body: 2 });
    const m = await leaseOne();
    const both = await server.call("POST", `/v1/messages/${m.id}/nack`, { leaseToken: m.leaseToken, reject: true, release: true });
    expect([both.status, both.body.error.code]).toEqual([400, "validation_failed"]);
    await server.call("POST", `/v1/messages/${m.id}/nack`, { leaseToken: m.leaseToken, error: { message: "fatal", kind: "permanent" } });
    const copy = await leaseOne(bound);
    expect(copy.headers["x-death-reason"]).toBe("permanent_error");
  });
});

function pick(m: { id: string; leaseToken: string }) {
  return { id: m.id, leaseToken: m.leaseToken };
}
