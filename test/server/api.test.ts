/** The HTTP API end to end over real HTTP: each route does what docs/http-api.md promises. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pollUntil, uniqueQueueName } from "../helpers/poll-until.js";
import { startTestServer, type TestServer } from "../helpers/http-server.js";

let server: TestServer;
let q: string;

beforeEach(async () => {
  server = await startTestServer();
  q = uniqueQueueName("api");
});
afterEach(async () => server.close());

async function leaseOne(queue = q, body: object = {}) {
  const answer = await server.call("POST", `/v1/queues/${queue}/lease`, body);
  expect(answer.status).toBe(200);
  return answer.body.messages as Array<{ id: string; leaseToken: string; body: unknown; attempt: number; [key: string]: unknown }>;
}

describe("publish → lease → ack", () => {
  it("round-trips a message with its options, and completes it", async () => {
    const published = await server.call("POST", `/v1/queues/${q}/messages`, {
      body: { to: "a@x.io", n: [1, 2] },
      priority: 7,
      headers: { trace: "t1" },
      groupKey: "g",
      correlationId: "c1",
    });
    expect(published.status).toBe(201);
    expect(published.body).toEqual({ id: expect.any(String), replaced: false, duplicate: false });

    const [message] = await leaseOne(q, { max: 10, leaseMs: 5000 });
    expect(message).toMatchObject({
      id: published.body.id,
      queue: q,
      body: { to: "a@x.io", n: [1, 2] },
      headers: { trace: "t1" },
      priority: 7,
      groupKey: "g",
      correlationId: "c1",
      attempt: 1,
      maxAttempts: 5,
    });
    expect(message.leaseUntil).toBeGreaterThan(Date.now());

    const ack = await server.call("POST", `/v1/messages/${message.id}/ack`, { leaseToken: message.leaseToken });
    expect(ack.status).toBe(204);
    const status = await server.call("GET", `/v1/messages/${message.id}`);
    expect(status.body).toMatchObject({ id: message.id, queue: q, state: "completed", attempt: 1 });
    const again = await server.call("POST", `/v1/messages/${message.id}/ack`, { leaseToken: message.leaseToken });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("lease_lost");
  });

  it("reports dedup replacement and idempotent duplicates", async () => {
    const first = await server.call("POST", `/v1/queues/${q}/messages`, { body: 1, dedupKey: "d" });
    const second = await server.call("POST", `/v1/queues/${q}/messages`, { body: 2, dedupKey: "d" });
    expect(second.body).toEqual({ id: first.body.id, replaced: true, duplicate: false });
    const a = await server.call("POST", `/v1/queues/${q}/messages`, { body: 3, idempotencyKey: "k" });
    const b = await server.call("POST", `/v1/queues/${q}/messages`, { body: 4, idempotencyKey: "k" });
    expect(b.body).toEqual({ id: a.body.id, replaced: false, duplicate: true });
    const messages = await leaseOne(q, { max: 10 });
    expect(messages.map((m) => m.body)).toEqual([2, 3]);
  });

  it("accepts availableAt as epoch ms or RFC 3339 and delays the message", async () => {
    const future = Date.now() + 60_000;
    await server.call("POST", `/v1/queues/${q}/messages`, { body: "ms", availableAt: future });
    await server.call("POST", `/v1/queues/${q}/messages`, { body: "iso", availableAt: new Date(future).toISOString() });
    await server.call("POST", `/v1/queues/${q}/messages`, { body: "delay", delayMs: 60_000 });
    expect(await leaseOne()).toEqual([]);
    const stats = await server.call("GET", `/v1/queues/${q}`);
    expect(stats.body).toMatchObject({ ready: 0, delayed: 3 });
  });

  it("publishes a batch atomically and in order", async () => {
    const messages = Array.from({ length: 250 }, (_, i) => ({ body: { i } }));
    const answer = await server.call("POST", `/v1/queues/${q}/messages/batch`, { messages });
    expect(answer.status).toBe(201);
    expect(answer.body.results).toHaveLength(250);
    expect(new Set(answer.body.results.map((r: { id: string }) => r.id)).size).toBe(250);
    const leased = await leaseOne(q, { max: 1000 });
    expect(leased.map((m) => (m.body as { i: number }).i)).toEqual(messages.map((m) => m.body.i));
  });

  it("nacks into a retry, then into the dead letters, and replays", async () => {
    await server.call("PUT", `/v1/queues/${q}`, { maxAttempts: 2, backoff: { type: "fixed", baseMs: 0, jitter: "none" } });
    const { body } = await server.call("POST", `/v1/queues/${q}/messages`, { body: "x" });
    const [first] = await leaseOne();
    const retry = await server.call("POST", `/v1/messages/${first.id}/nack`, { leaseToken: first.leaseToken, error: { message: "smtp down" } });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ state: "ready" });
    const [second] = await leaseOne();
    expect(second.attempt).toBe(2);
    const dead = await server.call("POST", `/v1/messages/${second.id}/nack`, { leaseToken: second.leaseToken, error: { message: "still down" } });
    expect(dead.body).toMatchObject({ state: "dead", deadReason: "max_attempts" });

    const list = await server.call("GET", `/v1/queues/${q}/dead?limit=10`);
    expect(list.body.items).toEqual([expect.objectContaining({ id: body.id, body: "x", reason: "max_attempts", lastError: { message: "still down", kind: "error" } })]);
    const status = await server.call("GET", `/v1/messages/${body.id}`);
    expect(status.body).toMatchObject({ state: "dead", deadReason: "max_attempts" });

    const replay = await server.call("POST", `/v1/queues/${q}/dead/replay`, { ids: [body.id] });
    expect(replay.body).toEqual({ replayed: 1 });
    const [replayed] = await leaseOne();
    expect(replayed).toMatchObject({ id: body.id, attempt: 1 });
  });

  it("a permanent error kind dead-letters at once; release does not use up an attempt", async () => {
    await server.call("POST", `/v1/queues/${q}/messages`, { body: 1 });
    const [m] = await leaseOne();
    const released = await server.call("POST", `/v1/messages/${m.id}/nack`, { leaseToken: m.leaseToken, release: true });
    expect(released.body.state).toBe("ready");
    const [again] = await leaseOne();
    expect(again.attempt).toBe(1);
    const dead = await server.call("POST", `/v1/messages/${again.id}/nack`, { leaseToken: again.leaseToken, error: { message: "bad address", kind: "permanent" } });
    expect(dead.body).toMatchObject({ state: "dead", deadReason: "permanent_error" });
  });

  it("extends a lease, and settles many acks in one request", async () => {
    await server.call("POST", `/v1/queues/${q}/messages/batch`, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    const leased = await leaseOne(q, { max: 3, leaseMs: 1000 });
    const extended = await server.call("POST", `/v1/messages/${leased[0].id}/extend`, { leaseToken: leased[0].leaseToken, leaseMs: 60_000 });
    expect(extended.status).toBe(200);
    expect(extended.body.leaseUntil).toBeGreaterThan(Date.now() + 50_000);
    const acks = await server.call("POST", "/v1/acks", {
      acks: [
        { id: leased[0].id, leaseToken: leased[0].leaseToken },
        { id: leased[1].id, leaseToken: "stale-token" },
        { id: leased[2].id, leaseToken: leased[2].leaseToken },
      ],
    });
    expect(acks.status).toBe(200);
    expect(acks.body.results).toEqual([
      { id: leased[0].id, ok: true },
      { id: leased[1].id, ok: false, code: "lease_lost" },
      { id: leased[2].id, ok: true },
    ]);
    const stats = await server.call("GET", `/v1/queues/${q}`);
    expect(stats.body).toMatchObject({ leased: 1, totals: { completed: 2 } });
  });
});

describe("queues", () => {
  it("creates, updates, lists, pauses, resumes, purges and deletes", async () => {
    const created = await server.call("PUT", `/v1/queues/${q}`, { maxAttempts: 3, leaseMs: 10_000 });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ name: q, paused: false, options: { maxAttempts: 3, leaseMs: 10_000 } });
    const updated = await server.call("PUT", `/v1/queues/${q}`, { maxAttempts: 4 });
    expect(updated.body.options).toMatchObject({ maxAttempts: 4, leaseMs: 10_000 });

    await server.call("POST", `/v1/queues/${q}/messages/batch`, { messages: [{ body: 1 }, { body: 2, delayMs: 60_000 }] });
    const list = await server.call("GET", "/v1/queues");
    expect(list.body.queues).toEqual([expect.objectContaining({ name: q, ready: 1, delayed: 1, options: expect.objectContaining({ maxAttempts: 4 }) })]);

    expect((await server.call("POST", `/v1/queues/${q}/pause`)).body).toEqual({ name: q, paused: true });
    expect(await leaseOne()).toEqual([]);
    expect((await server.call("GET", `/v1/queues/${q}`)).body.paused).toBe(true);
    expect((await server.call("POST", `/v1/queues/${q}/resume`)).body).toEqual({ name: q, paused: false });
    expect((await server.call("POST", `/v1/queues/${q}/purge`)).body).toEqual({ purged: 2 });

    expect((await server.call("DELETE", `/v1/queues/${q}`)).status).toBe(204);
    const gone = await server.call("GET", `/v1/queues/${q}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("not_found");
    expect((await server.call("DELETE", `/v1/queues/${q}`)).status).toBe(404);
  });

  it("reports stats with totals, the oldest ready age and publish rates", async () => {
    await server.call("POST", `/v1/queues/${q}/messages`, { body: 1 });
    const stats = await server.call("GET", `/v1/queues/${q}`);
    expect(stats.body).toMatchObject({
      name: q,
      ready: 1,
      delayed: 0,
      leased: 0,
      dead: 0,
      paused: false,
      totals: { published: 1, completed: 0, retried: 0, dead: 0 },
      rates: { publishedPerSec: expect.any(Number), completedPerSec: expect.any(Number) },
      circuits: [],
    });
    expect(stats.body.oldestReadyAgeMs).toBeGreaterThanOrEqual(0);
  });

  it("a full queue with overflow block answers 429 queue_full with Retry-After at once", async () => {
    await server.call("PUT", `/v1/queues/${q}`, { maxLength: 1, overflow: "block" });
    expect((await server.call("POST", `/v1/queues/${q}/messages`, { body: 1 })).status).toBe(201);
    for (const [path, body] of [
      [`/v1/queues/${q}/messages`, { body: 2 }],
      [`/v1/queues/${q}/messages/batch`, { messages: [{ body: 3 }] }],
      [`/v1/exchanges//publish`, { routingKey: q, body: 4 }],
    ] as const) {
      const refused = await server.call("POST", path, body);
      expect(refused.status, path).toBe(429);
      expect(refused.body.error.code).toBe("queue_full");
      expect(refused.headers.get("retry-after")).toBe("1");
    }
    await server.call("PUT", `/v1/queues/${q}`, { overflow: "reject" });
    const rejected = await server.call("POST", `/v1/queues/${q}/messages`, { body: 5 });
    expect(rejected.status).toBe(429);
    expect(rejected.headers.get("retry-after")).toBeNull();
  });

  it("purges and deletes dead letters", async () => {
    await server.call("PUT", `/v1/queues/${q}`, { maxAttempts: 1 });
    await server.call("POST", `/v1/queues/${q}/messages/batch`, { messages: [{ body: 1 }, { body: 2 }, { body: 3 }] });
    for (const m of await leaseOne(q, { max: 3 })) {
      await server.call("POST", `/v1/messages/${m.id}/nack`, { leaseToken: m.leaseToken });
    }
    const page1 = await server.call("GET", `/v1/queues/${q}/dead?limit=2`);
    expect(page1.body.items).toHaveLength(2);
    const page2 = await server.call("GET", `/v1/queues/${q}/dead?limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`);
    expect(page2.body.items).toHaveLength(1);
    expect(page2.body.nextCursor).toBeUndefined();
    expect((await server.call("DELETE", `/v1/queues/${q}/dead/${page2.body.items[0].id}`)).status).toBe(204);
    expect((await server.call("DELETE", `/v1/queues/${q}/dead/${page2.body.items[0].id}`)).status).toBe(404);
    expect((await server.call("DELETE", `/v1/queues/${q}/dead`)).body).toEqual({ purged: 2 });
  });
});

describe("exchanges", () => {
  it("declares, binds, routes by topic, unbinds and deletes", async () => {
    const other = uniqueQueueName("api-other");
    const declared = await server.call("PUT", "/v1/exchanges/events", { type: "topic" });
    expect(declared.body).toEqual({ name: "events", type: "topic", bindings: [] });
    expect((await server.call("PUT", "/v1/exchanges/events", { type: "fanout" })).status).toBe(409);
    expect((await server.call("POST", "/v1/exchanges/events/bindings", { queue: q, bindingKey: "order.*" })).status).toBe(201);
    await server.call("POST", "/v1/exchanges/events/bindings", { queue: other, bindingKey: "#" });
    const routed = await server.call("POST", "/v1/exchanges/events/publish", { routingKey: "order.created", body: { n: 1 } });
    expect(routed.status).toBe(201);
    expect(routed.body.routed).toBe(2);
    const notOrders = await server.call("POST", "/v1/exchanges/events/publish", { routingKey: "user.created", body: { n: 2 } });
    expect(notOrders.body.messages.map((m: { queue: string }) => m.queue)).toEqual([other]);
    expect((await leaseOne(q, { max: 10 })).map((m) => m.body)).toEqual([{ n: 1 }]);

    const list = await server.call("GET", "/v1/exchanges");
    expect(list.body.exchanges).toEqual([{ name: "events", type: "topic", bindings: [{ queue: q, bindingKey: "order.*" }, { queue: other, bindingKey: "#" }] }]);
    expect((await server.call("DELETE", "/v1/exchanges/events/bindings", { queue: q, bindingKey: "order.*" })).status).toBe(204);
    expect((await server.call("DELETE", "/v1/exchanges/events/bindings", { queue: q, bindingKey: "order.*" })).status).toBe(404);
    expect((await server.call("DELETE", "/v1/exchanges/events")).status).toBe(204);
    expect((await server.call("POST", "/v1/exchanges/events/publish", { body: 1 })).status).toBe(404);
  });
});

describe("admin, health and docs", () => {
  it("scales this server's in-process workers", async () => {
    expect((await server.call("POST", `/v1/admin/workers/${q}/scale`, { concurrency: 4 })).status).toBe(404);
    const worker = server.spool.queue(q).work(async () => {}, { concurrency: 1 });
    const scaled = await server.call("POST", `/v1/admin/workers/${q}/scale`, { concurrency: 8 });
    expect(scaled.body).toEqual({ queue: q, workers: 1, concurrency: 8 });
    expect(worker.concurrency).toBe(8);
    await worker.close();
  });

  it("answers liveness and readiness, and fails readiness once shutting down", async () => {
    expect((await server.call("GET", "/health/live")).body).toEqual({ status: "ok" });
    expect((await server.call("GET", "/health/ready")).body).toEqual({ status: "ready" });
    server.shutdown.abort();
    const ready = await server.call("GET", "/health/ready");
    expect(ready.status).toBe(503);
    expect(ready.body.error.code).toBe("unavailable");
  });

  it("serves an OpenAPI document of every route and a page that renders it", async () => {
    const doc = await server.call("GET", "/openapi.json");
    expect(doc.body.openapi).toMatch(/^3\./);
    const publish = doc.body.paths["/v1/queues/{q}/messages"].post;
    expect(publish.requestBody.content["application/json"].schema.properties.priority).toMatchObject({ type: "integer", minimum: 0, maximum: 9 });
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/v1/queues/{q}/lease", "/v1/acks", "/v1/exchanges/{x}/publish", "/v1/admin/snapshot"]));
    const page = await server.call("GET", "/docs/");
    expect(page.status).toBe(200);
    expect(page.text).toContain("swagger-ui");
  });
});

/** Counts the store's active watches: a parked long-poll holds one. */
function countWatches(): () => number {
  const store = server.spool.store;
  const watch = store.watch.bind(store);
  let active = 0;
  store.watch = (queue, listener) => {
    active++;
    const unwatch = watch(queue, listener);
    return () => {
      active--;
      unwatch();
    };
  };
  return () => active;
}

describe("long-poll lease", () => {
  it("returns as soon as a message is published", async () => {
    const parked = countWatches();
    const waiting = server.call("POST", `/v1/queues/${q}/lease`, { waitMs: 20_000 });
    await pollUntil(() => parked() === 1, { what: "the poll to park" });
    await server.call("POST", `/v1/queues/${q}/messages`, { body: "wake" });
    const answer = await waiting;
    expect(answer.body.messages.map((m: { body: unknown }) => m.body)).toEqual(["wake"]);
  });

  it("answers an empty list when the wait runs out", async () => {
    const answer = await server.call("POST", `/v1/queues/${q}/lease`, { waitMs: 50 });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ messages: [] });
  });

  it("ends waiting polls at shutdown", async () => {
    const parked = countWatches();
    const waiting = server.call("POST", `/v1/queues/${q}/lease`, { waitMs: 30_000 });
    await pollUntil(() => parked() === 1, { what: "the poll to park" });
    server.shutdown.abort();
    expect((await waiting).body).toEqual({ messages: [] });
  });

  it("a poll whose client went away takes nothing", async () => {
    const parked = countWatches();
    const gone = new AbortController();
    const waiting = server.call("POST", `/v1/queues/${q}/lease`, { waitMs: 30_000 }, { signal: gone.signal });
    await pollUntil(() => parked() === 1, { what: "the poll to park" });
    gone.abort();
    await expect(waiting).rejects.toThrow();
    // Once the server noticed (the poll stopped watching), a publish stays for the next consumer.
    await pollUntil(() => parked() === 0, { what: "the server to drop the abandoned poll" });
    await server.call("POST", `/v1/queues/${q}/messages`, { body: "kept" });
    const leased = await pollUntil(async () => {
      const [m] = await leaseOne();
      return m;
    }, { what: "the message to be leasable" });
    expect(leased.body).toBe("kept");
  });

  it("a thousand idle long-polls cost no CPU", async () => {
    const parked = countWatches();
    const polls = Array.from({ length: 1000 }, () => server.call("POST", `/v1/queues/${q}/lease`, { waitMs: 30_000 }));
    await pollUntil(() => parked() === 1000, { what: "every poll to park", timeoutMs: 20_000 });
    const before = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 300)); // a measurement window, not synchronisation
    const used = process.cpuUsage(before);
    // Parked polls wait on timers and wake-ups only: nothing spins while they wait.
    expect((used.user + used.system) / 1000).toBeLessThan(150);
    await server.call("POST", `/v1/queues/${q}/messages/batch`, { messages: Array.from({ length: 1000 }, (_, i) => ({ body: i })) });
    const answers = await Promise.all(polls);
    expect(answers.reduce((n, a) => n + a.body.messages.length, 0)).toBe(1000);
  });
});
