/**
 * SpoolClient against the real server over real HTTP: the library's calls, answered the
 * library's way (same result shapes, same error classes and codes).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "../../src/auth/api-keys.js";
import {
  ConflictError,
  LeaseLostError,
  NotFoundError,
  SpoolClient,
  SpoolError,
  UnavailableError,
  ValidationError,
  type ErrorCode,
} from "../../src/index.js";
import { uniqueQueueName } from "../helpers/poll-until.js";
import { startRemoteServer, type RemoteServer } from "./remote-server.js";

let server: RemoteServer;
let client: SpoolClient;
let q: string;

beforeEach(async () => {
  server = await startRemoteServer();
  client = server.client();
  q = uniqueQueueName("client");
});
afterEach(async () => server.close());

/** The SpoolError `action` rejects with; fails the test otherwise. */
async function rejection(action: () => Promise<unknown>, code: ErrorCode): Promise<SpoolError> {
  const error = await action().then(
    () => expect.fail(`expected a SpoolError "${code}", but the call succeeded`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SpoolError);
  expect((error as SpoolError).code).toBe(code);
  return error as SpoolError;
}

describe("publish and lease", () => {
  it("publish → lease → ack round-trips the body and options, and completes the message", async () => {
    type Email = { to: string; tags: string[] };
    const emails = client.queue<Email>(q);
    const published = await emails.publish({ to: "a@x.io", tags: ["x"] }, { priority: 7, headers: { trace: "t1" }, groupKey: "g", correlationId: "c1" });
    expect(published).toEqual({ id: expect.any(String), replaced: false, duplicate: false });

    const [message] = await emails.lease({ max: 10, leaseMs: 5_000 });
    expect(message).toMatchObject({
      id: published.id,
      queue: q,
      body: { to: "a@x.io", tags: ["x"] },
      headers: { trace: "t1" },
      priority: 7,
      groupKey: "g",
      correlationId: "c1",
      attempt: 1,
      leaseToken: expect.any(String),
    });
    await emails.ack(message.id, message.leaseToken);
    expect(await client.status(message.id)).toMatchObject({ id: message.id, state: "completed", attempt: 1 });
    // The library on the server sees what the client did.
    expect((await server.spool.queue(q).stats()).totals).toMatchObject({ published: 1, completed: 1 });
  });

  it("publishMany enqueues a batch in order; dedup and idempotency flags come back", async () => {
    const queue = client.queue<number>(q);
    const results = await queue.publishMany([{ body: 1 }, { body: 2, priority: 9 }, { body: 3, dedupKey: "d" }]);
    expect(results).toHaveLength(3);
    expect(await queue.publishMany([])).toEqual([]);
    expect(await queue.publish(4, { dedupKey: "d" })).toEqual({ id: results[2].id, replaced: true, duplicate: false });
    const first = await client.publish(q, 5, { idempotencyKey: "k" });
    expect(await client.publish(q, 6, { idempotencyKey: "k" })).toEqual({ id: first.id, replaced: false, duplicate: true });

    const leased = await queue.lease({ max: 10 });
    expect(leased.map((m) => m.body)).toEqual([2, 1, 4, 5]);
  });

  it("availableAt given as a Date is sent as epoch ms", async () => {
    const at = new Date(Date.now() + 60_000);
    const { id } = await client.queue(q).publish("later", { availableAt: at });
    expect(await client.status(id)).toMatchObject({ state: "delayed", availableAt: at.getTime() });
  });

  it("a long-poll lease waits for a message and answers when one is published; an aborted one answers []", async () => {
    const queue = client.queue<string>(q);
    expect(await queue.lease({ waitMs: 100 })).toEqual([]); // held, then nothing

    const waiting = queue.lease({ waitMs: 10_000 });
    await queue.publish("now");
    const [message] = await waiting;
    expect(message.body).toBe("now");

    const controller = new AbortController();
    const aborted = queue.lease({ waitMs: 10_000, signal: controller.signal });
    controller.abort();
    expect(await aborted).toEqual([]);
  });
});

describe("settling leases", () => {
  it("nack retries with backoff or a given delay; release gives the attempt back", async () => {
    const queue = client.queue<string>(q);
    await queue.setOptions({ maxAttempts: 3, backoff: { type: "fixed", baseMs: 60_000, jitter: "none" } });
    const { id } = await queue.publish("x");

    let [message] = await queue.lease();
    const failed = await queue.nack(message.id, message.leaseToken, { error: new Error("boom") });
    expect(failed).toMatchObject({ state: "delayed" });
    expect(await client.status(id)).toMatchObject({ state: "delayed", attempt: 1, lastError: { message: "boom", kind: "error" } });

    const second = await client.publish(q, "y");
    [message] = await queue.lease();
    expect(message.id).toBe(second.id);
    expect(await client.nack(message.id, message.leaseToken, { release: true })).toMatchObject({ state: "ready" });
    expect(await client.status(second.id)).toMatchObject({ state: "ready", attempt: 0 });

    [message] = await queue.lease();
    expect(await queue.nack(message.id, message.leaseToken, { delayMs: 0, error: "try again" })).toMatchObject({ state: "ready" });
  });

  it("extend moves leaseUntil; a stale token fails with LeaseLostError and changes nothing", async () => {
    const queue = client.queue<string>(q);
    await queue.publish("x");
    const [message] = await queue.lease({ leaseMs: 1_000 });
    const { leaseUntil } = await queue.extend(message.id, message.leaseToken, 60_000);
    expect(leaseUntil).toBeGreaterThan(message.leaseUntil);

    const stale = `${message.leaseToken}-stale`;
    for (const call of [() => queue.ack(message.id, stale), () => queue.nack(message.id, stale), () => client.extend(message.id, stale, 1_000)]) {
      const error = await rejection(call, "lease_lost");
      expect(error).toBeInstanceOf(LeaseLostError);
    }
    expect(await client.status(message.id)).toMatchObject({ state: "leased", attempt: 1, leaseUntil });
    await client.ack(message.id, message.leaseToken);
    await rejection(() => client.ack(message.id, message.leaseToken), "lease_lost");
  });

  it("ackMany settles a batch; a stale token fails only its own item", async () => {
    const queue = client.queue<number>(q);
    await queue.publishMany([{ body: 1 }, { body: 2 }]);
    const [a, b] = await queue.lease({ max: 2 });
    const outcomes = await queue.ackMany([
      { id: a.id, leaseToken: a.leaseToken },
      { id: b.id, leaseToken: "stale" },
    ]);
    expect(outcomes).toEqual([
      { id: a.id, ok: true },
      { id: b.id, ok: false, code: "lease_lost" },
    ]);
    expect(await client.ackMany([])).toEqual([]);
  });
});

describe("errors", () => {
  it("unknown queues, messages, exchanges and dead letters: NotFoundError, or the library's undefined / false", async () => {
    const missing = client.queue(uniqueQueueName("missing"));
    expect(await rejection(() => missing.stats(), "not_found")).toBeInstanceOf(NotFoundError);
    await rejection(() => missing.pause(), "not_found");
    await rejection(() => missing.purge(), "not_found");
    expect(await missing.delete()).toBe(false);
    expect(await client.status("01ARZ3NDEKTSV4RRFFQ69G5FAV")).toBeUndefined();
    expect(await client.deleteExchange("no-such-exchange")).toBe(false);
    await rejection(() => client.publishToExchange("no-such-exchange", "k", 1), "not_found");
    await client.publish(q, 1);
    expect(await client.queue(q).deleteDead("01ARZ3NDEKTSV4RRFFQ69G5FAV")).toBe(false);
    await rejection(() => client.scaleWorkers(q, 2), "not_found"); // the server runs no worker on it
  });

  it("validation errors carry the server's details, with the path of each bad field", async () => {
    const queue = client.queue(q);
    const one = await rejection(() => queue.publish(1, { priority: "high" as unknown as number }), "validation_failed");
    expect(one).toBeInstanceOf(ValidationError);
    expect(one.details.map((d) => d.path)).toContain("/priority");

    const batch = await rejection(() => queue.publishMany([{ body: 1 }, { body: 2, priority: 12 }, { body: 3, delayMs: -1 }]), "validation_failed");
    expect(batch.details.map((d) => d.path)).toEqual(expect.arrayContaining(["/messages/1/priority", "/messages/2/delayMs"]));
    expect((await server.spool.queue(q).stats()).ready).toBe(0); // nothing enqueued

    await rejection(() => queue.lease({ max: 5000 }), "validation_failed");
    await rejection(() => queue.setOptions({ maxAttempts: 0 }), "validation_failed");
    // Checked here before anything is sent, as the library does.
    expect(() => client.queue("bad name!")).toThrow(ValidationError);
    expect(() => client.queue(q).work(() => {}, { concurrency: 0 })).toThrow(ValidationError);
  });

  it("conflict and too_large map to their classes", async () => {
    await client.declareExchange("orders", "topic");
    const conflict = await rejection(() => client.declareExchange("orders", "fanout"), "conflict");
    expect(conflict).toBeInstanceOf(ConflictError);
    await rejection(() => client.snapshot(), "conflict"); // the memory store keeps no snapshots
    await rejection(() => client.publish(q, "x".repeat(300 * 1024)), "too_large");
  });

  it("a server that cannot be reached, or does not answer in time, is `unavailable`", async () => {
    const port = new URL(server.url).port;
    await server.stop();
    const offline = new SpoolClient({ url: `http://127.0.0.1:${port}` });
    const error = await rejection(() => offline.publish(q, 1), "unavailable");
    expect(error).toBeInstanceOf(UnavailableError);
    await rejection(() => offline.health(), "unavailable");
    await offline.close();
    await server.restart();
    expect(await client.health()).toEqual({ status: "ready" });

    // A server that accepts the request and never answers.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { port: silentPort } = silent.address() as AddressInfo;
      const impatient = new SpoolClient({ url: `http://127.0.0.1:${silentPort}`, timeoutMs: 50 });
      const timedOut = await rejection(() => impatient.publish(q, 1), "unavailable");
      expect(timedOut.message).toMatch(/no answer within 50 ms/);
      await impatient.close();
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("a long-poll's waitMs is added to the client's timeout", async () => {
    // The server holds this empty long-poll longer than the client's own timeout.
    const impatient = server.client({ timeoutMs: 1_000 });
    expect(await impatient.queue(q).lease({ waitMs: 1_500 })).toEqual([]);
  });

  it("a closed client refuses new work", async () => {
    const own = server.client();
    await own.close();
    expect(() => own.queue(q)).toThrow(SpoolError);
    await rejection(() => own.publish(q, 1), "unavailable");
  });

  it("constructor options are checked", () => {
    expect(() => new SpoolClient({ url: "not a url" })).toThrow(ValidationError);
    expect(() => new SpoolClient({ url: "ftp://x" })).toThrow(ValidationError);
    expect(() => new SpoolClient({ url: server.url, timeoutMs: 0 })).toThrow(ValidationError);
    expect(() => new SpoolClient({ url: server.url, nope: 1 } as never)).toThrow(ValidationError);
  });
});

describe("admin, dead letters and routing", () => {
  it("queue admin: setOptions, info, stats, queues, pause, resume, purge, delete", async () => {
    const queue = client.queue<number>(q);
    expect(await queue.setOptions({ maxAttempts: 2, leaseMs: 7_000 })).toMatchObject({ name: q, paused: false, options: { maxAttempts: 2, leaseMs: 7_000 } });
    expect(await queue.info()).toMatchObject({ name: q, options: { leaseMs: 7_000 } });
    await queue.publishMany([{ body: 1 }, { body: 2 }, { body: 3, delayMs: 60_000 }]);
    expect(await queue.stats()).toMatchObject({ name: q, ready: 2, delayed: 1, totals: { published: 3 }, rates: expect.any(Object), circuits: [] });
    expect((await client.queues()).map((s) => s.name)).toContain(q);

    await queue.pause();
    expect(await queue.lease()).toEqual([]);
    expect((await queue.stats()).paused).toBe(true);
    await queue.resume();
    expect(await queue.purge()).toBe(3);
    expect(await queue.delete()).toBe(true);
    await rejection(() => queue.stats(), "not_found");
  });

  it("dead letters: list (paged), replay, delete one, purge", async () => {
    const queue = client.queue<number>(q);
    await queue.setOptions({ maxAttempts: 1 });
    const published = await queue.publishMany([1, 2, 3].map((body) => ({ body })));
    for (const message of await queue.lease({ max: 3 })) await queue.nack(message.id, message.leaseToken, { error: { message: "no", kind: "permanent" } });

    const first = await queue.deadLetters({ limit: 2 });
    expect(first.items.map((d) => d.body)).toEqual([1, 2]);
    expect(first.items[0]).toMatchObject({ reason: "permanent_error", lastError: { message: "no", kind: "permanent" } });
    const rest = await queue.deadLetters({ cursor: first.nextCursor });
    expect(rest.items.map((d) => d.body)).toEqual([3]);
    expect(rest.nextCursor).toBeUndefined();

    expect(await queue.replayDead({ ids: [published[0].id] })).toBe(1);
    expect(await client.status(published[0].id)).toMatchObject({ state: "ready", attempt: 0 });
    expect(await queue.deleteDead(published[1].id)).toBe(true);
    expect(await queue.purgeDead()).toBe(1);
    expect((await queue.deadLetters()).items).toEqual([]);
  });

  it("exchanges: declare, bind, publish (one copy per matching queue), unbind, delete; the default exchange", async () => {
    const a = uniqueQueueName("ex-a");
    const b = uniqueQueueName("ex-b");
    await client.declareExchange("events", "topic");
    await client.bind("events", a, "order.*");
    await client.bind("events", b, "#");
    expect(await client.exchanges()).toContainEqual({ name: "events", type: "topic", bindings: expect.arrayContaining([{ queue: a, bindingKey: "order.*" }]) });

    const routed = await client.publishToExchange("events", "order.created", { n: 1 }, { priority: 3 });
    expect(routed.routed).toBe(2);
    expect(routed.messages.map((m) => m.queue).sort()).toEqual([a, b].sort());
    expect((await client.publishToExchange("events", "user.created", 1)).routed).toBe(1);

    expect(await client.unbind("events", a, "order.*")).toBe(true);
    expect(await client.unbind("events", a, "order.*")).toBe(false);
    expect(await client.deleteExchange("events")).toBe(true);

    const direct = await client.publishToExchange("", a, "to the queue");
    expect(direct).toMatchObject({ routed: 1, messages: [{ queue: a, id: expect.any(String) }] });
    await expect(client.declareExchange("", "direct")).rejects.toBeInstanceOf(ValidationError);
  });
});

describe("auth", () => {
  it("sends the API key as a bearer token; no key or a wrong one is `unauthorized`, a missing scope `forbidden`", async () => {
    const consumerKey = generateApiKey();
    const adminKey = generateApiKey();
    const secured = await startRemoteServer({
      keys: [
        { name: "consumer", hash: hashApiKey(consumerKey), scopes: ["consume"] },
        { name: "admin", hash: hashApiKey(adminKey), scopes: ["admin"] },
      ],
    });
    try {
      const admin = secured.client({ apiKey: adminKey });
      await admin.publish(q, "x");
      const consumer = secured.client({ apiKey: consumerKey });
      const [message] = await consumer.queue(q).lease();
      await consumer.ack(message.id, message.leaseToken);
      await rejection(() => consumer.publish(q, "y"), "forbidden");
      await rejection(() => secured.client().publish(q, "y"), "unauthorized");
      await rejection(() => secured.client({ apiKey: "spool_wrong" }).publish(q, "y"), "unauthorized");
    } finally {
      await secured.close();
    }
  });
});
