/**
 * Bad input, route by route: every route of the HTTP API gets every kind of bad input that
 * applies to it (malformed JSON, wrong top-level types, wrong field types, missing and unknown
 * fields, out-of-range numbers, oversized request and message bodies, bad ids and names in the
 * path, stale and made-up lease tokens, wrong content types, missing bodies) over real HTTP.
 *
 * Each case asserts the status, `error.code`, a message that names what was wrong, the
 * `details` paths, that no stack trace leaves the server, that it is never a 500 — and that
 * NOTHING CHANGED: the whole observable state (queues with options and stats, exchanges, dead
 * letters, every fixture message's status) is the same after the request as before it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Spool } from "../../src/index.js";
import { startTestServer, type HttpAnswer, type TestServer } from "../helpers/http-server.js";

// ── the server and its fixture ───────────────────────────────────────────────────────────

/** Largest request body (small, so "oversized" stays cheap) and largest message body. */
const BODY_LIMIT_BYTES = 512 * 1024;
const MAX_BODY_BYTES = 64;
/** Deepest nesting of arrays and objects a JSON request body may have (docs/http-api.md). */
const MAX_JSON_DEPTH = 128;

interface Fixture {
  /** Ready message in `emails`. */
  ready: string;
  /** Delayed message in `emails`. */
  delayed: string;
  /** Leased message in `work`, its current token, and a token of an earlier lease of it. */
  leased: string;
  token: string;
  staleToken: string;
  /** Completed (acked) message in `work`, and the token it was acked with. */
  completed: string;
  completedToken: string;
  /** Dead letter in `graveyard`, and the token it was nacked with. */
  dead: string;
  deadToken: string;
}

let server: TestServer;
let fx: Fixture;

async function seed(spool: Spool): Promise<Fixture> {
  const emails = spool.queue("emails", { maxAttempts: 3, leaseMs: 600_000 });
  const ready = (await emails.publish({ to: "a@x.io" })).id;
  const delayed = (await emails.publish({ to: "b@x.io" }, { delayMs: 3_600_000, priority: 4 })).id;

  const work = spool.queue("work", { leaseMs: 600_000 });
  const completed = (await work.publish({ job: "done" })).id;
  const [done] = await spool.store.lease("work", { max: 1 });
  await spool.ack(done.id, done.leaseToken);
  const leased = (await work.publish({ job: "busy" }, { groupKey: "g1", headers: { h: "v" } })).id;
  const [first] = await spool.store.lease("work", { max: 1 });
  await spool.nack(first.id, first.leaseToken, { release: true });
  const [second] = await spool.store.lease("work", { max: 1 });
  expect([first.id, second.id]).toEqual([leased, leased]);

  spool.queue("graveyard", { maxAttempts: 1 });
  const dead = (await spool.publish("graveyard", { job: "doomed" })).id;
  const [doomed] = await spool.store.lease("graveyard", { max: 1 });
  await spool.nack(doomed.id, doomed.leaseToken, { error: { message: "boom", kind: "permanent" } });

  await spool.queue("paused-q").info();
  await spool.store.setPaused("paused-q", true);

  await spool.declareExchange("events", "topic");
  await spool.bind("events", "emails", "user.*");
  await spool.declareExchange("broadcast", "fanout");
  await spool.bind("broadcast", "work");
  await spool.schedule("nightly", { cron: "0 0 3 1 1 *", queue: "emails", body: { report: true } });

  return {
    ready,
    delayed,
    leased,
    token: second.leaseToken,
    staleToken: first.leaseToken,
    completed,
    completedToken: done.leaseToken,
    dead,
    deadToken: doomed.leaseToken,
  };
}

/** Everything a client could observe, through the library: must not move on bad input. */
async function observe(spool: Spool): Promise<unknown> {
  const queues = [];
  for (const info of (await spool.queues()).sort((a, b) => a.name.localeCompare(b.name))) {
    const { oldestReadyAgeMs: _age, ...stats } = await spool.store.stats(info.name); // the only field that moves with time
    const dead = await spool.store.listDead(info.name, { limit: 1000 });
    queues.push({ info, stats, dead });
  }
  const exchanges = (await spool.exchanges()).sort((a, b) => a.name.localeCompare(b.name));
  const schedules = await spool.schedules();
  const ids = [fx.ready, fx.delayed, fx.leased, fx.completed, fx.dead];
  const statuses = await Promise.all(ids.map((id) => spool.status(id)));
  return { queues, exchanges, schedules, statuses };
}

let baseline: unknown;

beforeAll(async () => {
  server = await startTestServer({ bodyLimitBytes: BODY_LIMIT_BYTES, maxBodyBytes: MAX_BODY_BYTES });
  fx = await seed(server.spool);
  baseline = await observe(server.spool);
});

afterAll(async () => {
  await server?.close();
});

// ── the routes ───────────────────────────────────────────────────────────────────────────

type Method = "GET" | "POST" | "PUT" | "DELETE";
type ParamName = "q" | "id" | "x" | "name";
type Params = Partial<Record<ParamName, string>>;
type Json = Record<string, unknown>;

interface RouteSpec {
  method: Method;
  /** As /openapi.json spells it. */
  path: string;
  /** Valid path parameters naming existing things (a wrongly accepted request would change them). */
  params: (f: Fixture) => Params;
  /** A valid body; absent when the route takes none. */
  body?: (f: Fixture) => Json;
  /** The route's body has required fields: sending none is bad input. */
  bodyRequired?: boolean;
  /** Takes a message body (`maxBodyBytes` applies) at this path of the request. */
  messageBodyAt?: (f: Fixture, big: string) => { body: Json; path: string };
  /** Settles a lease: stale and made-up tokens apply. */
  leaseSettle?: boolean;
  /** What an unknown (well-formed) name or id in the path answers, per parameter. */
  unknown?: Partial<Record<ParamName, { value: string; status: number; code: string }>>;
  /** Field-level cases specific to the route. */
  fields?: FieldCase[];
}

type Kind =
  | "malformed JSON"
  | "wrong top-level type"
  | "wrong field type"
  | "missing field"
  | "unknown field"
  | "out of range"
  | "oversized request"
  | "oversized message body"
  | "bad path parameter"
  | "unknown name or id"
  | "stale or made-up lease token"
  | "wrong content type"
  | "no body"
  | "too deep"
  | "bad query"
  | "junk query"
  | "conflict";

interface FieldCase {
  kind: Kind;
  name: string;
  body: (f: Fixture) => unknown;
  /** Detail paths the answer must carry; the first must appear in the message. */
  paths: string[];
  status?: number;
  code?: string;
  /** Extra text the message must contain (instead of the first path). */
  message?: RegExp;
  params?: (f: Fixture) => Params;
}

const NOT_FOUND = (value: string) => ({ value, status: 404, code: "not_found" });
const long = (n: number) => "a".repeat(n);
/** JSON text of arrays nested `levels` deep. */
const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

/** `body` as JSON text with its first field's value replaced by arrays nested `levels` deep. */
function nestedIn(body: Json, levels: number): string {
  const [first = "body"] = Object.keys(body);
  return JSON.stringify({ ...body, [first]: "@nested@" }).replace('"@nested@"', nested(levels));
}

function withExtra(body: (f: Fixture) => Json, extra: Json): (f: Fixture) => Json {
  return (f) => ({ ...body(f), ...extra });
}

/** Field cases shared by the single publish and the exchange publish (same option fields). */
function publishOptionCases(valid: (f: Fixture) => Json): FieldCase[] {
  const w = (extra: Json) => withExtra(valid, extra);
  return [
    { kind: "wrong field type", name: "priority as a string", body: w({ priority: "high" }), paths: ["/priority"] },
    { kind: "wrong field type", name: "header value not a string", body: w({ headers: { a: 1 } }), paths: ["/headers/a"] },
    { kind: "wrong field type", name: "headers as an array", body: w({ headers: ["a"] }), paths: ["/headers"] },
    { kind: "wrong field type", name: "delayMs as a string", body: w({ delayMs: "10" }), paths: ["/delayMs"] },
    { kind: "wrong field type", name: "availableAt as a boolean", body: w({ availableAt: true }), paths: ["/availableAt"] },
    {
      kind: "wrong field type",
      name: "availableAt without a time zone",
      body: w({ availableAt: "2030-01-01T00:00:00" }),
      paths: ["/availableAt"],
      message: /must be epoch ms \(an integer >= 0\) or an ISO 8601 date-time with a zone \(Z or ±hh:mm\), got "2030-01-01T00:00:00"/,
    },
    { kind: "wrong field type", name: "dedupKey as a number", body: w({ dedupKey: 5 }), paths: ["/dedupKey"] },
    { kind: "wrong field type", name: "groupKey as an array", body: w({ groupKey: ["g"] }), paths: ["/groupKey"] },
    { kind: "unknown field", name: "an unknown option", body: w({ bogus: 1 }), paths: ["/bogus"] },
    { kind: "unknown field", name: "a misspelt option", body: w({ prority: 1 }), paths: ["/prority"] },
    { kind: "out of range", name: "priority 10", body: w({ priority: 10 }), paths: ["/priority"] },
    { kind: "out of range", name: "priority -1", body: w({ priority: -1 }), paths: ["/priority"] },
    { kind: "out of range", name: "priority 1.5", body: w({ priority: 1.5 }), paths: ["/priority"] },
    { kind: "out of range", name: "delayMs -1", body: w({ delayMs: -1 }), paths: ["/delayMs"] },
    { kind: "out of range", name: "delayMs over a year", body: w({ delayMs: 367 * 86_400_000 }), paths: ["/delayMs"] },
    { kind: "out of range", name: "availableAt -1", body: w({ availableAt: -1 }), paths: ["/availableAt"] },
    { kind: "out of range", name: "maxAttempts 0", body: w({ maxAttempts: 0 }), paths: ["/maxAttempts"] },
    { kind: "out of range", name: "ttlMs 0", body: w({ ttlMs: 0 }), paths: ["/ttlMs"] },
    { kind: "out of range", name: "empty dedupKey", body: w({ dedupKey: "" }), paths: ["/dedupKey"] },
    { kind: "out of range", name: "idempotencyKey of 513 characters", body: w({ idempotencyKey: long(513) }), paths: ["/idempotencyKey"] },
    {
      kind: "out of range",
      name: "delayMs and availableAt together",
      body: w({ delayMs: 10, availableAt: 1_000 }),
      paths: ["/availableAt"],
      message: /delayMs or availableAt/,
    },
  ];
}

const publishBody = () => ({ body: { to: "z@x.io" } });
const exchangePublishBody = () => ({ routingKey: "user.created", body: { to: "z@x.io" } });
const leaseUnknownIds = {
  id: { value: "01ZZZZZZZZZZZZZZZZZZZZZZZZ", status: 409, code: "lease_lost" },
};

/** Routes with a querystring schema: an unknown parameter is refused there, ignored elsewhere. */
const QUERY_CHECKED = new Set(["/v1/queues/{q}/dead", "/v1/events", "/v1/queues/{q}/messages", "/v1/stats/stream"]);

const ROUTES: RouteSpec[] = [
  { method: "GET", path: "/health/live", params: () => ({}) },
  { method: "GET", path: "/health/ready", params: () => ({}) },
  { method: "GET", path: "/v1/queues", params: () => ({}) },
  { method: "GET", path: "/v1/whoami", params: () => ({}) },
  // A stream: only its refusals are asked here (test/server/dashboard-routes.test.ts reads it).
  { method: "GET", path: "/v1/stats/stream", params: () => ({}) },
  {
    method: "PUT",
    path: "/v1/queues/{q}",
    params: () => ({ q: "emails" }),
    body: () => ({ maxAttempts: 4 }),
    fields: [
      { kind: "wrong field type", name: "maxAttempts as a string", body: () => ({ maxAttempts: "3" }), paths: ["/maxAttempts"] },
      { kind: "wrong field type", name: "backoff as a string", body: () => ({ backoff: "fast" }), paths: ["/backoff"] },
      { kind: "wrong field type", name: "rateLimit.max as a string", body: () => ({ rateLimit: { max: "1", intervalMs: 1000 } }), paths: ["/rateLimit/max"] },
      { kind: "wrong field type", name: "overflow as a number", body: () => ({ overflow: 5 }), paths: ["/overflow"] },
      { kind: "wrong field type", name: "overflow not one of its values", body: () => ({ overflow: "drop" }), paths: ["/overflow"] },
      { kind: "missing field", name: "rateLimit without intervalMs", body: () => ({ rateLimit: { max: 1 } }), paths: ["/rateLimit/intervalMs"] },
      { kind: "unknown field", name: "an unknown option", body: () => ({ maxAttempts: 4, bogus: 1 }), paths: ["/bogus"] },
      { kind: "unknown field", name: "an unknown backoff option", body: () => ({ backoff: { extra: 1 } }), paths: ["/backoff/extra"] },
      { kind: "out of range", name: "maxAttempts 0", body: () => ({ maxAttempts: 0 }), paths: ["/maxAttempts"] },
      { kind: "out of range", name: "leaseMs 0", body: () => ({ leaseMs: 0 }), paths: ["/leaseMs"] },
      { kind: "out of range", name: "leaseMs over 12 h", body: () => ({ leaseMs: 12 * 3_600_000 + 1 }), paths: ["/leaseMs"] },
      { kind: "out of range", name: "backoff.factor 0.5", body: () => ({ backoff: { factor: 0.5 } }), paths: ["/backoff/factor"] },
      { kind: "out of range", name: "maxLength 0", body: () => ({ maxLength: 0 }), paths: ["/maxLength"] },
      { kind: "out of range", name: "completedRetentionMs -1", body: () => ({ completedRetentionMs: -1 }), paths: ["/completedRetentionMs"] },
    ],
  },
  { method: "GET", path: "/v1/queues/{q}", params: () => ({ q: "emails" }), unknown: { q: NOT_FOUND("nope") } },
  { method: "DELETE", path: "/v1/queues/{q}", params: () => ({ q: "emails" }), unknown: { q: NOT_FOUND("nope") } },
  { method: "POST", path: "/v1/queues/{q}/pause", params: () => ({ q: "emails" }), unknown: { q: NOT_FOUND("nope") } },
  { method: "POST", path: "/v1/queues/{q}/resume", params: () => ({ q: "paused-q" }), unknown: { q: NOT_FOUND("nope") } },
  { method: "POST", path: "/v1/queues/{q}/purge", params: () => ({ q: "emails" }), unknown: { q: NOT_FOUND("nope") } },
  { method: "GET", path: "/v1/queues/{q}/messages", params: () => ({ q: "emails" }), unknown: { q: NOT_FOUND("nope") } },
  {
    method: "POST",
    path: "/v1/queues/{q}/messages",
    params: () => ({ q: "emails" }),
    body: publishBody,
    bodyRequired: true,
    messageBodyAt: (_f, big) => ({ body: { body: big }, path: "/body" }),
    fields: [
      { kind: "missing field", name: "no body field", body: () => ({}), paths: ["/body"] },
      { kind: "missing field", name: "options without a body field", body: () => ({ priority: 1 }), paths: ["/body"] },
      ...publishOptionCases(publishBody),
    ],
  },
  {
    method: "POST",
    path: "/v1/queues/{q}/messages/batch",
    params: () => ({ q: "emails" }),
    body: () => ({ messages: [{ body: 1 }] }),
    bodyRequired: true,
    messageBodyAt: (_f, big) => ({ body: { messages: [{ body: 1 }, { body: big }] }, path: "/messages/1/body" }),
    fields: [
      { kind: "wrong field type", name: "messages as a string", body: () => ({ messages: "x" }), paths: ["/messages"] },
      { kind: "wrong field type", name: "an item that is not an object", body: () => ({ messages: [{ body: 1 }, 5] }), paths: ["/messages/1"] },
      {
        kind: "wrong field type",
        name: "the fourth item's priority as a string",
        body: () => ({ messages: [{ body: 1 }, { body: 2 }, { body: 3 }, { body: 4, priority: "x" }] }),
        paths: ["/messages/3/priority"],
      },
      {
        kind: "wrong field type",
        name: "two bad items: one detail per bad index",
        body: () => ({ messages: [{ body: 1, priority: "x" }, { body: 2 }, { body: 3, delayMs: -1 }] }),
        paths: ["/messages/0/priority", "/messages/2/delayMs"],
      },
      { kind: "missing field", name: "no messages", body: () => ({}), paths: ["/messages"] },
      { kind: "missing field", name: "an item without a body", body: () => ({ messages: [{ body: 1 }, { priority: 1 }] }), paths: ["/messages/1/body"] },
      { kind: "unknown field", name: "an unknown top-level field", body: () => ({ messages: [{ body: 1 }], bogus: 1 }), paths: ["/bogus"] },
      { kind: "unknown field", name: "an unknown item option", body: () => ({ messages: [{ body: 1 }, { body: 2, bogus: 1 }] }), paths: ["/messages/1/bogus"] },
      { kind: "out of range", name: "no items", body: () => ({ messages: [] }), paths: ["/messages"] },
      { kind: "out of range", name: "10,001 items", body: () => ({ messages: Array.from({ length: 10_001 }, () => ({ body: 1 })) }), paths: ["/messages"] },
      { kind: "out of range", name: "an item with priority 10", body: () => ({ messages: [{ body: 1 }, { body: 2, priority: 10 }] }), paths: ["/messages/1/priority"] },
      {
        kind: "out of range",
        name: "an item with delayMs and availableAt together",
        body: () => ({ messages: [{ body: 1 }, { body: 2, delayMs: 10, availableAt: 1_000 }] }),
        paths: ["/messages/1/availableAt"],
      },
    ],
  },
  {
    method: "POST",
    path: "/v1/queues/{q}/lease",
    params: () => ({ q: "emails" }),
    body: () => ({ max: 1 }),
    fields: [
      { kind: "wrong field type", name: "max as a string", body: () => ({ max: "1" }), paths: ["/max"] },
      { kind: "wrong field type", name: "waitMs as a boolean", body: () => ({ waitMs: true }), paths: ["/waitMs"] },
      { kind: "wrong field type", name: "leaseMs as a string", body: () => ({ leaseMs: "5" }), paths: ["/leaseMs"] },
      { kind: "unknown field", name: "an unknown field", body: () => ({ max: 1, bogus: 1 }), paths: ["/bogus"] },
      { kind: "out of range", name: "max 0", body: () => ({ max: 0 }), paths: ["/max"] },
      { kind: "out of range", name: "max 1001", body: () => ({ max: 1001 }), paths: ["/max"] },
      { kind: "out of range", name: "max 1.5", body: () => ({ max: 1.5 }), paths: ["/max"] },
      { kind: "out of range", name: "waitMs -1", body: () => ({ waitMs: -1 }), paths: ["/waitMs"] },
      { kind: "out of range", name: "waitMs over 30 s", body: () => ({ waitMs: 30_001 }), paths: ["/waitMs"] },
      { kind: "out of range", name: "leaseMs 0", body: () => ({ leaseMs: 0 }), paths: ["/leaseMs"] },
    ],
  },
  {
    method: "POST",
    path: "/v1/messages/{id}/ack",
    params: (f) => ({ id: f.leased }),
    body: (f) => ({ leaseToken: f.token }),
    bodyRequired: true,
    leaseSettle: true,
    unknown: leaseUnknownIds,
    fields: [
      { kind: "wrong field type", name: "leaseToken as a number", body: () => ({ leaseToken: 5 }), paths: ["/leaseToken"] },
      { kind: "missing field", name: "no leaseToken", body: () => ({}), paths: ["/leaseToken"] },
      { kind: "unknown field", name: "an unknown field beside a valid token", body: (f) => ({ leaseToken: f.token, bogus: 1 }), paths: ["/bogus"] },
      { kind: "out of range", name: "an empty leaseToken", body: () => ({ leaseToken: "" }), paths: ["/leaseToken"] },
      { kind: "out of range", name: "a leaseToken of 129 characters", body: () => ({ leaseToken: long(129) }), paths: ["/leaseToken"] },
    ],
  },
  {
    method: "POST",
    path: "/v1/messages/{id}/nack",
    params: (f) => ({ id: f.leased }),
    body: (f) => ({ leaseToken: f.token }),
    bodyRequired: true,
    leaseSettle: true,
    unknown: leaseUnknownIds,
    fields: [
      { kind: "wrong field type", name: "error as a string", body: (f) => ({ leaseToken: f.token, error: "boom" }), paths: ["/error"] },
      { kind: "wrong field type", name: "error.message as a number", body: (f) => ({ leaseToken: f.token, error: { message: 5 } }), paths: ["/error/message"] },
      { kind: "wrong field type", name: "release as a string", body: (f) => ({ leaseToken: f.token, release: "yes" }), paths: ["/release"] },
      { kind: "wrong field type", name: "delayMs as a string", body: (f) => ({ leaseToken: f.token, delayMs: "5" }), paths: ["/delayMs"] },
      { kind: "missing field", name: "no leaseToken", body: () => ({ error: { message: "x" } }), paths: ["/leaseToken"] },
      { kind: "missing field", name: "error without a message", body: (f) => ({ leaseToken: f.token, error: { kind: "transient" } }), paths: ["/error/message"] },
      { kind: "unknown field", name: "an unknown field", body: (f) => ({ leaseToken: f.token, bogus: 1 }), paths: ["/bogus"] },
      { kind: "unknown field", name: "an unknown error field", body: (f) => ({ leaseToken: f.token, error: { message: "x", stack: "at x" } }), paths: ["/error/stack"] },
      { kind: "out of range", name: "delayMs -1", body: (f) => ({ leaseToken: f.token, delayMs: -1 }), paths: ["/delayMs"] },
      { kind: "out of range", name: "delayMs over a year", body: (f) => ({ leaseToken: f.token, delayMs: 367 * 86_400_000 }), paths: ["/delayMs"] },
      { kind: "out of range", name: "an unknown error kind", body: (f) => ({ leaseToken: f.token, error: { message: "x", kind: "fatal" } }), paths: ["/error/kind"] },
      { kind: "out of range", name: "an error message of 2001 characters", body: (f) => ({ leaseToken: f.token, error: { message: long(2001) } }), paths: ["/error/message"] },
    ],
  },
  {
    method: "POST",
    path: "/v1/messages/{id}/extend",
    params: (f) => ({ id: f.leased }),
    body: (f) => ({ leaseToken: f.token, leaseMs: 1000 }),
    bodyRequired: true,
    leaseSettle: true,
    unknown: leaseUnknownIds,
    fields: [
      { kind: "wrong field type", name: "leaseMs as a string", body: (f) => ({ leaseToken: f.token, leaseMs: "1000" }), paths: ["/leaseMs"] },
      { kind: "missing field", name: "no leaseMs", body: (f) => ({ leaseToken: f.token }), paths: ["/leaseMs"] },
      { kind: "missing field", name: "no leaseToken", body: () => ({ leaseMs: 1000 }), paths: ["/leaseToken"] },
      { kind: "unknown field", name: "an unknown field", body: (f) => ({ leaseToken: f.token, leaseMs: 1000, bogus: 1 }), paths: ["/bogus"] },
      { kind: "out of range", name: "leaseMs 0", body: (f) => ({ leaseToken: f.token, leaseMs: 0 }), paths: ["/leaseMs"] },
      { kind: "out of range", name: "leaseMs over 12 h", body: (f) => ({ leaseToken: f.token, leaseMs: 12 * 3_600_000 + 1 }), paths: ["/leaseMs"] },
    ],
  },
  {
    method: "POST",
    path: "/v1/messages/{id}/progress",
    params: (f) => ({ id: f.leased }),
    body: (f) => ({ leaseToken: f.token, progress: 1 }),
    bodyRequired: true,
    leaseSettle: true,
    unknown: leaseUnknownIds,
    fields: [
      { kind: "wrong field type", name: "log as a number", body: (f) => ({ leaseToken: f.token, log: 5 }), paths: ["/log"] },
      { kind: "wrong field type", name: "a log line as a number", body: (f) => ({ leaseToken: f.token, log: ["a", 5] }), paths: ["/log"] },
      { kind: "missing field", name: "no leaseToken", body: () => ({ progress: 1 }), paths: ["/leaseToken"] },
      { kind: "unknown field", name: "an unknown field", body: (f) => ({ leaseToken: f.token, progress: 1, bogus: 1 }), paths: ["/bogus"] },
      { kind: "out of range", name: "51 log lines", body: (f) => ({ leaseToken: f.token, log: Array.from({ length: 51 }, () => "x") }), paths: ["/log"] },
    ],
  },
  {
    method: "POST",
    path: "/v1/acks",
    params: () => ({}),
    body: (f) => ({ acks: [{ id: f.leased, leaseToken: f.token }] }),
    bodyRequired: true,
    fields: [
      { kind: "wrong field type", name: "acks as an object", body: () => ({ acks: {} }), paths: ["/acks"] },
      { kind: "wrong field type", name: "an item id as a number", body: (f) => ({ acks: [{ id: 5, leaseToken: f.token }] }), paths: ["/acks/0/id"] },
      { kind: "missing field", name: "no acks", body: () => ({}), paths: ["/acks"] },
      { kind: "missing field", name: "an item without leaseToken", body: (f) => ({ acks: [{ id: f.leased }] }), paths: ["/acks/0/leaseToken"] },
      { kind: "unknown field", name: "an unknown field", body: (f) => ({ acks: [{ id: f.leased, leaseToken: f.token }], bogus: 1 }), paths: ["/bogus"] },
      { kind: "unknown field", name: "an unknown item field", body: (f) => ({ acks: [{ id: f.leased, leaseToken: f.token, extra: 1 }] }), paths: ["/acks/0/extra"] },
      { kind: "out of range", name: "no items", body: () => ({ acks: [] }), paths: ["/acks"] },
      { kind: "out of range", name: "10,001 items", body: () => ({ acks: Array.from({ length: 10_001 }, () => ({ id: "a", leaseToken: "b" })) }), paths: ["/acks"] },
      { kind: "bad path parameter", name: "an item id with bad characters", body: (f) => ({ acks: [{ id: "a$b", leaseToken: f.token }] }), paths: ["/acks/0/id"] },
      { kind: "bad path parameter", name: "an item id of 65 characters", body: (f) => ({ acks: [{ id: long(65), leaseToken: f.token }] }), paths: ["/acks/0/id"] },
    ],
  },
  { method: "GET", path: "/v1/messages/{id}", params: (f) => ({ id: f.leased }), unknown: { id: NOT_FOUND("01ZZZZZZZZZZZZZZZZZZZZZZZZ") } },
  { method: "GET", path: "/v1/messages/{id}/body", params: (f) => ({ id: f.leased }), unknown: { id: NOT_FOUND("01ZZZZZZZZZZZZZZZZZZZZZZZZ") } },
  { method: "GET", path: "/v1/queues/{q}/dead", params: () => ({ q: "graveyard" }), unknown: { q: NOT_FOUND("nope") } },
  { method: "DELETE", path: "/v1/queues/{q}/dead", params: () => ({ q: "graveyard" }), unknown: { q: NOT_FOUND("nope") } },
  {
    method: "POST",
    path: "/v1/queues/{q}/dead/replay",
    params: () => ({ q: "graveyard" }),
    body: () => ({ all: true }),
    bodyRequired: true,
    unknown: { q: NOT_FOUND("nope") },
    fields: [
      { kind: "wrong field type", name: "ids as a string", body: () => ({ ids: "x" }), paths: ["/"] },
      { kind: "wrong field type", name: "all as a string", body: () => ({ all: "yes" }), paths: ["/"] },
      { kind: "missing field", name: "neither ids nor all", body: () => ({}), paths: ["/"] },
      { kind: "unknown field", name: "an unknown field beside all", body: () => ({ all: true, bogus: 1 }), paths: ["/"] },
      { kind: "out of range", name: "all: false", body: () => ({ all: false }), paths: ["/"] },
      { kind: "out of range", name: "no ids", body: () => ({ ids: [] }), paths: ["/"] },
      { kind: "bad path parameter", name: "an id with bad characters", body: () => ({ ids: ["a$b"] }), paths: ["/"] },
    ],
  },
  {
    method: "DELETE",
    path: "/v1/queues/{q}/dead/{id}",
    params: (f) => ({ q: "graveyard", id: f.dead }),
    unknown: { q: NOT_FOUND("nope"), id: NOT_FOUND("01ZZZZZZZZZZZZZZZZZZZZZZZZ") },
  },
  { method: "GET", path: "/v1/exchanges", params: () => ({}) },
  // A valid request is a stream that stays open: only refused queries are sent to it here.
  { method: "GET", path: "/v1/events", params: () => ({}) },
  {
    method: "PUT",
    path: "/v1/exchanges/{x}",
    params: () => ({ x: "events" }),
    body: () => ({ type: "topic" }),
    bodyRequired: true,
    fields: [
      { kind: "wrong field type", name: "type as a number", body: () => ({ type: 5 }), paths: ["/type"] },
      { kind: "missing field", name: "no type", body: () => ({}), paths: ["/type"] },
      { kind: "unknown field", name: "an unknown field", body: () => ({ type: "topic", durable: true }), paths: ["/durable"] },
      { kind: "out of range", name: "an unknown type", body: () => ({ type: "headers" }), paths: ["/type"] },
      { kind: "conflict", name: "another type than the existing one", body: () => ({ type: "fanout" }), paths: [], status: 409, code: "conflict", message: /topic/ },
      { kind: "bad path parameter", name: "the default exchange", body: () => ({ type: "topic" }), paths: [], params: () => ({ x: "" }), message: /default exchange/ },
    ],
  },
  {
    method: "DELETE",
    path: "/v1/exchanges/{x}",
    params: () => ({ x: "events" }),
    unknown: { x: NOT_FOUND("nope") },
  },
  {
    method: "POST",
    path: "/v1/exchanges/{x}/bindings",
    params: () => ({ x: "events" }),
    body: () => ({ queue: "work", bindingKey: "job.*" }),
    bodyRequired: true,
    unknown: { x: NOT_FOUND("nope") },
    fields: [
      { kind: "wrong field type", name: "queue as a number", body: () => ({ queue: 5 }), paths: ["/queue"] },
      { kind: "wrong field type", name: "bindingKey as a number", body: () => ({ queue: "work", bindingKey: 5 }), paths: ["/bindingKey"] },
      { kind: "missing field", name: "no queue", body: () => ({ bindingKey: "job.*" }), paths: ["/queue"] },
      { kind: "unknown field", name: "an unknown field", body: () => ({ queue: "work", bogus: 1 }), paths: ["/bogus"] },
      { kind: "out of range", name: "a bindingKey of 256 characters", body: () => ({ queue: "work", bindingKey: long(256) }), paths: ["/bindingKey"] },
      { kind: "bad path parameter", name: "a queue name with a space", body: () => ({ queue: "bad name" }), paths: ["/queue"] },
      { kind: "bad path parameter", name: "an empty queue name", body: () => ({ queue: "" }), paths: ["/queue"] },
      { kind: "bad path parameter", name: "a queue name of 201 characters", body: () => ({ queue: long(201) }), paths: ["/queue"] },
      { kind: "bad path parameter", name: "the default exchange", body: () => ({ queue: "work" }), paths: [], params: () => ({ x: "" }), message: /default exchange/ },
    ],
  },
  {
    method: "DELETE",
    path: "/v1/exchanges/{x}/bindings",
    params: () => ({ x: "events" }),
    body: () => ({ queue: "emails", bindingKey: "user.*" }),
    bodyRequired: true,
    unknown: { x: NOT_FOUND("nope") },
    fields: [
      { kind: "wrong field type", name: "queue as a number", body: () => ({ queue: 5 }), paths: ["/queue"] },
      { kind: "missing field", name: "no queue", body: () => ({ bindingKey: "user.*" }), paths: ["/queue"] },
      { kind: "unknown field", name: "an unknown field", body: () => ({ queue: "emails", bindingKey: "user.*", bogus: 1 }), paths: ["/bogus"] },
      { kind: "bad path parameter", name: "a queue name with bad characters", body: () => ({ queue: "a$b" }), paths: ["/queue"] },
      { kind: "unknown name or id", name: "a binding that does not exist", body: () => ({ queue: "emails", bindingKey: "nope.*" }), paths: [], status: 404, code: "not_found", message: /nope\.\*/ },
    ],
  },
  {
    method: "POST",
    path: "/v1/exchanges/{x}/publish",
    params: () => ({ x: "events" }),
    body: exchangePublishBody,
    bodyRequired: true,
    unknown: { x: NOT_FOUND("nope") },
    messageBodyAt: (_f, big) => ({ body: { routingKey: "user.created", body: big }, path: "/body" }),
    fields: [
      { kind: "wrong field type", name: "routingKey as a number", body: () => ({ routingKey: 5, body: 1 }), paths: ["/routingKey"] },
      { kind: "missing field", name: "no body field", body: () => ({ routingKey: "user.created" }), paths: ["/body"] },
      { kind: "out of range", name: "a routingKey of 256 characters", body: () => ({ routingKey: long(256), body: 1 }), paths: ["/routingKey"] },
      {
        kind: "bad path parameter",
        name: "a routing key that is no queue name, on the default exchange",
        body: () => ({ routingKey: "a b", body: 1 }),
        params: () => ({ x: "" }),
        paths: [],
        message: /routing key/,
      },
      ...publishOptionCases(exchangePublishBody),
    ],
  },
  { method: "GET", path: "/v1/schedules", params: () => ({}) },
  { method: "GET", path: "/v1/schedules/{name}", params: () => ({ name: "nightly" }), unknown: { name: NOT_FOUND("nope") } },
  {
    method: "PUT",
    path: "/v1/schedules/{name}",
    params: () => ({ name: "nightly" }),
    body: () => ({ cron: "0 0 3 1 1 *", queue: "emails", body: { report: true } }),
    bodyRequired: true,
    messageBodyAt: (_f, big) => ({ body: { cron: "0 0 3 1 1 *", queue: "emails", body: big }, path: "/body" }),
    fields: [
      { kind: "wrong field type", name: "everyMs as a string", body: () => ({ everyMs: "1000", queue: "emails", body: 1 }), paths: ["/everyMs"] },
      { kind: "wrong field type", name: "options as a string", body: () => ({ everyMs: 1000, queue: "emails", body: 1, options: "x" }), paths: ["/options"] },
      { kind: "missing field", name: "no queue", body: () => ({ everyMs: 1000, body: 1 }), paths: ["/queue"] },
      { kind: "missing field", name: "neither cron nor everyMs", body: () => ({ queue: "emails", body: 1 }), paths: ["/"], message: /exactly one of cron or everyMs/ },
      { kind: "unknown field", name: "an unknown field", body: () => ({ everyMs: 1000, queue: "emails", body: 1, bogus: 1 }), paths: ["/bogus"] },
      { kind: "unknown field", name: "an idempotencyKey among the message options", body: () => ({ everyMs: 1000, queue: "emails", body: 1, options: { idempotencyKey: "k" } }), paths: ["/options/idempotencyKey"] },
      { kind: "out of range", name: "everyMs 5", body: () => ({ everyMs: 5, queue: "emails", body: 1 }), paths: ["/everyMs"] },
      { kind: "out of range", name: "a cron minute of 61", body: () => ({ cron: "61 * * * *", queue: "emails", body: 1 }), paths: ["/cron"], message: /cron/ },
      { kind: "wrong field type", name: "a cron that is no pattern", body: () => ({ cron: "every day", queue: "emails", body: 1 }), paths: ["/cron"], message: /cron/ },
      { kind: "out of range", name: "an unknown time zone", body: () => ({ cron: "0 9 * * *", tz: "Mars/Olympus", queue: "emails", body: 1 }), paths: ["/tz"], message: /Mars/ },
      { kind: "out of range", name: 'catchUp "all"', body: () => ({ everyMs: 1000, queue: "emails", body: 1, catchUp: "all" }), paths: ["/catchUp"] },
      { kind: "bad path parameter", name: "a queue name with a space", body: () => ({ everyMs: 1000, queue: "a b", body: 1 }), paths: ["/queue"] },
    ],
  },
  { method: "POST", path: "/v1/schedules/{name}/pause", params: () => ({ name: "nightly" }), unknown: { name: NOT_FOUND("nope") } },
  { method: "POST", path: "/v1/schedules/{name}/resume", params: () => ({ name: "nightly" }), unknown: { name: NOT_FOUND("nope") } },
  { method: "DELETE", path: "/v1/schedules/{name}", params: () => ({ name: "nightly" }), unknown: { name: NOT_FOUND("nope") } },
  { method: "POST", path: "/v1/admin/snapshot", params: () => ({}) },
  {
    method: "POST",
    path: "/v1/admin/workers/{q}/scale",
    params: () => ({ q: "emails" }),
    body: () => ({ concurrency: 2 }),
    bodyRequired: true,
    fields: [
      { kind: "wrong field type", name: "concurrency as a string", body: () => ({ concurrency: "2" }), paths: ["/concurrency"] },
      { kind: "missing field", name: "no concurrency", body: () => ({}), paths: ["/concurrency"] },
      { kind: "unknown field", name: "an unknown field", body: () => ({ concurrency: 2, bogus: 1 }), paths: ["/bogus"] },
      { kind: "out of range", name: "concurrency 0", body: () => ({ concurrency: 0 }), paths: ["/concurrency"] },
      { kind: "out of range", name: "concurrency 10,001", body: () => ({ concurrency: 10_001 }), paths: ["/concurrency"] },
      { kind: "unknown name or id", name: "a queue this server runs no worker on", body: () => ({ concurrency: 2 }), paths: [], status: 404, code: "not_found", message: /no worker/ },
    ],
  },
];

// ── the cases ────────────────────────────────────────────────────────────────────────────

interface Request {
  method: Method;
  url: string;
  /** JSON value to send, or raw text with a content type; absent = no body at all. */
  json?: unknown;
  raw?: { text: string; contentType: string };
  /** Send the body as a stream (chunked, no content-length). */
  chunked?: boolean;
}

interface Expectation {
  status: number;
  code: string;
  /** Each must match the message. */
  message: Array<string | RegExp>;
  /** Each must be the path of one of the details. */
  paths: string[];
}

interface Case {
  route: string;
  kind: Kind;
  name: string;
  request: (f: Fixture) => Request;
  expect: (f: Fixture) => Expectation;
  /** Check the answer some other way than as an error (bulk acks answer 200 per item). */
  check?: (answer: HttpAnswer, f: Fixture) => void;
}

const routeKey = (route: Pick<RouteSpec, "method" | "path">) => `${route.method} ${route.path}`;

/** The path with parameters filled in: `encode` values are URL-encoded, `raw` ones inserted as they are. */
function urlOf(route: RouteSpec, params: Params, raw: Params = {}): string {
  return route.path.replace(/\{(q|id|x|name)\}/g, (_, name: ParamName) => raw[name] ?? encodeURIComponent(params[name] ?? ""));
}

const validation = (message: Array<string | RegExp>, paths: string[] = []): Expectation => ({ status: 400, code: "validation_failed", message, paths });

/** Bad values for each kind of path parameter: [what, raw value, what the message must say]. */
const BAD_PARAMS: Record<ParamName, Array<[string, string, Array<string | RegExp>]>> = {
  q: [
    ["201 characters", long(201), ["params /q"]],
    ["2,000 characters", long(2000), [/too long|characters/]],
    ["a space", "a%20b", ["params /q"]],
    ["a dollar sign", "a$b", ["params /q"]],
    ["an encoded slash", "a%2Fb", ["params /q"]],
    ["a non-ASCII letter", "%C3%A9", ["params /q"]],
    ["broken percent-encoding", "%zz", [/URL/]],
  ],
  id: [
    ["65 characters", long(65), ["params /id"]],
    ["a dollar sign", "a$b", ["params /id"]],
    ["a dot", "a.b", ["params /id"]],
    ["broken percent-encoding", "%E0%A4%A", [/URL/]],
  ],
  name: [
    ["201 characters", long(201), ["params /name"]],
    ["a space", "a%20b", ["params /name"]],
    ["a dollar sign", "a$b", ["params /name"]],
  ],
  x: [
    ["201 characters", long(201), ["params /x"]],
    ["a space", "a%20b", ["params /x"]],
    ["a dollar sign", "a$b", ["params /x"]],
    ["broken percent-encoding", "%zz", [/URL/]],
  ],
};

function casesFor(route: RouteSpec): Case[] {
  const key = routeKey(route);
  const cases: Case[] = [];
  const add = (kind: Kind, name: string, request: Case["request"], expect: Case["expect"], check?: Case["check"]) =>
    cases.push({ route: key, kind, name, request, expect, check });
  const url = (f: Fixture, params: Params = {}, raw: Params = {}) => urlOf(route, { ...route.params(f), ...params }, raw);
  const takesBody = route.method !== "GET";
  const hasBodySchema = route.body !== undefined;
  const validBody = route.body ?? (() => ({}));
  const m = route.method;

  if (takesBody) {
    add("malformed JSON", "a truncated object", (f) => ({ method: m, url: url(f), raw: { text: '{"body": ', contentType: "application/json" } }), () => validation([/JSON/]));
    add("malformed JSON", "single quotes", (f) => ({ method: m, url: url(f), raw: { text: "{'a': 1}", contentType: "application/json" } }), () => validation([/JSON/]));
    add("malformed JSON", "a __proto__ key", (f) => ({ method: m, url: url(f), raw: { text: '{"__proto__": {"admin": true}}', contentType: "application/json" } }), () => validation([/JSON/]));
    const topLevel: Array<[string, (f: Fixture) => unknown]> = [
      ["an array", (f) => [validBody(f)]],
      ["a string", () => "text"],
      ["null", () => null],
      ["a number", () => 42],
    ];
    for (const [name, value] of topLevel) {
      add(
        "wrong top-level type",
        name,
        (f) => ({ method: m, url: url(f), json: value(f) }),
        () => (hasBodySchema ? validation(["body /"], ["/"]) : validation([/takes no body/], ["/"])),
      );
    }
    for (const [name, contentType, text] of [
      ["text/plain", "text/plain", "hello"],
      ["form-urlencoded", "application/x-www-form-urlencoded", "a=b"],
      ["XML", "application/xml", "<a/>"],
      ["a malformed content type", "garbage", "{}"],
    ] as const) {
      add("wrong content type", name, (f) => ({ method: m, url: url(f), raw: { text, contentType } }), () => ({
        status: 415,
        code: "unsupported_media_type",
        message: [contentType],
        paths: [],
      }));
    }
    const oversized = JSON.stringify({ body: "x".repeat(BODY_LIMIT_BYTES + 1024) });
    add("oversized request", "over bodyLimitBytes", (f) => ({ method: m, url: url(f), raw: { text: oversized, contentType: "application/json" } }), () => ({
      status: 413,
      code: "too_large",
      message: [/large/],
      paths: [],
    }));
    add("oversized request", "over bodyLimitBytes, chunked", (f) => ({ method: m, url: url(f), raw: { text: oversized, contentType: "application/json" }, chunked: true }), () => ({
      status: 413,
      code: "too_large",
      message: [/large/],
      paths: [],
    }));
    add("no body", "content-type JSON with an empty body", (f) => ({ method: m, url: url(f), raw: { text: "", contentType: "application/json" } }), () => validation([/empty/]));
    const tooDeep = validation([`nested deeper than ${MAX_JSON_DEPTH} levels`], ["/"]);
    add("too deep", `arrays one level over the limit (${MAX_JSON_DEPTH + 1})`, (f) => ({ method: m, url: url(f), raw: { text: nested(MAX_JSON_DEPTH + 1), contentType: "application/json" } }), () => tooDeep);
    add("too deep", "20,000 levels under a valid body's first field", (f) => ({ method: m, url: url(f), raw: { text: nestedIn(validBody(f), 20_000), contentType: "application/json" } }), () => tooDeep);
    add("too deep", "objects 20,000 levels deep", (f) => ({ method: m, url: url(f), raw: { text: `${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}`, contentType: "application/json" } }), () => tooDeep);
    add("too deep", "an escaped quote does not end a string", (f) => ({ method: m, url: url(f), raw: { text: `["\\"]]]]", ${nested(MAX_JSON_DEPTH)}]`, contentType: "application/json" } }), () => tooDeep);
    if (hasBodySchema) {
      add("unknown field", "an unknown top-level field", (f) => ({ method: m, url: url(f), json: { ...validBody(f), zzUnknown: true } }), () =>
        route.path === "/v1/queues/{q}/dead/replay" ? validation(["body /"], ["/"]) : validation(["body /zzUnknown"], ["/zzUnknown"]),
      );
      if (route.bodyRequired) add("no body", "no body at all", (f) => ({ method: m, url: url(f) }), () => validation(["body /"]));
    } else {
      add("unknown field", "a field on a route that takes no body", (f) => ({ method: m, url: url(f), json: { zzUnknown: true } }), () => validation([/takes no body/], ["/"]));
    }
  } else {
    add("junk query", "unknown and nested query parameters", (f) => ({ method: m, url: `${url(f)}?__proto__[admin]=1&constructor[prototype]=x&zz=%zz` }), () => ({
      // Routes without a querystring schema ignore the query; those with one refuse it.
      ...(QUERY_CHECKED.has(route.path) ? validation(["querystring /"]) : { status: 200, code: "", message: [], paths: [] }),
    }));
  }

  for (const param of ["q", "id", "x", "name"] as const) {
    if (!route.path.includes(`{${param}}`)) continue;
    for (const [what, value, message] of BAD_PARAMS[param]) {
      const paths = message.includes(`params /${param}`) ? [`/${param}`] : [];
      add("bad path parameter", `${param} with ${what}`, (f) => ({ method: m, url: url(f, {}, { [param]: value }), json: takesBody ? validBody(f) : undefined }), () => validation(message, paths));
    }
    const unknown = route.unknown?.[param];
    if (unknown) {
      add("unknown name or id", `an unknown ${param}`, (f) => ({ method: m, url: url(f, { [param]: unknown.value }), json: hasBodySchema ? validBody(f) : undefined }), () => ({
        status: unknown.status,
        code: unknown.code,
        message: [unknown.value],
        paths: [],
      }));
    }
  }

  for (const field of route.fields ?? []) {
    add(field.kind, field.name, (f) => ({ method: m, url: url(f, field.params?.(f) ?? {}), json: field.body(f) }), () => {
      const where = field.paths[0] === undefined ? "" : `body ${field.paths[0]}`;
      return { status: field.status ?? 400, code: field.code ?? "validation_failed", message: [field.message ?? where], paths: field.paths };
    });
  }

  if (route.messageBodyAt) {
    const big = "x".repeat(MAX_BODY_BYTES + 1);
    add("oversized message body", `over maxBodyBytes (${MAX_BODY_BYTES})`, (f) => ({ method: m, url: url(f), json: route.messageBodyAt!(f, big).body }), (f) => {
      const path = route.messageBodyAt!(f, big).path;
      return { status: 413, code: "too_large", message: [path, `${MAX_BODY_BYTES}`], paths: [path] };
    });
  }

  if (route.leaseSettle) {
    const body = (f: Fixture, leaseToken: string) => ({ ...validBody(f), leaseToken });
    const lost = (id: (f: Fixture) => string) => (f: Fixture) => ({ status: 409, code: "lease_lost", message: [id(f)], paths: [] });
    add("stale or made-up lease token", "the token of an earlier lease", (f) => ({ method: m, url: url(f), json: body(f, f.staleToken) }), lost((f) => f.leased));
    add("stale or made-up lease token", "a made-up token", (f) => ({ method: m, url: url(f), json: body(f, "made-up-token") }), lost((f) => f.leased));
    add("stale or made-up lease token", "another message's current token", (f) => ({ method: m, url: url(f, { id: f.ready }), json: body(f, f.token) }), lost((f) => f.ready));
    add("stale or made-up lease token", "the token a completed message was acked with", (f) => ({ method: m, url: url(f, { id: f.completed }), json: body(f, f.completedToken) }), lost((f) => f.completed));
    add("stale or made-up lease token", "the token a dead letter was nacked with", (f) => ({ method: m, url: url(f, { id: f.dead }), json: body(f, f.deadToken) }), lost((f) => f.dead));
    add("stale or made-up lease token", "a made-up message id", (f) => ({ method: m, url: url(f, { id: "01ZZZZZZZZZZZZZZZZZZZZZZZZ" }), json: body(f, f.token) }), lost(() => "01ZZZZZZZZZZZZZZZZZZZZZZZZ"));
  }

  if (route.path === "/v1/acks") {
    // A stale token fails only its own item: 200 with per-item lease_lost, nothing completed.
    add(
      "stale or made-up lease token",
      "stale, made-up and foreign tokens, item by item",
      (f) => ({
        method: m,
        url: url(f),
        json: {
          acks: [
            { id: f.leased, leaseToken: f.staleToken },
            { id: f.leased, leaseToken: "made-up-token" },
            { id: f.completed, leaseToken: f.completedToken },
            { id: f.dead, leaseToken: f.deadToken },
            { id: "01ZZZZZZZZZZZZZZZZZZZZZZZZ", leaseToken: f.token },
          ],
        },
      }),
      () => ({ status: 200, code: "", message: [], paths: [] }),
      (answer, f) => {
        expect(answer.body).toEqual({
          results: [f.leased, f.leased, f.completed, f.dead, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"].map((id) => ({ id, ok: false, code: "lease_lost" })),
        });
      },
    );
  }

  if (route.method === "GET" && route.path === "/v1/queues/{q}/messages") {
    for (const [name, query, path] of [
      ["an unknown state", "state=dead", "/state"],
      ["limit 0", "limit=0", "/limit"],
      ["limit 101", "limit=101", "/limit"],
      ["offset -1", "offset=-1", "/offset"],
      ["offset over 100,000", "offset=100001", "/offset"],
      ["an unknown parameter", "page=2", "/page"],
    ] as const) {
      add("bad query", name, (f) => ({ method: m, url: `${url(f)}?${query}` }), () => validation([`querystring ${path}`], [path]));
    }
  }

  if (route.path === "/v1/events") {
    for (const [name, query, path] of [
      ["an empty queue glob", "queue=", "/queue"],
      ["a queue glob of 201 characters", `queue=${long(201)}`, "/queue"],
      ["empty types", "queue=x&types=", "/types"],
      ["an unknown parameter", "queue=x&follow=1", "/follow"],
    ] as const) {
      add("bad query", name, (f) => ({ method: m, url: `${url(f)}?${query}` }), () => validation([`querystring ${path}`], [path]));
    }
    add("bad query", "an unknown event name", (f) => ({ method: m, url: `${url(f)}?queue=x&types=message.completed,message.finished` }), () => validation([/unknown event "message.finished"/], ["/types"]));
  }

  if (route.method === "GET" && route.path === "/v1/queues/{q}/dead") {
    for (const [name, query, path] of [
      ["limit 0", "limit=0", "/limit"],
      ["limit 1001", "limit=1001", "/limit"],
      ["limit not a number", "limit=abc", "/limit"],
      ["limit 1.5", "limit=1.5", "/limit"],
      ["limit in exponent notation", "limit=1e2", "/limit"],
      ["limit given twice", "limit=1&limit=2", "/limit"],
      ["an empty cursor", "cursor=", "/cursor"],
      ["a cursor of 201 characters", `cursor=${long(201)}`, "/cursor"],
      ["an unknown reason", "reason=bounced", "/reason"],
      ["an unknown parameter", "page=2", "/page"],
    ] as const) {
      add("bad query", name, (f) => ({ method: m, url: `${url(f)}?${query}` }), () => validation([`querystring ${path}`], [path]));
    }
    add("bad query", "a cursor that no page gave out", (f) => ({ method: m, url: `${url(f)}?cursor=zzz` }), () => validation([/cursor/], ["/cursor"]));
  }
  return cases;
}

const CASES = ROUTES.flatMap(casesFor);

// ── sending and checking ─────────────────────────────────────────────────────────────────

async function send(request: Request): Promise<HttpAnswer> {
  if (request.raw === undefined) return server.call(request.method, request.url, request.json);
  const { text, contentType } = request.raw;
  if (!request.chunked) return server.call(request.method, request.url, text, { raw: true, headers: { "content-type": contentType } });
  const bytes = new TextEncoder().encode(text);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 16 * 1024) controller.enqueue(bytes.subarray(i, i + 16 * 1024));
      controller.close();
    },
  });
  const response = await fetch(server.url + request.url, {
    method: request.method,
    headers: { "content-type": contentType },
    body: stream,
    duplex: "half",
  } as RequestInit & { duplex: "half" });
  const answerText = await response.text();
  return { status: response.status, headers: response.headers, body: answerText ? JSON.parse(answerText) : undefined, text: answerText };
}

/** Every error answer: the envelope and nothing else, no stack trace, never a 500. */
function expectCleanAnswer(answer: HttpAnswer): void {
  expect(answer.status).not.toBe(500);
  expect(answer.text).not.toMatch(/\n\s+at | {4}at /);
  expect(answer.text).not.toMatch(/node_modules|\.ts:\d+|\.js:\d+/);
}

function expectError(answer: HttpAnswer, expected: Expectation): void {
  expect({ status: answer.status, code: answer.body?.error?.code }, answer.text.slice(0, 500)).toEqual({ status: expected.status, code: expected.code });
  expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
  expect(Object.keys(answer.body)).toEqual(["error"]);
  const error = answer.body.error as { code: string; message: string; details?: Array<{ path: string; message: string }> };
  expect(Object.keys(error).filter((k) => !["code", "message", "details"].includes(k))).toEqual([]);
  expect(typeof error.message).toBe("string");
  for (const part of expected.message) {
    if (typeof part === "string") expect(error.message).toContain(part);
    else expect(error.message).toMatch(part);
  }
  if (error.details !== undefined) {
    expect(error.details.length).toBeGreaterThan(0);
    for (const detail of error.details) expect(Object.keys(detail).sort()).toEqual(["message", "path"]);
  }
  const paths = (error.details ?? []).map((detail) => detail.path);
  for (const path of expected.paths) expect(paths, `details of ${error.message}`).toContain(path);
}

// ── the tests ────────────────────────────────────────────────────────────────────────────

describe("bad input: the matrix covers every route", () => {
  it("lists exactly the routes of /openapi.json", async () => {
    const answer = await server.call("GET", "/openapi.json");
    expect(answer.status).toBe(200);
    const documented: string[] = [];
    for (const [path, operations] of Object.entries(answer.body.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(operations)) documented.push(`${method.toUpperCase()} ${path}`);
    }
    expect(ROUTES.map(routeKey).sort()).toEqual(documented.sort());
  });

  it("gives every route at least one case, and every route with a body every body kind", () => {
    const kindsOf = (key: string) => new Set(CASES.filter((c) => c.route === key).map((c) => c.kind));
    for (const route of ROUTES) {
      const kinds = kindsOf(routeKey(route));
      expect(kinds.size, routeKey(route)).toBeGreaterThan(0);
      if (route.method !== "GET") {
        for (const kind of ["malformed JSON", "wrong top-level type", "wrong content type", "oversized request", "unknown field", "no body", "too deep"] as const) {
          expect(kinds.has(kind), `${routeKey(route)}: ${kind}`).toBe(true);
        }
      }
      if (route.bodyRequired) {
        for (const kind of ["wrong field type", "missing field"] as const) expect(kinds.has(kind), `${routeKey(route)}: ${kind}`).toBe(true);
      }
      if (/\{(q|id|x)\}/.test(route.path)) expect(kinds.has("bad path parameter"), routeKey(route)).toBe(true);
    }
  });
});

describe.each(ROUTES.map(routeKey))("bad input: %s", (key) => {
  it.each(CASES.filter((c) => c.route === key).map((c) => [`${c.kind}: ${c.name}`, c] as const))("%s", async (_name, testCase) => {
    const before = await observe(server.spool);
    const answer = await send(testCase.request(fx));
    expectCleanAnswer(answer);
    const expected = testCase.expect(fx);
    if (testCase.check) {
      expect(answer.status).toBe(expected.status);
      testCase.check(answer, fx);
    } else if (expected.code === "") {
      expect(answer.status, answer.text.slice(0, 300)).toBe(expected.status);
    } else {
      expectError(answer, expected);
    }
    expect(await observe(server.spool)).toEqual(before);
  });
});

describe("bad input: after the whole matrix", () => {
  it("left the state exactly as seeded", async () => {
    expect(await observe(server.spool)).toEqual(baseline);
  });
});

describe("bad input: beyond the matrix", () => {
  it("refuses a message body nested 100,000 deep without a 500", async () => {
    const text = `{"body":${nested(100_000)}}`;
    const answer = await send({ method: "POST", url: "/v1/queues/emails/messages", raw: { text, contentType: "application/json" } });
    expectCleanAnswer(answer);
    expectError(answer, validation([`nested deeper than ${MAX_JSON_DEPTH} levels`], ["/"]));
    expect(await observe(server.spool)).toEqual(baseline);
  });

  it("accepts JSON nested exactly as deep as the limit, and does not count brackets inside strings", async () => {
    const other = await startTestServer();
    try {
      // The request's own object is one level: a single publish leaves the message body the rest.
      const deepest = JSON.parse(nested(MAX_JSON_DEPTH - 1)) as unknown;
      const one = await other.call("POST", "/v1/queues/deep/messages", { body: deepest });
      expect(one.status, one.text).toBe(201);
      // A batch item sits three levels down: {"messages": [{"body": …}]}.
      const batch = await other.call("POST", "/v1/queues/deep/messages/batch", { messages: [{ body: JSON.parse(nested(MAX_JSON_DEPTH - 3)) }] });
      expect(batch.status, batch.text).toBe(201);
      const brackets = await other.call("POST", "/v1/queues/deep/messages", { body: ["[{".repeat(1000), JSON.parse(nested(MAX_JSON_DEPTH - 2))], headers: { h: "]}\\\"[" } });
      expect(brackets.status, brackets.text).toBe(201);
      const lease = await other.call("POST", "/v1/queues/deep/lease", { max: 3 });
      expect(lease.body.messages.map((m: { body: unknown }) => m.body)).toEqual([deepest, JSON.parse(nested(MAX_JSON_DEPTH - 3)), ["[{".repeat(1000), JSON.parse(nested(MAX_JSON_DEPTH - 2))]]);
    } finally {
      await other.close();
    }
  });

  it("answers an unknown route or method with the error envelope", async () => {
    for (const [method, path] of [
      ["PATCH", "/v1/queues/emails"],
      ["GET", "/v1/nope"],
      ["POST", "/v1/queues/emails/messages/"],
    ] as const) {
      const answer = await server.call(method, path, method === "GET" ? undefined : {});
      expectCleanAnswer(answer);
      expectError(answer, { status: 404, code: "not_found", message: [path], paths: [] });
    }
    expect(await observe(server.spool)).toEqual(baseline);
  });

  it("accepts a queue name of the longest allowed length in the path", async () => {
    const other = await startTestServer();
    try {
      const name = "q".repeat(200);
      expect((await other.call("PUT", `/v1/queues/${name}`, { maxAttempts: 2 })).status).toBe(200);
      expect((await other.call("GET", `/v1/queues/${name}`)).body.name).toBe(name);
      // ":" is allowed in names and URL-encoded by careful clients: three characters each.
      const colons = `a${":".repeat(199)}`;
      expect((await other.call("PUT", `/v1/queues/${encodeURIComponent(colons)}`, {})).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it("reads a missing body as {} where every field is optional", async () => {
    const other = await startTestServer();
    try {
      const put = await other.call("PUT", "/v1/queues/fresh");
      expect(put.status, put.text).toBe(200);
      expect(put.body.name).toBe("fresh");
      await other.spool.publish("fresh", { n: 1 });
      const lease = await other.call("POST", "/v1/queues/fresh/lease");
      expect(lease.status, lease.text).toBe(200);
      expect(lease.body.messages).toHaveLength(1);
      // An explicit JSON null is still the wrong type.
      const nul = await other.call("POST", "/v1/queues/fresh/lease", "null", { raw: true });
      expect(nul.status).toBe(400);
    } finally {
      await other.close();
    }
  });

  it("accepts an empty object on a route that takes no body", async () => {
    const other = await startTestServer();
    try {
      await other.spool.queue("calm").info();
      const answer = await other.call("POST", "/v1/queues/calm/pause", {});
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body).toEqual({ name: "calm", paused: true });
    } finally {
      await other.close();
    }
  });
});
