/**
 * Security of `spool serve`: API keys in `Authorization: Bearer`, scopes per route, queue-name
 * globs per key, keys held only as hashes, and the refusal to listen beyond loopback without keys.
 * Every refused request is checked to have changed nothing.
 */
import { createServer, type Server } from "node:net";
import { inspect } from "node:util";
import { Writable } from "node:stream";
import { Value } from "@sinclair/typebox/value";
import { pino, type Logger } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyRing, HASH_PATTERN, generateApiKey, hashApiKey, type ApiKeyConfig, type Scope } from "../../src/auth/api-keys.js";
import { ApiKeyConfigSchema, serverDefaults, type ResolvedServerConfig } from "../../src/config/server-config.js";
import { SpoolError } from "../../src/core/errors.js";
import { Spool } from "../../src/index.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import { startTestServer, type HttpAnswer, type TestServer } from "../helpers/http-server.js";
import { uniqueQueueName } from "../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

// ── keys and server ──────────────────────────────────────────────────────────────────────

const KEYS = {
  admin: generateApiKey(),
  publisher: generateApiKey(),
  consumer: generateApiKey(),
  /** publish + consume, only queues matching `emails.*`. */
  mailer: generateApiKey(),
  /** admin, only queues matching `emails.*`. */
  mailAdmin: generateApiKey(),
  /** consume, only the queue named exactly `a.b` (a glob with a regex metacharacter). */
  dotted: generateApiKey(),
};

/** What the configuration holds: names, hashes, scopes, globs — never a key. */
const KEY_CONFIG: ApiKeyConfig[] = [
  { name: "admin", hash: hashApiKey(KEYS.admin), scopes: ["admin"] },
  { name: "publisher", hash: hashApiKey(KEYS.publisher), scopes: ["publish"] },
  { name: "consumer", hash: hashApiKey(KEYS.consumer), scopes: ["consume"] },
  { name: "mailer", hash: hashApiKey(KEYS.mailer), scopes: ["publish", "consume"], queues: ["emails.*"] },
  { name: "mail-admin", hash: hashApiKey(KEYS.mailAdmin), scopes: ["admin"], queues: ["emails.*"] },
  { name: "dotted", hash: hashApiKey(KEYS.dotted), scopes: ["consume"], queues: ["a.b"] },
];

const BODY_LIMIT_BYTES = 64 * 1024;

let server: TestServer;
let spool: Spool;

beforeAll(async () => {
  server = await startTestServer({
    keys: KEY_CONFIG,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    metrics: () => ({ contentType: "text/plain; version=0.0.4", render: async () => "spool_up 1\n" }),
  });
  spool = server.spool;
});

afterAll(async () => {
  await server?.close();
});

// Each case makes its own queues and exchanges; dropping them keeps `observe` small.
afterEach(async () => {
  for (const exchange of await spool.exchanges()) await spool.deleteExchange(exchange.name);
  for (const info of await spool.queues()) await spool.store.deleteQueue(info.name);
});

/** Every queue (options, stats, dead letters), every exchange, and the given messages' statuses. */
async function observe(ids: string[] = []): Promise<unknown> {
  const queues = [];
  for (const info of (await spool.queues()).sort((a, b) => a.name.localeCompare(b.name))) {
    const { oldestReadyAgeMs: _age, ...stats } = await spool.store.stats(info.name);
    queues.push({ info, stats, dead: await spool.store.listDead(info.name, { limit: 1000 }) });
  }
  const exchanges = (await spool.exchanges()).sort((a, b) => a.name.localeCompare(b.name));
  return { queues, exchanges, statuses: await Promise.all(ids.map((id) => spool.status(id))) };
}

function expectError(answer: HttpAnswer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body?.error?.code }, answer.text.slice(0, 300)).toEqual({ status, code });
  expect(Object.keys(answer.body)).toEqual(["error"]);
  expect(answer.text).not.toContain("    at ");
}

/** Sends a request and expects it refused with `status`/`code`, with nothing changed. */
async function expectRefused(ids: string[], status: 401 | 403, code: "unauthorized" | "forbidden", send: () => Promise<HttpAnswer>): Promise<HttpAnswer> {
  const before = await observe(ids);
  const answer = await send();
  expectError(answer, status, code);
  expect(await observe(ids)).toEqual(before);
  return answer;
}

// ── fixtures, made through the library ───────────────────────────────────────────────────

async function leasedMessage(queue = uniqueQueueName("auth")) {
  const { id } = await spool.publish(queue, { n: 1 });
  const [leased] = await spool.store.lease(queue, { max: 1, leaseMs: 600_000 });
  expect(leased.id).toBe(id);
  return { queue, id, token: leased.leaseToken };
}

async function deadLetter(queue = uniqueQueueName("auth")) {
  spool.queue(queue, { maxAttempts: 1 });
  const { id, token } = await leasedMessage(queue);
  await spool.nack(id, token, { error: { message: "boom", kind: "permanent" } });
  return { queue, id };
}

async function boundExchange(queue = uniqueQueueName("auth")) {
  const exchange = uniqueQueueName("x");
  await spool.queue(queue).info();
  await spool.declareExchange(exchange, "fanout");
  await spool.bind(exchange, queue);
  return { exchange, queue };
}

// ── every route, with the scope it needs ─────────────────────────────────────────────────

type Access = "none" | "read" | Scope;

interface Prepared {
  url: string;
  body?: unknown;
  /** Messages whose status must not move when the request is refused. */
  ids?: string[];
  /** Cleanup after the case. */
  after?: () => Promise<void>;
}

interface AuthRoute {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** As /openapi.json spells it (hidden routes: their literal path). */
  path: string;
  access: Access;
  /** Status of the valid request once the key may make it. */
  ok: number;
  prepare: () => Promise<Prepared>;
  /** Not in /openapi.json (schema hidden). */
  hidden?: boolean;
}

const q = () => uniqueQueueName("auth");

const ROUTES: AuthRoute[] = [
  { method: "GET", path: "/health/live", access: "none", ok: 200, prepare: async () => ({ url: "/health/live" }) },
  { method: "GET", path: "/health/ready", access: "none", ok: 200, prepare: async () => ({ url: "/health/ready" }) },
  { method: "GET", path: "/v1/queues", access: "read", ok: 200, prepare: async () => ({ url: "/v1/queues" }) },
  { method: "PUT", path: "/v1/queues/{q}", access: "admin", ok: 200, prepare: async () => ({ url: `/v1/queues/${q()}`, body: { maxAttempts: 2 } }) },
  {
    method: "GET",
    path: "/v1/queues/{q}",
    access: "read",
    ok: 200,
    prepare: async () => {
      const name = q();
      await spool.queue(name).info();
      return { url: `/v1/queues/${name}` };
    },
  },
  ...(["DELETE /v1/queues/{q}", "POST /v1/queues/{q}/pause", "POST /v1/queues/{q}/resume", "POST /v1/queues/{q}/purge"] as const).map((route): AuthRoute => {
    const [method, path] = route.split(" ") as ["DELETE" | "POST", string];
    return {
      method,
      path,
      access: "admin",
      ok: method === "DELETE" ? 204 : 200,
      prepare: async () => {
        const name = q();
        const { id } = await spool.publish(name, { n: 1 });
        return { url: path.replace("{q}", name), ids: [id] };
      },
    };
  }),
  { method: "POST", path: "/v1/queues/{q}/messages", access: "publish", ok: 201, prepare: async () => ({ url: `/v1/queues/${q()}/messages`, body: { body: 1 } }) },
  {
    method: "POST",
    path: "/v1/queues/{q}/messages/batch",
    access: "publish",
    ok: 201,
    prepare: async () => ({ url: `/v1/queues/${q()}/messages/batch`, body: { messages: [{ body: 1 }, { body: 2 }] } }),
  },
  {
    method: "POST",
    path: "/v1/queues/{q}/lease",
    access: "consume",
    ok: 200,
    prepare: async () => {
      const name = q();
      const { id } = await spool.publish(name, { n: 1 });
      return { url: `/v1/queues/${name}/lease`, body: { max: 1 }, ids: [id] };
    },
  },
  ...(["ack", "nack", "extend"] as const).map(
    (verb): AuthRoute => ({
      method: "POST",
      path: `/v1/messages/{id}/${verb}`,
      access: "consume",
      ok: verb === "ack" ? 204 : 200,
      prepare: async () => {
        const { id, token } = await leasedMessage();
        return { url: `/v1/messages/${id}/${verb}`, body: verb === "extend" ? { leaseToken: token, leaseMs: 1000 } : { leaseToken: token }, ids: [id] };
      },
    }),
  ),
  {
    method: "POST",
    path: "/v1/acks",
    access: "consume",
    ok: 200,
    prepare: async () => {
      const { id, token } = await leasedMessage();
      return { url: "/v1/acks", body: { acks: [{ id, leaseToken: token }] }, ids: [id] };
    },
  },
  {
    method: "GET",
    path: "/v1/messages/{id}",
    access: "read",
    ok: 200,
    prepare: async () => {
      const { id } = await spool.publish(q(), { n: 1 });
      return { url: `/v1/messages/${id}` };
    },
  },
  {
    method: "GET",
    path: "/v1/queues/{q}/dead",
    access: "admin",
    ok: 200,
    prepare: async () => ({ url: `/v1/queues/${(await deadLetter()).queue}/dead` }),
  },
  {
    method: "DELETE",
    path: "/v1/queues/{q}/dead",
    access: "admin",
    ok: 200,
    prepare: async () => {
      const { queue, id } = await deadLetter();
      return { url: `/v1/queues/${queue}/dead`, ids: [id] };
    },
  },
  {
    method: "POST",
    path: "/v1/queues/{q}/dead/replay",
    access: "admin",
    ok: 200,
    prepare: async () => {
      const { queue, id } = await deadLetter();
      return { url: `/v1/queues/${queue}/dead/replay`, body: { ids: [id] }, ids: [id] };
    },
  },
  {
    method: "DELETE",
    path: "/v1/queues/{q}/dead/{id}",
    access: "admin",
    ok: 204,
    prepare: async () => {
      const { queue, id } = await deadLetter();
      return { url: `/v1/queues/${queue}/dead/${id}`, ids: [id] };
    },
  },
  { method: "GET", path: "/v1/exchanges", access: "read", ok: 200, prepare: async () => ({ url: "/v1/exchanges" }) },
  { method: "PUT", path: "/v1/exchanges/{x}", access: "admin", ok: 200, prepare: async () => ({ url: `/v1/exchanges/${uniqueQueueName("x")}`, body: { type: "topic" } }) },
  { method: "DELETE", path: "/v1/exchanges/{x}", access: "admin", ok: 204, prepare: async () => ({ url: `/v1/exchanges/${(await boundExchange()).exchange}` }) },
  {
    method: "POST",
    path: "/v1/exchanges/{x}/bindings",
    access: "admin",
    ok: 201,
    prepare: async () => {
      const { exchange } = await boundExchange();
      return { url: `/v1/exchanges/${exchange}/bindings`, body: { queue: q() } };
    },
  },
  {
    method: "DELETE",
    path: "/v1/exchanges/{x}/bindings",
    access: "admin",
    ok: 204,
    prepare: async () => {
      const { exchange, queue } = await boundExchange();
      return { url: `/v1/exchanges/${exchange}/bindings`, body: { queue } };
    },
  },
  {
    method: "POST",
    path: "/v1/exchanges/{x}/publish",
    access: "publish",
    ok: 201,
    prepare: async () => ({ url: `/v1/exchanges/${(await boundExchange()).exchange}/publish`, body: { body: { n: 1 } } }),
  },
  // The memory store has no snapshots: reaching the route answers 409 conflict.
  { method: "POST", path: "/v1/admin/snapshot", access: "admin", ok: 409, prepare: async () => ({ url: "/v1/admin/snapshot" }) },
  {
    method: "POST",
    path: "/v1/admin/workers/{q}/scale",
    access: "admin",
    ok: 200,
    prepare: async () => {
      const name = q();
      await spool.queue(name).info();
      const worker = spool.queue(name).work(async () => undefined);
      return { url: `/v1/admin/workers/${name}/scale`, body: { concurrency: 3 }, after: () => worker.close() };
    },
  },
  { method: "GET", path: "/openapi.json", access: "none", ok: 200, hidden: true, prepare: async () => ({ url: "/openapi.json" }) },
  { method: "GET", path: "/docs", access: "none", ok: 200, hidden: true, prepare: async () => ({ url: "/docs" }) },
  { method: "GET", path: "/", access: "none", ok: 200, hidden: true, prepare: async () => ({ url: "/" }) },
  { method: "GET", path: "/metrics", access: "admin", ok: 200, hidden: true, prepare: async () => ({ url: "/metrics" }) },
];

const routeKey = (route: Pick<AuthRoute, "method" | "path">) => `${route.method} ${route.path}`;

type Caller = "no key" | "admin" | "publisher" | "consumer";

function allowed(caller: Caller, access: Access): boolean {
  if (access === "none") return true;
  if (caller === "no key") return false;
  if (access === "read" || caller === "admin") return true;
  return (caller === "publisher" && access === "publish") || (caller === "consumer" && access === "consume");
}

function keyHeader(caller: Caller): Record<string, string> {
  return caller === "no key" ? {} : { authorization: `Bearer ${KEYS[caller]}` };
}

describe("auth: every route has its scope", () => {
  it("classifies every route of /openapi.json", async () => {
    const answer = await server.call("GET", "/openapi.json");
    expect(answer.status).toBe(200);
    const documented: string[] = [];
    for (const [path, operations] of Object.entries(answer.body.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(operations)) documented.push(`${method.toUpperCase()} ${path}`);
    }
    expect(ROUTES.filter((route) => !route.hidden).map(routeKey).sort()).toEqual(documented.sort());
  });

  describe.each(ROUTES.map((route) => [routeKey(route), route] as const))("%s", (_key, route) => {
    it.each(["no key", "admin", "publisher", "consumer"] as const)("%s", async (caller) => {
      const prepared = await route.prepare();
      try {
        const send = () => server.call(route.method, prepared.url, prepared.body, { headers: keyHeader(caller) });
        if (allowed(caller, route.access)) {
          const answer = await send();
          expect(answer.status, answer.text.slice(0, 300)).toBe(route.ok);
        } else if (caller === "no key") {
          await expectRefused(prepared.ids ?? [], 401, "unauthorized", send);
        } else {
          const answer = await expectRefused(prepared.ids ?? [], 403, "forbidden", send);
          expect(answer.body.error.message).toContain(`"${route.access}" scope`);
        }
      } finally {
        await prepared.after?.();
      }
    });

    if (route.access !== "none") {
      it.each([
        ["an unknown key", `Bearer ${generateApiKey()}`],
        ["the admin key with its last character changed", `Bearer ${KEYS.admin.slice(0, -1)}${KEYS.admin.endsWith("A") ? "B" : "A"}`],
        ["the admin key's hash instead of the key", `Bearer ${hashApiKey(KEYS.admin)}`],
        ["Basic auth", `Basic ${Buffer.from(`admin:${KEYS.admin}`).toString("base64")}`],
        ["the key without a scheme", KEYS.admin],
        ["a scheme without a key", "Bearer"],
        ["two tokens", `Bearer ${KEYS.admin} ${KEYS.admin}`],
      ])("refuses %s with 401, changing nothing", async (_name, authorization) => {
        const prepared = await route.prepare();
        try {
          await expectRefused(prepared.ids ?? [], 401, "unauthorized", () => server.call(route.method, prepared.url, prepared.body, { headers: { authorization } }));
        } finally {
          await prepared.after?.();
        }
      });
    }
  });

});

describe("auth: the Authorization header", () => {
  it("accepts a lower-case scheme and extra spaces", async () => {
    for (const authorization of [`bearer ${KEYS.admin}`, `BEARER ${KEYS.admin}`, `Bearer    ${KEYS.admin}`, `Bearer\t${KEYS.admin}`, `Bearer ${KEYS.admin}   `]) {
      const answer = await server.call("GET", "/v1/queues", undefined, { headers: { authorization } });
      expect(answer.status, authorization).toBe(200);
    }
  });

  it("says whether the key was missing or wrong, never which key came close", async () => {
    const missing = await server.call("GET", "/v1/queues");
    expectError(missing, 401, "unauthorized");
    expect(missing.body.error.message).toMatch(/missing/i);
    const wrong = await server.call("GET", "/v1/queues", undefined, { key: `${KEYS.admin}x` });
    expectError(wrong, 401, "unauthorized");
    expect(wrong.body.error.message).toMatch(/invalid/i);
    expect(wrong.text).not.toContain("admin");
  });

  it("refuses before reading the body: bad JSON or an oversized body without a key is a 401", async () => {
    const name = q();
    await expectRefused([], 401, "unauthorized", () =>
      server.call("POST", `/v1/queues/${name}/messages`, '{"body": ', { raw: true, headers: { "content-type": "application/json" } }),
    );
    const oversized = JSON.stringify({ body: "x".repeat(BODY_LIMIT_BYTES * 2) });
    await expectRefused([], 401, "unauthorized", () => server.call("POST", `/v1/queues/${name}/messages`, oversized, { raw: true }));
    await expectRefused([], 403, "forbidden", () => server.call("PUT", `/v1/queues/${name}`, '{"maxAttempts": ', { raw: true, key: KEYS.publisher }));
  });

  it("needs no key for health, /openapi.json and the docs page", async () => {
    for (const path of ["/health/live", "/health/ready", "/openapi.json", "/docs", "/docs/json"]) {
      const answer = await server.call("GET", path);
      expect(answer.status, `${path}: ${answer.text.slice(0, 200)}`).toBe(200);
    }
  });
});

describe("auth: queue-name globs", () => {
  const mailer = { headers: { authorization: `Bearer ${KEYS.mailer}` } };
  const mailAdmin = { headers: { authorization: `Bearer ${KEYS.mailAdmin}` } };

  it("lets a key publish and consume within its globs", async () => {
    const queue = `emails.${q()}`;
    const published = await server.call("POST", `/v1/queues/${queue}/messages`, { body: { to: "a@x.io" } }, mailer);
    expect(published.status).toBe(201);
    const leased = await server.call("POST", `/v1/queues/${queue}/lease`, { max: 1 }, mailer);
    expect(leased.body.messages).toHaveLength(1);
    const [message] = leased.body.messages as Array<{ id: string; leaseToken: string }>;
    expect((await server.call("POST", `/v1/messages/${message.id}/extend`, { leaseToken: message.leaseToken, leaseMs: 5000 }, mailer)).status).toBe(200);
    expect((await server.call("POST", `/v1/messages/${message.id}/ack`, { leaseToken: message.leaseToken }, mailer)).status).toBe(204);
    expect((await server.call("GET", `/v1/messages/${message.id}`, undefined, mailer)).body.state).toBe("completed");
  });

  it("refuses another queue before anything changes: no message, no queue declared", async () => {
    const other = `billing-${q()}`;
    await expectRefused([], 403, "forbidden", () => server.call("POST", `/v1/queues/${other}/messages`, { body: 1 }, mailer));
    await expectRefused([], 403, "forbidden", () => server.call("POST", `/v1/queues/${other}/messages/batch`, { messages: [{ body: 1 }] }, mailer));
    await expectRefused([], 403, "forbidden", () => server.call("POST", `/v1/queues/${other}/lease`, {}, mailer));
    expect(await spool.store.getQueue(other)).toBeUndefined();
    // "emails.*" is a prefix glob, not a substring match.
    await expectRefused([], 403, "forbidden", () => server.call("POST", `/v1/queues/old-emails.x/messages`, { body: 1 }, mailer));
  });

  it("refuses to lease from another queue that has messages", async () => {
    const other = `billing-${q()}`;
    const { id } = await spool.publish(other, { n: 1 });
    const answer = await expectRefused([id], 403, "forbidden", () => server.call("POST", `/v1/queues/${other}/lease`, { max: 10 }, mailer));
    expect(answer.body.error.message).toContain(other);
  });

  it("refuses to settle, by id, a message of another queue", async () => {
    for (const verb of ["ack", "nack", "extend"] as const) {
      const { id, token } = await leasedMessage(`billing-${q()}`);
      const body = verb === "extend" ? { leaseToken: token, leaseMs: 1000 } : { leaseToken: token };
      await expectRefused([id], 403, "forbidden", () => server.call("POST", `/v1/messages/${id}/${verb}`, body, mailer));
      expect((await spool.status(id))?.state).toBe("leased");
    }
    // Bulk acks: one foreign item refuses the whole request; the reachable one stays leased too.
    const mine = await leasedMessage(`emails.${q()}`);
    const theirs = await leasedMessage(`billing-${q()}`);
    const acks = { acks: [{ id: mine.id, leaseToken: mine.token }, { id: theirs.id, leaseToken: theirs.token }] };
    await expectRefused([mine.id, theirs.id], 403, "forbidden", () => server.call("POST", "/v1/acks", acks, mailer));
  });

  it("shows only reachable queues and messages", async () => {
    const mine = `emails.${q()}`;
    const theirs = `billing-${q()}`;
    const { id: mineId } = await spool.publish(mine, 1);
    const { id: theirId } = await spool.publish(theirs, 2);
    const listed = await server.call("GET", "/v1/queues", undefined, mailer);
    const names = (listed.body.queues as Array<{ name: string }>).map((queue) => queue.name);
    expect(names).toContain(mine);
    expect(names.every((name) => name.startsWith("emails."))).toBe(true);
    expect((await server.call("GET", "/v1/queues", undefined, { key: KEYS.admin })).body.queues.map((queue: { name: string }) => queue.name)).toContain(theirs);
    expect((await server.call("GET", `/v1/queues/${mine}`, undefined, mailer)).status).toBe(200);
    expectError(await server.call("GET", `/v1/queues/${theirs}`, undefined, mailer), 403, "forbidden");
    expect((await server.call("GET", `/v1/messages/${mineId}`, undefined, mailer)).status).toBe(200);
    expectError(await server.call("GET", `/v1/messages/${theirId}`, undefined, mailer), 403, "forbidden");
  });

  it("publishes through an exchange only when every bound queue is in reach", async () => {
    const mixed = uniqueQueueName("mixed");
    const mine = `emails.${q()}`;
    const theirs = `billing-${q()}`;
    await spool.declareExchange(mixed, "topic");
    await spool.bind(mixed, mine, "mail.#");
    await spool.bind(mixed, theirs, "bill.#");
    // Refused even for a routing key that would only reach the key's own queue.
    await expectRefused([], 403, "forbidden", () => server.call("POST", `/v1/exchanges/${mixed}/publish`, { routingKey: "mail.sent", body: 1 }, mailer));
    await expectRefused([], 403, "forbidden", () => server.call("POST", `/v1/exchanges/${mixed}/publish`, { routingKey: "bill.due", body: 1 }, mailer));

    const mailOnly = uniqueQueueName("mail-only");
    await spool.declareExchange(mailOnly, "fanout");
    await spool.bind(mailOnly, mine);
    await spool.bind(mailOnly, `emails.${q()}`);
    const routed = await server.call("POST", `/v1/exchanges/${mailOnly}/publish`, { body: 1 }, mailer);
    expect(routed.status).toBe(201);
    expect(routed.body.routed).toBe(2);
  });

  it("publishes through the default exchange only to a reachable queue", async () => {
    const mine = `emails.${q()}`;
    const routed = await server.call("POST", "/v1/exchanges//publish", { routingKey: mine, body: 1 }, mailer);
    expect(routed.status, routed.text).toBe(201);
    expect(routed.body.messages).toEqual([expect.objectContaining({ queue: mine })]);
    const theirs = `billing-${q()}`;
    await expectRefused([], 403, "forbidden", () => server.call("POST", "/v1/exchanges//publish", { routingKey: theirs, body: 1 }, mailer));
    expect(await spool.store.getQueue(theirs)).toBeUndefined();
  });

  it("keeps an admin key with globs to its queues, in the path and in the body", async () => {
    const mine = `emails.${q()}`;
    const theirs = `billing-${q()}`;
    await deadLetter(theirs);
    const { id } = await spool.publish(theirs, 1);
    for (const [method, path, body] of [
      ["PUT", `/v1/queues/${theirs}`, { maxAttempts: 1 }],
      ["POST", `/v1/queues/${theirs}/pause`, undefined],
      ["POST", `/v1/queues/${theirs}/purge`, undefined],
      ["DELETE", `/v1/queues/${theirs}`, undefined],
      ["GET", `/v1/queues/${theirs}/dead`, undefined],
      ["DELETE", `/v1/queues/${theirs}/dead`, undefined],
      ["POST", `/v1/admin/workers/${theirs}/scale`, { concurrency: 2 }],
    ] as const) {
      await expectRefused([id], 403, "forbidden", () => server.call(method, path, body, mailAdmin));
    }
    expect((await server.call("PUT", `/v1/queues/${mine}`, { maxAttempts: 1 }, mailAdmin)).status).toBe(200);

    // Routing changes that touch a queue out of reach: bind, unbind, delete the exchange.
    const exchange = uniqueQueueName("x");
    expect((await server.call("PUT", `/v1/exchanges/${exchange}`, { type: "direct" }, mailAdmin)).status).toBe(200);
    expect((await server.call("POST", `/v1/exchanges/${exchange}/bindings`, { queue: mine, bindingKey: "k" }, mailAdmin)).status).toBe(201);
    await expectRefused([id], 403, "forbidden", () => server.call("POST", `/v1/exchanges/${exchange}/bindings`, { queue: theirs, bindingKey: "k" }, mailAdmin));
    await spool.bind(exchange, theirs, "k");
    await expectRefused([id], 403, "forbidden", () => server.call("DELETE", `/v1/exchanges/${exchange}/bindings`, { queue: theirs, bindingKey: "k" }, mailAdmin));
    await expectRefused([id], 403, "forbidden", () => server.call("DELETE", `/v1/exchanges/${exchange}`, undefined, mailAdmin));
    // Even its own queue's binding: the exchange also routes out of reach.
    await expectRefused([id], 403, "forbidden", () => server.call("DELETE", `/v1/exchanges/${exchange}/bindings`, { queue: mine, bindingKey: "k" }, mailAdmin));
    await spool.unbind(exchange, theirs, "k");
    expect((await server.call("DELETE", `/v1/exchanges/${exchange}/bindings`, { queue: mine, bindingKey: "k" }, mailAdmin)).status).toBe(204);
  });

  it("matches a glob character by character: `a.b` does not reach `axb`", async () => {
    const dotted = { headers: { authorization: `Bearer ${KEYS.dotted}` } };
    await spool.publish("a.b", 1);
    await spool.publish("axb", 1);
    expect((await server.call("POST", "/v1/queues/a.b/lease", {}, dotted)).body.messages).toHaveLength(1);
    await expectRefused([], 403, "forbidden", () => server.call("POST", "/v1/queues/axb/lease", {}, dotted));
  });
});

describe("auth: keys are held only as hashes", () => {
  it("authenticates from configuration entries that hold no key", () => {
    const key = generateApiKey();
    const entry: ApiKeyConfig = { name: "ci", hash: hashApiKey(key), scopes: ["publish"], queues: ["emails.*"] };
    expect(Value.Check(ApiKeyConfigSchema, entry)).toBe(true);
    expect(entry.hash).toMatch(new RegExp(HASH_PATTERN));
    expect(JSON.stringify(entry)).not.toContain(key);
    expect(JSON.stringify(entry)).not.toContain(key.slice("spool_".length));

    const ring = new ApiKeyRing([entry]);
    expect(ring.authenticate(`Bearer ${key}`)?.name).toBe("ci");
    expect(inspect(ring, { showHidden: true, depth: null })).not.toContain(key);
    expect(JSON.stringify(ring)).not.toContain(key);
  });

  it("refuses a configuration entry whose hash is not a hash, without echoing it", () => {
    const key = generateApiKey();
    for (const hash of [key, "sha256:abc", `sha256:${"g".repeat(64)}`, hashApiKey(key).toUpperCase()]) {
      let error: unknown;
      try {
        new ApiKeyRing([{ name: "oops", hash, scopes: ["admin"] }]);
      } catch (caught) {
        error = caught;
      }
      expect(error, hash).toBeInstanceOf(SpoolError);
      expect((error as SpoolError).code).toBe("validation_failed");
      expect((error as SpoolError).message).not.toContain(hash);
    }
  });
});

// ── startServer: no keys, no network ─────────────────────────────────────────────────────

describe("startServer without keys", () => {
  let dataDir: string;
  let running: RunningServer | undefined;

  beforeEach(async () => {
    dataDir = await makeTempDir("spool-auth-");
  });
  afterEach(async () => {
    await running?.close();
    running = undefined;
    await removeTempDir(dataDir);
  });

  function config(overrides: Partial<ResolvedServerConfig> = {}): ResolvedServerConfig {
    return { ...serverDefaults, port: 0, dataDir, logLevel: "silent", ...overrides };
  }

  function memoryLogger(): { logger: Logger; lines: Array<{ level: number; msg: string }> } {
    const lines: Array<{ level: number; msg: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split("\n")) if (line.trim()) lines.push(JSON.parse(line) as { level: number; msg: string });
        done();
      },
    });
    return { logger: pino({ level: "info" }, sink), lines };
  }

  /** The data directory is free: another Spool can open it (the journal holds a lock while open). */
  async function expectDataDirFree(): Promise<void> {
    const reopened = await Spool.open({ dataDir });
    await reopened.close();
  }

  it.each([
    ["0.0.0.0", undefined],
    ["::", undefined],
    ["192.0.2.1", undefined],
    ["0.0.0.0", []],
  ])("refuses to listen on %s (keys: %j) and holds no lock", async (host, keys) => {
    const { logger, lines } = memoryLogger();
    const started = startServer(config({ host, ...(keys ? { keys } : {}) }), { logger });
    await expect(started).rejects.toBeInstanceOf(SpoolError);
    await expect(started).rejects.toThrow(new RegExp(`refusing to listen on ${host.replace(/\./g, "\\.")} without API keys`));
    expect(lines.some((line) => line.msg === "spool serving")).toBe(false);
    await expectDataDirFree();
  });

  it("listens on 127.0.0.1 without keys, and says so", async () => {
    const { logger, lines } = memoryLogger();
    running = await startServer(config({ host: "127.0.0.1" }), { logger });
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const warning = lines.find((line) => line.level === 40 && /no API keys/.test(line.msg));
    expect(warning?.msg).toMatch(/loopback only/);
    expect((await fetch(`${running.url}/v1/queues`)).status).toBe(200);
  });

  it("listens beyond loopback with keys, and asks for them", async () => {
    const { logger, lines } = memoryLogger();
    const key = generateApiKey();
    running = await startServer(config({ host: "0.0.0.0", keys: [{ name: "ops", hash: hashApiKey(key), scopes: ["admin"] }] }), { logger });
    const port = new URL(running.url).port;
    expect(lines.some((line) => /no API keys/.test(line.msg))).toBe(false);
    expect((await fetch(`http://127.0.0.1:${port}/v1/queues`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/v1/queues`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
  });

  it("releases the data directory when it cannot listen", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    try {
      const address = blocker.address();
      if (address === null || typeof address !== "object") throw new Error("no port");
      await expect(startServer(config({ port: address.port }))).rejects.toThrow(/EADDRINUSE|address already in use/);
      await expectDataDirFree();
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
