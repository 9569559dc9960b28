/**
 * Keys limited to some queues (`queues` globs) reach nothing else: batches belong to their
 * channel's queue `delivery.<channel>`, exchanges to the queues bound to them, and what belongs to
 * no queue (templates, recipient tokens, snapshots, metrics) is for keys without globs. Every
 * refusal is a 403 that changed nothing; lists show only what the key reaches.
 * (test/server/auth.test.ts walks the whole route × scope × glob table of docs/http-api.md.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey, type ApiKeyConfig } from "../../src/auth/api-keys.js";
import { startTestServer, type HttpAnswer, type TestServer } from "../helpers/http-server.js";
import { uniqueQueueName } from "../helpers/poll-until.js";

const KEYS = {
  admin: generateApiKey(),
  /** publish + consume on `sec.a.*`: the key of the issue. */
  sec: generateApiKey(),
  /** publish + consume on `sec.a.*` and the mock channel's queue. */
  secMock: generateApiKey(),
  /** admin on `sec.a.*`. */
  secAdmin: generateApiKey(),
};

const KEY_CONFIG: ApiKeyConfig[] = [
  { name: "admin", hash: hashApiKey(KEYS.admin), scopes: ["admin"] },
  { name: "sec", hash: hashApiKey(KEYS.sec), scopes: ["publish", "consume"], queues: ["sec.a.*"] },
  { name: "sec-mock", hash: hashApiKey(KEYS.secMock), scopes: ["publish", "consume"], queues: ["sec.a.*", "delivery.mock"] },
  { name: "sec-admin", hash: hashApiKey(KEYS.secAdmin), scopes: ["admin"], queues: ["sec.a.*"] },
];

let server: TestServer;

beforeAll(async () => {
  // No channel workers: batches stay where the expander leaves them, so nothing moves under a test.
  server = await startTestServer({
    keys: KEY_CONFIG,
    delivery: { workers: false, progressIntervalMs: 5 },
    metrics: () => ({ contentType: "text/plain; version=0.0.4", render: async () => "spool_up 1\n" }),
  });
});

afterAll(async () => {
  await server?.close();
});

const as = (key: string, body?: unknown, headers: Record<string, string> = {}) => ({ key, body, headers });

function send(method: string, path: string, call: { key: string; body?: unknown; headers?: Record<string, string> }): Promise<HttpAnswer> {
  const raw = typeof call.body === "string";
  return server.call(method, path, call.body, { key: call.key, headers: call.headers, raw });
}

function expectForbidden(answer: HttpAnswer): void {
  expect({ status: answer.status, code: answer.body?.error?.code }, answer.text.slice(0, 300)).toEqual({ status: 403, code: "forbidden" });
  expect(Object.keys(answer.body)).toEqual(["error"]);
}

/** What an unlimited admin sees of batches, templates, queues and exchanges. */
async function observe(): Promise<unknown> {
  const admin = as(KEYS.admin);
  const stats = (await send("GET", "/v1/stats/messages", admin)).body as { batches: Array<{ id: string; channel: string; total: number }> };
  const queues = (await send("GET", "/v1/queues", admin)).body as { queues: Array<{ name: string; totals: unknown; ready: number }> };
  const exchanges = (await send("GET", "/v1/exchanges", admin)).body;
  return {
    batches: stats.batches.map(({ id, channel, total }) => ({ id, channel, total })),
    queues: queues.queues.map(({ name, totals, ready }) => ({ name, totals, ready })),
    exchanges,
    templates: server.delivery?.store.state.templates,
  };
}

/** Sends, expects 403 forbidden, and checks that nothing changed. */
async function expectRefused(method: string, path: string, call: { key: string; body?: unknown; headers?: Record<string, string> }): Promise<HttpAnswer> {
  const before = structuredClone(await observe());
  const answer = await send(method, path, call);
  expectForbidden(answer);
  await server.delivery?.expanded();
  expect(await observe()).toEqual(before);
  return answer;
}

const recipients = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `user-${i}`, vars: { name: `User ${i}` } }));
const batchBody = (channel: "mock" | "websocket", extra: Record<string, unknown> = {}) => ({ channel, template: { body: "Hi {{name}}" }, recipients: recipients(3), ...extra });
const ndjson = (channel: "mock" | "websocket") =>
  [JSON.stringify({ channel, template: { body: "Hi {{name}}" } }), ...recipients(3).map((r) => JSON.stringify(r))].join("\n") + "\n";
const NDJSON = { "content-type": "application/x-ndjson" };

/** A batch made with the unlimited admin key; resolves once it is expanded. */
async function batch(channel: "mock" | "websocket", extra: Record<string, unknown> = {}): Promise<string> {
  const created = await send("POST", "/v1/batches", as(KEYS.admin, batchBody(channel, extra)));
  expect(created.status, created.text).toBe(202);
  await server.delivery?.expanded();
  return created.body.batchId as string;
}

/** A live `GET /v1/events` stream. */
async function openEvents(key: string) {
  const abort = new AbortController();
  const response = await fetch(`${server.url}/v1/events`, { headers: { authorization: `Bearer ${key}` }, signal: abort.signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  return {
    status: response.status,
    text: () => text,
    /** Reads until `predicate(text)` holds. */
    async until(predicate: (text: string) => boolean): Promise<void> {
      while (!predicate(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the event stream ended: ${text}`);
        text += value;
      }
    },
    async close(): Promise<void> {
      abort.abort();
      await reader.cancel().catch(() => undefined);
    },
  };
}

describe("batches belong to their channel's queue, delivery.<channel>", () => {
  it("refuses a batch, JSON or NDJSON, to a key whose globs miss the channel's queue: 403, no batch, no job", async () => {
    await expectRefused("POST", "/v1/batches", as(KEYS.sec, batchBody("mock")));
    await expectRefused("POST", "/v1/batches", as(KEYS.sec, ndjson("mock"), NDJSON));
    await expectRefused("POST", "/v1/batches", as(KEYS.secMock, batchBody("websocket")));
    await expectRefused("POST", "/v1/batches", as(KEYS.secMock, ndjson("websocket"), NDJSON));
  });

  it("accepts a batch, JSON or NDJSON, on a channel whose queue the key reaches", async () => {
    for (const call of [as(KEYS.secMock, batchBody("mock")), as(KEYS.secMock, ndjson("mock"), NDJSON)]) {
      const created = await send("POST", "/v1/batches", call);
      expect(created.status, created.text).toBe(202);
      expect(created.body).toMatchObject({ total: 3, duplicate: false });
    }
  });

  it("answers a repeated idempotency key only with a batch in reach", async () => {
    const key = `order-${uniqueQueueName("k")}`;
    await batch("websocket", { idempotencyKey: key });
    // The key names a websocket batch: its id and size are not for a key limited to the mock channel.
    await expectRefused("POST", "/v1/batches", as(KEYS.secMock, batchBody("mock", { idempotencyKey: key })));
    await expectRefused("POST", "/v1/batches", as(KEYS.secMock, `${JSON.stringify({ channel: "mock", template: { body: "x" }, idempotencyKey: key })}\n{"id":"u"}\n`, NDJSON));

    const mine = `order-${uniqueQueueName("k")}`;
    const first = await send("POST", "/v1/batches", as(KEYS.secMock, batchBody("mock", { idempotencyKey: mine })));
    const again = await send("POST", "/v1/batches", as(KEYS.secMock, batchBody("mock", { idempotencyKey: mine })));
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ batchId: first.body.batchId, total: 3, duplicate: true });
  });

  it("shows a batch and its per-recipient log only to a key that reaches its channel", async () => {
    const theirs = await batch("websocket");
    const mine = await batch("mock");
    for (const key of [KEYS.sec, KEYS.secMock, KEYS.secAdmin]) {
      expectForbidden(await send("GET", `/v1/batches/${theirs}`, as(key)));
      expectForbidden(await send("GET", `/v1/batches/${theirs}/messages`, as(key)));
    }
    expectForbidden(await send("GET", `/v1/batches/${mine}/messages`, as(KEYS.sec)));
    expect((await send("GET", `/v1/batches/${mine}`, as(KEYS.secMock))).body).toMatchObject({ id: mine, channel: "mock", total: 3 });
    const log = await send("GET", `/v1/batches/${mine}/messages`, as(KEYS.secMock));
    expect(log.body.items).toHaveLength(3);
    // Unknown stays 404 for every key: a limited key learns nothing more than before.
    expect((await send("GET", "/v1/batches/nosuchbatch", as(KEYS.secMock))).status).toBe(404);
  });

  it("counts in /v1/stats/messages only the batches a key reaches", async () => {
    const theirs = await batch("websocket");
    const mine = await batch("mock");
    const all = await send("GET", "/v1/stats/messages", as(KEYS.admin));
    const ids = (answer: HttpAnswer) => (answer.body.batches as Array<{ id: string }>).map((b) => b.id);
    expect(ids(all)).toEqual(expect.arrayContaining([theirs, mine]));

    const limited = await send("GET", "/v1/stats/messages", as(KEYS.secMock));
    expect(limited.status).toBe(200);
    expect(ids(limited)).toContain(mine);
    expect((limited.body.batches as Array<{ channel: string }>).every((b) => b.channel === "mock")).toBe(true);
    // The overall counts are those of the batches shown.
    const total = (limited.body.batches as Array<{ total: number }>).reduce((sum, b) => sum + b.total, 0);
    expect(Object.values(limited.body.counts as Record<string, number>).reduce((sum, n) => sum + n, 0)).toBe(total);

    const none = await send("GET", "/v1/stats/messages", as(KEYS.sec));
    expect(none.body.batches).toEqual([]);
    expect(Object.values(none.body.counts as Record<string, number>).every((n) => n === 0)).toBe(true);
  });

  it("streams /v1/events only of the batches a key reaches", async () => {
    const watcher = await openEvents(KEYS.admin);
    const limited = await openEvents(KEYS.secMock);
    try {
      expect(limited.status).toBe(200);
      const theirs = await batch("websocket");
      // The admin stream has the websocket batch's event: the limited stream was sent whatever it
      // was going to get of it before the next batch's.
      await watcher.until((text) => text.includes(theirs));
      const mine = await batch("mock");
      await limited.until((text) => text.includes(mine));
      expect(limited.text()).not.toContain(theirs);
    } finally {
      await watcher.close();
      await limited.close();
    }
  });
});

describe("exchanges belong to the queues bound to them", () => {
  /** An exchange bound to `queues`, made with the library. */
  async function exchange(type: "direct" | "fanout" | "topic", ...queues: string[]): Promise<string> {
    const name = uniqueQueueName("sec.x");
    await server.spool.declareExchange(name, type);
    for (const queue of queues) await server.spool.bind(name, queue, "k");
    return name;
  }
  const secA = () => uniqueQueueName("sec.a.q");
  const secB = () => uniqueQueueName("sec.b.q");

  it("refuses an admin key with globs to declare an exchange bound to a queue out of reach", async () => {
    const theirs = await exchange("topic", secB());
    await expectRefused("PUT", `/v1/exchanges/${theirs}`, as(KEYS.secAdmin, { type: "topic" }));
    // Another type is a conflict for a key that reaches the exchange; this key learns nothing of it.
    await expectRefused("PUT", `/v1/exchanges/${theirs}`, as(KEYS.secAdmin, { type: "fanout" }));
    const mixed = await exchange("direct", secA(), secB());
    await expectRefused("PUT", `/v1/exchanges/${mixed}`, as(KEYS.secAdmin, { type: "direct" }));

    const fresh = uniqueQueueName("sec.x");
    expect((await send("PUT", `/v1/exchanges/${fresh}`, as(KEYS.secAdmin, { type: "direct" }))).status).toBe(200);
    const mine = await exchange("direct", secA());
    expect((await send("PUT", `/v1/exchanges/${mine}`, as(KEYS.secAdmin, { type: "direct" }))).status).toBe(200);
  });

  it("refuses to bind a reachable queue to an exchange that also routes out of reach", async () => {
    // Bound to team B's exchange, a queue of team A would get a copy of each of its messages.
    const theirs = await exchange("fanout", secB());
    await expectRefused("POST", `/v1/exchanges/${theirs}/bindings`, as(KEYS.secAdmin, { queue: secA(), bindingKey: "k" }));
    const mine = await exchange("fanout", secA());
    await expectRefused("POST", `/v1/exchanges/${mine}/bindings`, as(KEYS.secAdmin, { queue: secB(), bindingKey: "k" }));
    const added = await send("POST", `/v1/exchanges/${mine}/bindings`, as(KEYS.secAdmin, { queue: secA(), bindingKey: "k" }));
    expect(added.status, added.text).toBe(201);
  });

  it("lists only the exchanges a key reaches", async () => {
    const mine = await exchange("direct", secA(), secA());
    const empty = await exchange("fanout");
    const theirs = await exchange("direct", secB());
    const mixed = await exchange("topic", secA(), secB());
    const names = (answer: HttpAnswer) => (answer.body.exchanges as Array<{ name: string }>).map((x) => x.name);

    expect(names(await send("GET", "/v1/exchanges", as(KEYS.admin)))).toEqual(expect.arrayContaining([mine, empty, theirs, mixed]));
    for (const key of [KEYS.sec, KEYS.secAdmin]) {
      const listed = await send("GET", "/v1/exchanges", as(key));
      expect(listed.status).toBe(200);
      expect(names(listed)).toEqual(expect.arrayContaining([mine, empty]));
      expect(names(listed)).not.toContain(theirs);
      expect(names(listed)).not.toContain(mixed);
      const bound = (listed.body.exchanges as Array<{ bindings: Array<{ queue: string }> }>).flatMap((x) => x.bindings.map((b) => b.queue));
      expect(bound.every((queue) => queue.startsWith("sec.a."))).toBe(true);
    }
  });

  it("refuses to unbind or delete where any bound queue is out of reach", async () => {
    const queue = secA();
    const mixed = await exchange("direct", queue, secB());
    await expectRefused("DELETE", `/v1/exchanges/${mixed}/bindings`, as(KEYS.secAdmin, { queue, bindingKey: "k" }));
    await expectRefused("DELETE", `/v1/exchanges/${mixed}`, as(KEYS.secAdmin));

    const mine = await exchange("direct", queue);
    expect((await send("DELETE", `/v1/exchanges/${mine}/bindings`, as(KEYS.secAdmin, { queue, bindingKey: "k" }))).status).toBe(204);
    expect((await send("DELETE", `/v1/exchanges/${mine}`, as(KEYS.secAdmin))).status).toBe(204);
  });
});

describe("what belongs to no queue is for keys without globs", () => {
  it("lets a key with globs read templates, not write them: every batch may use a template", async () => {
    const id = uniqueQueueName("greeting");
    expect((await send("PUT", `/v1/templates/${id}`, as(KEYS.admin, { body: "Hi {{name}}" }))).status).toBe(200);
    for (const key of [KEYS.sec, KEYS.secMock, KEYS.secAdmin]) {
      await expectRefused("PUT", `/v1/templates/${id}`, as(key, { body: "Pay to {{iban}}" }));
      await expectRefused("PUT", `/v1/templates/${uniqueQueueName("new")}`, as(key, { body: "x" }));
      const read = await send("GET", `/v1/templates/${id}`, as(key));
      expect(read.status).toBe(200);
      expect(read.body.body).toBe("Hi {{name}}");
    }
    // A template in reach of a batch: the key uses it by id on its own channel.
    const created = await send("POST", "/v1/batches", as(KEYS.secMock, { channel: "mock", templateId: id, recipients: recipients(2) }));
    expect(created.status, created.text).toBe(202);
  });

  it("refuses recipient tokens, snapshots and metrics to an admin key with globs", async () => {
    // A recipient token reads that recipient's messages of every batch; a snapshot and the metrics are the whole server's.
    await expectRefused("POST", "/v1/recipients/user-1/token", as(KEYS.secAdmin, {}));
    await expectRefused("POST", "/v1/admin/snapshot", as(KEYS.secAdmin));
    await expectRefused("GET", "/metrics", as(KEYS.secAdmin));
    expect((await send("POST", "/v1/recipients/user-1/token", as(KEYS.admin, {}))).status).toBe(200);
    expect((await send("GET", "/metrics", as(KEYS.admin))).status).toBe(200);
  });
});
