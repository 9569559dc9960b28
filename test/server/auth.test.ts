/**
 * Security of `spool serve`: API keys in `Authorization: Bearer`, scopes per route, queue-name
 * globs per key, keys held only as hashes, and the refusal to listen beyond loopback without keys.
 * The route × scope × glob table of docs/http-api.md ("Access") is read and walked: every route the
 * server registers must have a row, and every row is called with a key that lacks its scope, a key
 * with globs that miss its target, and keys that reach it. Every refused request is checked to have
 * changed nothing. (test/server/limited-keys.test.ts: keys with globs in more detail.)
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
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
import { registeredRoutes, type RouteAccessEntry } from "../../src/server/auth.js";
import { DEFAULT_DASHBOARD_DIR } from "../../src/server/routes/dashboard.js";
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
  /** One scope each, on queues `in-*` and the mock channel's `delivery.mock`: the table walk's keys with globs. */
  limitedPublisher: generateApiKey(),
  limitedConsumer: generateApiKey(),
  limitedAdmin: generateApiKey(),
};

const LIMITED_GLOBS = ["in-*", "delivery.mock"];

/** What the configuration holds: names, hashes, scopes, globs — never a key. */
const KEY_CONFIG: ApiKeyConfig[] = [
  { name: "admin", hash: hashApiKey(KEYS.admin), scopes: ["admin"] },
  { name: "publisher", hash: hashApiKey(KEYS.publisher), scopes: ["publish"] },
  { name: "consumer", hash: hashApiKey(KEYS.consumer), scopes: ["consume"] },
  { name: "mailer", hash: hashApiKey(KEYS.mailer), scopes: ["publish", "consume"], queues: ["emails.*"] },
  { name: "mail-admin", hash: hashApiKey(KEYS.mailAdmin), scopes: ["admin"], queues: ["emails.*"] },
  { name: "dotted", hash: hashApiKey(KEYS.dotted), scopes: ["consume"], queues: ["a.b"] },
  { name: "limited-publisher", hash: hashApiKey(KEYS.limitedPublisher), scopes: ["publish"], queues: LIMITED_GLOBS },
  { name: "limited-consumer", hash: hashApiKey(KEYS.limitedConsumer), scopes: ["consume"], queues: LIMITED_GLOBS },
  { name: "limited-admin", hash: hashApiKey(KEYS.limitedAdmin), scopes: ["admin"], queues: LIMITED_GLOBS },
];

const BODY_LIMIT_BYTES = 64 * 1024;
const DASHBOARD_BUILT = existsSync(path.join(DEFAULT_DASHBOARD_DIR, "index.html"));

let server: TestServer;
let spool: Spool;

beforeAll(async () => {
  server = await startTestServer({
    keys: KEY_CONFIG,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    metrics: () => ({ contentType: "text/plain; version=0.0.4", render: async () => "spool_up 1\n" }),
    // No channel workers: a batch stays as its expansion leaves it, so nothing moves under `observe`.
    delivery: { workers: false, progressIntervalMs: 5 },
  });
  spool = server.spool;
});

afterAll(async () => {
  await server?.close();
});

const delivery = () => server.delivery!;

// Each case makes its own queues and exchanges; dropping them keeps `observe` small. The delivery
// queues stay: the expander publishes to them.
afterEach(async () => {
  for (const exchange of await spool.exchanges()) await spool.deleteExchange(exchange.name);
  for (const info of await spool.queues()) if (!info.name.startsWith("delivery.")) await spool.store.deleteQueue(info.name);
});

/**
 * Every queue (options, stats, dead letters), every exchange, the given messages' statuses, and
 * batch delivery's state: templates, and every batch with its counts by status.
 */
async function observe(ids: string[] = []): Promise<unknown> {
  const queues = [];
  for (const info of (await spool.queues()).sort((a, b) => a.name.localeCompare(b.name))) {
    const { oldestReadyAgeMs: _age, ...stats } = await spool.store.stats(info.name);
    queues.push({ info, stats, dead: await spool.store.listDead(info.name, { limit: 1000 }) });
  }
  const exchanges = (await spool.exchanges()).sort((a, b) => a.name.localeCompare(b.name));
  const templates = [...delivery().store.state.templates.values()].map((template) => ({ ...template }));
  return { queues, exchanges, statuses: await Promise.all(ids.map((id) => spool.status(id))), templates, batches: delivery().stats() };
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

/** A batch of two recipients on `channel`, made with the library; resolves once it is expanded. */
async function deliveryBatch(channel: "mock" | "websocket") {
  const recipients = [{ id: uniqueQueueName("r"), vars: { name: "Ann" } }, { id: uniqueQueueName("r"), vars: { name: "Bo" } }];
  const { batchId } = await delivery().createBatch({ channel, template: { body: "Hi {{name}}" }, recipients });
  await delivery().expanded();
  const [entry] = (await delivery().messages(batchId, { limit: 1 })).items;
  return { batchId, logId: entry.logId, recipientId: entry.recipientId };
}

// ── the access table of docs/http-api.md ─────────────────────────────────────────────────

type Access = "none" | "read" | Scope;
/** The table's third column: `–`, `refused`, a list or stream of what the key reaches, or the queues it must reach. */
type GlobRule = "none" | "refused" | "filtered" | "checked";

interface TableRow {
  /** `METHOD /path`; a path ending in `/*` stands for every path under it. */
  routes: string[];
  access: Access;
  /** The recipient's own token is its credential, or one of them. */
  token: boolean;
  glob: GlobRule;
  line: string;
}

function accessOf(cell: string): Access {
  const scope = cell.split(",")[0].trim();
  if (scope === "none" || scope === "recipient token") return "none";
  if (scope === "any key") return "read";
  if (scope === "publish" || scope === "consume" || scope === "admin") return scope;
  throw new Error(`docs/http-api.md: unknown scope ${JSON.stringify(cell)}`);
}

function globRuleOf(cell: string): GlobRule {
  if (cell === "–") return "none";
  if (cell === "refused") return "refused";
  if (/^(lists|counts|streams) only /.test(cell)) return "filtered";
  return "checked";
}

function readAccessTable(): TableRow[] {
  const doc = readFileSync(new URL("../../docs/http-api.md", import.meta.url), "utf8");
  const lines = doc.slice(doc.indexOf("\n### Access\n")).split("\n");
  const header = lines.findIndex((line) => line === "| route | scope | a key with queue globs |");
  expect(header, "docs/http-api.md has the access table").toBeGreaterThan(0);
  const rows: TableRow[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith("| ")) break;
    const [route, scope, glob] = line.slice(2, -2).split(" | ");
    const routes = [...route.matchAll(/`([A-Z]+ \/[^`]*)`/g)].map((match) => match[1]);
    rows.push({ routes, access: accessOf(scope), token: /recipient('s)? token/.test(scope), glob: globRuleOf(glob), line });
  }
  return rows;
}

const TABLE = readAccessTable();

function rowRouteCovers(rowRoute: string, route: Pick<RouteAccessEntry, "method" | "url">): boolean {
  const [method, path] = rowRoute.split(" ");
  if (method !== route.method) return false;
  return path.endsWith("/*") ? route.url.startsWith(path.slice(0, -1)) : route.url === path;
}

/** Every route of the server, a HEAD route as the GET it answers for (Fastify adds one to each GET). */
function servedRoutes(): RouteAccessEntry[] {
  return registeredRoutes(server.app).map((route) => (route.method === "HEAD" ? { ...route, method: "GET" } : route));
}

// ── each row's requests ──────────────────────────────────────────────────────────────────

/** `in`: within the limited keys' globs (queues `in-*`, the mock channel); `out`: outside them. */
type Target = "in" | "out";

interface Prepared {
  url: string;
  body?: unknown;
  /** Messages whose status must not move when the request is refused. */
  ids?: string[];
  /** Lists and streams: whether the answer shows the target. */
  shows?: (answer: HttpAnswer) => boolean;
  /** Streams: sends the request itself and answers what it read. */
  send?: (headers: Record<string, string>) => Promise<HttpAnswer>;
  /** The target's recipient token (routes that take one). */
  token?: string;
  /** Cleanup after the case. */
  after?: () => Promise<void>;
}

interface RowCase {
  /** The status of the request once the key may make it. */
  ok: number;
  prepare: (target: Target) => Promise<Prepared>;
}

const q = () => uniqueQueueName("auth");
const queueFor = (target: Target) => uniqueQueueName(target === "in" ? "in" : "out");
const channelFor = (target: Target) => (target === "in" ? "mock" : "websocket");
const names = (items: unknown): string[] => (items as Array<{ name?: string; id?: string }>).map((item) => item.name ?? item.id ?? "");

const published = async (target: Target) => {
  const queue = queueFor(target);
  const { id } = await spool.publish(queue, { n: 1 });
  return { queue, id };
};

/** A schedule (once a year) publishing to `queue`; returns its name. */
const scheduleOn = async (queue: string) => {
  const name = uniqueQueueName("sched");
  await spool.schedule(name, { cron: "0 0 3 1 1 *", queue, body: 1 });
  return name;
};

/** What the table's rows are called with; keyed by the row's first route. */
const CASES: Record<string, RowCase> = {
  "GET /health/live": { ok: 200, prepare: async () => ({ url: "/health/live" }) },
  "GET /health/ready": { ok: 200, prepare: async () => ({ url: "/health/ready" }) },
  "GET /openapi.json": { ok: 200, prepare: async () => ({ url: "/openapi.json" }) },
  // The dashboard's files are built by `npm run build`; without them `/` says how (503) and assets are 404.
  "GET /": { ok: DASHBOARD_BUILT ? 200 : 503, prepare: async () => ({ url: "/" }) },
  "GET /assets/*": { ok: DASHBOARD_BUILT ? 200 : 404, prepare: async () => ({ url: "/assets/main.js" }) },
  "GET /v1/whoami": { ok: 200, prepare: async () => ({ url: "/v1/whoami" }) },
  "GET /v1/stats/stream": {
    ok: 200,
    prepare: async (target) => {
      const queue = queueFor(target);
      await spool.queue(queue).info();
      // A queue every key reaches, made after the target: a snapshot that has it was read after the target existed.
      const marker = queueFor("in");
      await spool.queue(marker).info();
      const send = async (headers: Record<string, string>): Promise<HttpAnswer> => {
        const stream = await openEvents(headers, "/v1/stats/stream");
        if (stream.answer) return stream.answer;
        try {
          await stream.until(`"name":"${marker}"`);
          return { status: 200, headers: new Headers(), body: undefined, text: stream.text() };
        } finally {
          await stream.close();
        }
      };
      return { url: "/v1/stats/stream", send, shows: (answer) => answer.text.includes(`"name":"${queue}"`) };
    },
  },
  "GET /docs": { ok: 200, prepare: async () => ({ url: "/docs/json" }) },
  "GET /metrics": { ok: 200, prepare: async () => ({ url: "/metrics" }) },
  "GET /v1/queues": {
    ok: 200,
    prepare: async (target) => {
      const queue = queueFor(target);
      await spool.queue(queue).info();
      return { url: "/v1/queues", shows: (answer) => names(answer.body.queues).includes(queue) };
    },
  },
  "PUT /v1/queues/:q": { ok: 200, prepare: async (target) => ({ url: `/v1/queues/${queueFor(target)}`, body: { maxAttempts: 2 } }) },
  "GET /v1/queues/:q": {
    ok: 200,
    prepare: async (target) => {
      const queue = queueFor(target);
      await spool.queue(queue).info();
      return { url: `/v1/queues/${queue}` };
    },
  },
  ...Object.fromEntries(
    (["DELETE /v1/queues/:q", "POST /v1/queues/:q/pause", "POST /v1/queues/:q/resume", "POST /v1/queues/:q/purge"] as const).map((route): [string, RowCase] => [
      route,
      {
        ok: route.startsWith("DELETE") ? 204 : 200,
        prepare: async (target) => {
          const { queue, id } = await published(target);
          return { url: route.split(" ")[1].replace(":q", queue), ids: [id] };
        },
      },
    ]),
  ),
  "POST /v1/queues/:q/messages": { ok: 201, prepare: async (target) => ({ url: `/v1/queues/${queueFor(target)}/messages`, body: { body: 1 } }) },
  "POST /v1/queues/:q/messages/batch": { ok: 201, prepare: async (target) => ({ url: `/v1/queues/${queueFor(target)}/messages/batch`, body: { messages: [{ body: 1 }, { body: 2 }] } }) },
  "POST /v1/queues/:q/lease": {
    ok: 200,
    prepare: async (target) => {
      const { queue, id } = await published(target);
      return { url: `/v1/queues/${queue}/lease`, body: { max: 1 }, ids: [id] };
    },
  },
  ...Object.fromEntries(
    (["ack", "nack", "extend", "progress"] as const).map((verb): [string, RowCase] => [
      `POST /v1/messages/:id/${verb}`,
      {
        ok: verb === "ack" || verb === "progress" ? 204 : 200,
        prepare: async (target) => {
          const { id, token } = await leasedMessage(queueFor(target));
          const body = verb === "extend" ? { leaseToken: token, leaseMs: 1000 } : verb === "progress" ? { leaseToken: token, progress: 1 } : { leaseToken: token };
          return { url: `/v1/messages/${id}/${verb}`, body, ids: [id] };
        },
      },
    ]),
  ),
  "POST /v1/acks": {
    ok: 200,
    prepare: async (target) => {
      const { id, token } = await leasedMessage(queueFor(target));
      return { url: "/v1/acks", body: { acks: [{ id, leaseToken: token }] }, ids: [id] };
    },
  },
  "GET /v1/messages/:id": {
    ok: 200,
    prepare: async (target) => {
      const { id } = await published(target);
      return { url: `/v1/messages/${id}` };
    },
  },
  "GET /v1/messages/:id/body": {
    ok: 200,
    prepare: async (target) => {
      const { id } = await published(target);
      return { url: `/v1/messages/${id}/body` };
    },
  },
  "GET /v1/queues/:q/messages": {
    ok: 200,
    prepare: async (target) => {
      const { queue } = await published(target);
      return { url: `/v1/queues/${queue}/messages` };
    },
  },
  "GET /v1/queues/:q/dead": { ok: 200, prepare: async (target) => ({ url: `/v1/queues/${(await deadLetter(queueFor(target))).queue}/dead` }) },
  "POST /v1/queues/:q/dead/replay": {
    ok: 200,
    prepare: async (target) => {
      const { queue, id } = await deadLetter(queueFor(target));
      return { url: `/v1/queues/${queue}/dead/replay`, body: { ids: [id] }, ids: [id] };
    },
  },
  "DELETE /v1/queues/:q/dead/:id": {
    ok: 204,
    prepare: async (target) => {
      const { queue, id } = await deadLetter(queueFor(target));
      return { url: `/v1/queues/${queue}/dead/${id}`, ids: [id] };
    },
  },
  "DELETE /v1/queues/:q/dead": {
    ok: 200,
    prepare: async (target) => {
      const { queue, id } = await deadLetter(queueFor(target));
      return { url: `/v1/queues/${queue}/dead`, ids: [id] };
    },
  },
  // The memory store has no snapshots: reaching the route answers 409 conflict.
  "POST /v1/admin/snapshot": { ok: 409, prepare: async () => ({ url: "/v1/admin/snapshot" }) },
  "POST /v1/admin/workers/:q/scale": {
    ok: 200,
    prepare: async (target) => {
      const queue = queueFor(target);
      await spool.queue(queue).info();
      const worker = spool.queue(queue).work(async () => undefined);
      return { url: `/v1/admin/workers/${queue}/scale`, body: { concurrency: 3 }, after: () => worker.close() };
    },
  },
  "GET /v1/schedules": {
    ok: 200,
    prepare: async (target) => {
      const name = await scheduleOn(queueFor(target));
      return { url: "/v1/schedules", shows: (answer) => names(answer.body.schedules).includes(name) };
    },
  },
  "GET /v1/schedules/:name": { ok: 200, prepare: async (target) => ({ url: `/v1/schedules/${await scheduleOn(queueFor(target))}` }) },
  "PUT /v1/schedules/:name": { ok: 200, prepare: async (target) => ({ url: `/v1/schedules/${uniqueQueueName("sched")}`, body: { cron: "0 0 3 1 1 *", queue: queueFor(target), body: 1 } }) },
  "POST /v1/schedules/:name/pause": { ok: 200, prepare: async (target) => ({ url: `/v1/schedules/${await scheduleOn(queueFor(target))}/pause` }) },
  "POST /v1/schedules/:name/resume": { ok: 200, prepare: async (target) => ({ url: `/v1/schedules/${await scheduleOn(queueFor(target))}/resume` }) },
  "DELETE /v1/schedules/:name": { ok: 204, prepare: async (target) => ({ url: `/v1/schedules/${await scheduleOn(queueFor(target))}` }) },
  "GET /v1/exchanges": {
    ok: 200,
    prepare: async (target) => {
      const { exchange } = await boundExchange(queueFor(target));
      return { url: "/v1/exchanges", shows: (answer) => names(answer.body.exchanges).includes(exchange) };
    },
  },
  "PUT /v1/exchanges/:x": { ok: 200, prepare: async (target) => ({ url: `/v1/exchanges/${(await boundExchange(queueFor(target))).exchange}`, body: { type: "fanout" } }) },
  "DELETE /v1/exchanges/:x": { ok: 204, prepare: async (target) => ({ url: `/v1/exchanges/${(await boundExchange(queueFor(target))).exchange}` }) },
  // Out of reach: the exchange, though the queue bound is within the globs.
  "POST /v1/exchanges/:x/bindings": { ok: 201, prepare: async (target) => ({ url: `/v1/exchanges/${(await boundExchange(queueFor(target))).exchange}/bindings`, body: { queue: queueFor("in") } }) },
  "DELETE /v1/exchanges/:x/bindings": {
    ok: 204,
    prepare: async (target) => {
      const { exchange, queue } = await boundExchange(queueFor(target));
      return { url: `/v1/exchanges/${exchange}/bindings`, body: { queue } };
    },
  },
  "POST /v1/exchanges/:x/publish": { ok: 201, prepare: async (target) => ({ url: `/v1/exchanges/${(await boundExchange(queueFor(target))).exchange}/publish`, body: { body: { n: 1 } } }) },
  "PUT /v1/templates/:id": { ok: 200, prepare: async () => ({ url: `/v1/templates/${q()}`, body: { body: "Hi {{name}}" } }) },
  "GET /v1/templates/:id": {
    ok: 200,
    prepare: async () => {
      const id = q();
      await delivery().putTemplate(id, { body: "Hi {{name}}" });
      return { url: `/v1/templates/${id}` };
    },
  },
  "POST /v1/batches": { ok: 202, prepare: async (target) => ({ url: "/v1/batches", body: { channel: channelFor(target), template: { body: "Hi" }, recipients: [{ id: "r1" }] } }) },
  "GET /v1/batches/:id": { ok: 200, prepare: async (target) => ({ url: `/v1/batches/${(await deliveryBatch(channelFor(target))).batchId}` }) },
  "GET /v1/batches/:id/messages": { ok: 200, prepare: async (target) => ({ url: `/v1/batches/${(await deliveryBatch(channelFor(target))).batchId}/messages` }) },
  "GET /v1/stats/messages": {
    ok: 200,
    prepare: async (target) => {
      const { batchId } = await deliveryBatch(channelFor(target));
      return { url: "/v1/stats/messages", shows: (answer) => names(answer.body.batches).includes(batchId) };
    },
  },
  "GET /v1/events": {
    ok: 200,
    prepare: async (target) => {
      let batchId = "";
      const send = async (headers: Record<string, string>): Promise<HttpAnswer> => {
        const stream = await openEvents(headers);
        if (stream.answer) return stream.answer;
        const watcher = await openEvents({ authorization: `Bearer ${KEYS.admin}` });
        try {
          batchId = (await deliveryBatch(channelFor(target))).batchId;
          // Once the admin stream has the target's event, the other stream was sent whatever it
          // was going to get of it: a batch every key reaches then ends the read.
          await watcher.until(batchId);
          const marker = (await deliveryBatch("mock")).batchId;
          await stream.until(marker);
          return { status: 200, headers: new Headers(), body: undefined, text: stream.text() };
        } finally {
          await watcher.close();
          await stream.close();
        }
      };
      return { url: "/v1/events", send, shows: (answer) => answer.text.includes(batchId) };
    },
  },
  "POST /v1/recipients/:id/token": { ok: 200, prepare: async () => ({ url: `/v1/recipients/${q()}/token`, body: {} }) },
  // A plain GET with a good token is past auth: it is told to upgrade (400).
  "GET /v1/stream": {
    ok: 400,
    prepare: async () => ({ url: "/v1/stream", token: delivery().tokens.issue(q()).token }),
  },
  ...Object.fromEntries(
    (["delivered", "read"] as const).map((to): [string, RowCase] => [
      `POST /v1/messages/:id/${to}`,
      {
        ok: 200,
        prepare: async (target) => {
          const { logId, recipientId } = await deliveryBatch(channelFor(target));
          return { url: `/v1/messages/${logId}/${to}`, token: delivery().tokens.issue(recipientId).token };
        },
      },
    ]),
  ),
};

/** A live `GET /v1/events` (or another event stream); a refusal is answered as it came. */
async function openEvents(headers: Record<string, string>, path = "/v1/events") {
  const abort = new AbortController();
  const response = await fetch(`${server.url}${path}`, { headers, signal: abort.signal });
  if (response.status !== 200) {
    const text = await response.text();
    return { answer: { status: response.status, headers: response.headers, body: JSON.parse(text), text } as HttpAnswer, until: async () => undefined, text: () => "", close: async () => undefined };
  }
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  return {
    answer: undefined,
    text: () => text,
    async until(wanted: string): Promise<void> {
      while (!text.includes(wanted)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the event stream ended before ${wanted}: ${text}`);
        text += value;
      }
    },
    async close(): Promise<void> {
      abort.abort();
      await reader.cancel().catch(() => undefined);
    },
  };
}

// ── who calls ────────────────────────────────────────────────────────────────────────────

type Caller = "no key" | "admin" | "publisher" | "consumer";
type LimitedCaller = "limitedPublisher" | "limitedConsumer" | "limitedAdmin";

/** Keys without globs that hold the access (admin holds every scope). */
function holders(access: Access): Caller[] {
  if (access === "none") return ["no key"];
  if (access === "read") return ["admin", "publisher", "consumer"];
  return access === "admin" ? ["admin"] : ["admin", access === "publish" ? "publisher" : "consumer"];
}

function lackers(access: Access): Caller[] {
  if (access === "none" || access === "read") return [];
  return (["publisher", "consumer"] as const).filter((caller) => !holders(access).includes(caller));
}

/** The key with globs that holds the access. */
function limitedHolder(access: Access): LimitedCaller {
  if (access === "publish") return "limitedPublisher";
  if (access === "admin") return "limitedAdmin";
  return "limitedConsumer";
}

function keyHeader(caller: Caller | LimitedCaller): Record<string, string> {
  return caller === "no key" ? {} : { authorization: `Bearer ${KEYS[caller]}` };
}

describe("auth: the access table of docs/http-api.md", () => {
  it("has a row for every route the server registers, with the route's scope", () => {
    const problems: string[] = [];
    for (const route of servedRoutes()) {
      const name = `${route.method} ${route.url}`;
      const rows = TABLE.filter((row) => row.routes.some((rowRoute) => rowRouteCovers(rowRoute, route)));
      if (rows.length !== 1) {
        problems.push(`${name}: ${rows.length} rows`);
        continue;
      }
      const [row] = rows;
      // A recipient-token variant of a route authenticates itself (its access is "none").
      const access = route.constrained ? (row.token ? "none" : "no recipient token in the row") : row.access;
      if (route.access !== access) problems.push(`${name}: the server says ${route.access}, the table ${access}`);
      if (!route.constrained && route.unlimitedOnly !== (row.glob === "refused")) problems.push(`${name}: refuses keys with globs: server ${route.unlimitedOnly}, table ${row.glob}`);
    }
    expect(problems).toEqual([]);
  });

  it("names only routes the server has, each with a case here", () => {
    const served = servedRoutes();
    for (const row of TABLE) {
      expect(row.routes.length, row.line).toBeGreaterThan(0);
      for (const rowRoute of row.routes) expect(served.some((route) => rowRouteCovers(rowRoute, route)), `${rowRoute} is in the table, not in the server`).toBe(true);
    }
    expect(TABLE.map((row) => row.routes[0]).sort()).toEqual(Object.keys(CASES).sort());
  });

  describe.each(TABLE.filter((row) => CASES[row.routes[0]] !== undefined).map((row) => [row.routes[0], row] as const))("%s", (route, row) => {
    const method = route.split(" ")[0];
    const rowCase = CASES[route];

    /** Prepares the target, sends with `headers`, hands the answer to `check`, cleans up. */
    async function call(target: Target, headers: Record<string, string>, check: (send: () => Promise<HttpAnswer>, prepared: Prepared) => Promise<void>): Promise<void> {
      const prepared = await rowCase.prepare(target);
      try {
        const send = () => (prepared.send ? prepared.send(headers) : server.call(method, prepared.url, prepared.body, { headers }));
        await check(send, prepared);
      } finally {
        await prepared.after?.();
      }
    }

    const expectOk = async (target: Target, headers: Record<string, string>, shown?: boolean) =>
      call(target, headers, async (send, prepared) => {
        const answer = await send();
        expect(answer.status, answer.text.slice(0, 300)).toBe(rowCase.ok);
        if (shown !== undefined) expect(prepared.shows?.(answer), `shows the target (${target})`).toBe(shown);
      });

    const expectForbidden = (target: Target, headers: Record<string, string>, message: string) =>
      call(target, headers, async (send, prepared) => {
        const answer = await expectRefused(prepared.ids ?? [], 403, "forbidden", send);
        expect(answer.body.error.message).toContain(message);
      });

    if (row.token && row.access === "none") {
      it("refuses a request without a recipient token: 401", () => call("out", {}, async (send, prepared) => void (await expectRefused(prepared.ids ?? [], 401, "unauthorized", send))));
      it("takes the recipient's token", () => call("out", {}, async (_send, prepared) => {
        const answer = await server.call(method, prepared.url, prepared.body, { headers: { authorization: `Bearer ${prepared.token}` } });
        expect(answer.status, answer.text.slice(0, 300)).toBe(rowCase.ok);
      }));
      return;
    }

    if (row.access !== "none") {
      it("refuses a request without a key: 401", () => call("out", {}, async (send, prepared) => void (await expectRefused(prepared.ids ?? [], 401, "unauthorized", send))));
      it.each([
        ["an unknown key", `Bearer ${generateApiKey()}`],
        ["the admin key with its last character changed", `Bearer ${KEYS.admin.slice(0, -1)}${KEYS.admin.endsWith("A") ? "B" : "A"}`],
        ["the admin key's hash instead of the key", `Bearer ${hashApiKey(KEYS.admin)}`],
        ["Basic auth", `Basic ${Buffer.from(`admin:${KEYS.admin}`).toString("base64")}`],
        ["the key without a scheme", KEYS.admin],
        ["a scheme without a key", "Bearer"],
        ["two tokens", `Bearer ${KEYS.admin} ${KEYS.admin}`],
      ])("refuses %s with 401, changing nothing", (_name, authorization) =>
        call("out", { authorization }, async (send, prepared) => void (await expectRefused(prepared.ids ?? [], 401, "unauthorized", send))),
      );
    }

    it.each(lackers(row.access))(`refuses %s, which lacks the "${row.access}" scope: 403`, (caller) => expectForbidden("out", keyHeader(caller), `"${row.access}" scope`));

    it.each(holders(row.access))(`answers %s, a key without globs, ${rowCase.ok}`, (caller) => expectOk("out", keyHeader(caller), row.glob === "filtered" ? true : undefined));

    if (row.access === "none") return;
    const limited = keyHeader(limitedHolder(row.access));
    switch (row.glob) {
      case "checked":
        it("refuses a key with globs that miss the target: 403", () => expectForbidden("out", limited, "may not use queue"));
        it(`answers a key with globs that match the target ${rowCase.ok}`, () => expectOk("in", limited));
        break;
      case "filtered":
        it("shows a key with globs nothing out of its reach", () => expectOk("out", limited, false));
        it("shows a key with globs what it reaches", () => expectOk("in", limited, true));
        break;
      case "refused":
        it("refuses a key with globs, even on what they match: 403", () => expectForbidden("in", limited, "needs a key without queue globs"));
        break;
      case "none":
        it(`answers a key with globs ${rowCase.ok}: globs do not apply`, () => expectOk("out", limited));
        break;
    }

    if (row.token) {
      it("takes the recipient's own token for the recipient's messages", () => call("out", {}, async (_send, prepared) => {
        const answer = await server.call(method, prepared.url, prepared.body, { headers: { authorization: `Bearer ${prepared.token}` } });
        expect(answer.status, answer.text.slice(0, 300)).toBe(rowCase.ok);
      }));
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
    for (const verb of ["ack", "nack", "extend", "progress"] as const) {
      const { id, token } = await leasedMessage(`billing-${q()}`);
      const body = verb === "extend" ? { leaseToken: token, leaseMs: 1000 } : verb === "progress" ? { leaseToken: token, progress: 1 } : { leaseToken: token };
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
