/**
 * A rejected request changes nothing. Fuzzed requests — publishes, batch and exchange publishes,
 * leases, settlements, queue, exchange and dead-letter administration — built from mixes of
 * valid and invalid fields, on existing, unknown and malformed names, go to the app (inject, no
 * network) over the memory store and the journal. After every answer in 4xx the whole observable
 * state (every queue with options, paused flag and stats, every dead letter, every exchange with
 * its bindings, the status of every message ever published) must be as it was before, and the
 * journal must have written nothing; a 5xx is never right. An accepted request may change the
 * state: it becomes the new baseline. Time stands still (a manual clock), so nothing moves on
 * its own between two observations.
 */
import fs from "node:fs/promises";
import type { FastifyInstance, InjectOptions } from "fastify";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { journalStore, ManualClock, memoryStore, Spool, type Store } from "../../src/index.js";
import { createApp } from "../../src/server/app.js";
import { observe, plain } from "../helpers/store-observe.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

const MAX_BODY_BYTES = 256;
const long = (n: number) => "a".repeat(n);

interface Fixture {
  ids: string[];
  leased: string;
  token: string;
  staleToken: string;
  dead: string;
}

/** Queues with messages in every state, keys to collide with, a full queue, two exchanges. */
async function seed(spool: Spool): Promise<Fixture> {
  const emails = spool.queue("emails", { maxAttempts: 3, leaseMs: 600_000, idempotencyWindowMs: 3_600_000 });
  const ids = [
    (await emails.publish({ to: "a@x.io" })).id,
    (await emails.publish({ to: "b@x.io" }, { delayMs: 3_600_000, priority: 4 })).id,
    (await emails.publish({ to: "c@x.io" }, { dedupKey: "d1" })).id,
    (await emails.publish({ to: "d@x.io" }, { idempotencyKey: "k1", groupKey: "g1" })).id,
  ];
  const work = spool.queue("work", { leaseMs: 600_000 });
  ids.push((await work.publish({ job: "busy" }, { groupKey: "g1" })).id);
  const [first] = await work.lease();
  await work.nack(first.id, first.leaseToken, { release: true });
  const [second] = await work.lease();
  ids.push((await work.publish({ job: "waiting" })).id);

  const graveyard = spool.queue("graveyard", { maxAttempts: 1 });
  const dead = (await graveyard.publish({ job: "doomed" })).id;
  const [doomed] = await graveyard.lease();
  await graveyard.nack(doomed.id, doomed.leaseToken, { error: { message: "boom", kind: "permanent" } });
  ids.push(dead);

  await spool.queue("paused-q").pause();
  const full = spool.queue("full", { maxLength: 1, overflow: "reject" });
  ids.push((await full.publish({ only: true })).id);

  await spool.declareExchange("events", "topic");
  await spool.bind("events", "emails", "user.*");
  await spool.declareExchange("broadcast", "fanout");
  await spool.bind("broadcast", "work");
  await spool.bind("broadcast", "full");
  return { ids, leased: second.id, token: second.leaseToken, staleToken: first.leaseToken, dead };
}

// ── the requests ─────────────────────────────────────────────────────────────────────────

type Json = Record<string, unknown>;

/** A request takes any subset of the fields, each with one of its values. */
function fields(pools: Record<string, unknown[]>): fc.Arbitrary<Json> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, values] of Object.entries(pools)) record[key] = fc.constantFrom(...values);
  return fc.record(record, { requiredKeys: [] }) as fc.Arbitrary<Json>;
}

/** Publish fields: values the route's schema accepts, then values it refuses. */
const publishValid: Record<string, unknown[]> = {
  priority: [0, 9],
  delayMs: [0, 1_000],
  availableAt: [0, Date.UTC(2031, 0, 1), "2031-01-01T00:00:00Z"],
  ttlMs: [1_000],
  maxAttempts: [2],
  dedupKey: ["d1", "d-new"],
  idempotencyKey: ["k1", "k-new"],
  groupKey: ["g1"],
  headers: [{ h: "v" }],
  correlationId: ["c1"],
};
const publishInvalid: Record<string, unknown[]> = {
  priority: [10, -1, 1.5, "5", null],
  delayMs: [-1, 367 * 86_400_000, "10", null],
  availableAt: [-1, "2031-01-01T00:00:00", "next tuesday", true],
  ttlMs: [0, -5],
  maxAttempts: [0, 1_000_001],
  dedupKey: ["", long(513)],
  idempotencyKey: ["", long(513)],
  groupKey: ["", ["g"]],
  headers: [{ a: 1 }, ["a"], { [long(257)]: "v" }],
  correlationId: [""],
  bogus: [1],
};
const bodies = [{ to: "z@x.io" }, 1, "text", null, [1, [2]]];
const tooBig = long(MAX_BODY_BYTES + 1);

/** Any mix of valid and invalid fields, the body among them. */
const anyPublish = fields({
  body: [...bodies, tooBig],
  ...Object.fromEntries(Object.keys(publishInvalid).map((key) => [key, [...(publishValid[key] ?? []), ...publishInvalid[key]]])),
});
const validPublish = fc.tuple(fields(publishValid), fc.constantFrom(...bodies)).map(([options, body]) => ({ ...options, body }));
/**
 * What only the library can refuse: fields the route's schema accepts, with delayMs and
 * availableAt together or a body over maxBodyBytes.
 */
const libraryRefused = fc.oneof(
  fc.tuple(fields(publishValid), fc.constantFrom(...bodies, tooBig)).map(([options, body]) => ({ ...options, body, delayMs: 1_000, availableAt: Date.UTC(2031, 0, 1) })),
  fields(publishValid).map((options) => ({ ...options, body: tooBig })),
);
/** Valid publishes too: to the full queue they are refused (queue_full); elsewhere they move the baseline. */
const publishBody = fc.oneof({ arbitrary: anyPublish, weight: 2 }, { arbitrary: libraryRefused, weight: 2 }, { arbitrary: validPublish, weight: 1 });

const fixtureQueues = ["emails", "work", "graveyard", "paused-q", "full"];
/** Names of queues that do not exist yet (almost always: each request picks one of many). */
const freshQueue = fc.nat(1_000_000).map((n) => `fresh-${n}`);
const badQueue = fc.constantFrom("bad name", long(201));
const queueName = fc.oneof({ arbitrary: fc.constantFrom(...fixtureQueues), weight: 4 }, { arbitrary: freshQueue, weight: 3 }, { arbitrary: badQueue, weight: 1 });
/** For the routes that would empty the full queue or raise its maxLength: any name but that one. */
const notFull = queueName.filter((name) => name !== "full");
/** Names that do not exist (or cannot): the routes that would destroy the fixture get only these. */
const absentQueue = fc.oneof({ arbitrary: freshQueue, weight: 3 }, { arbitrary: badQueue, weight: 1 });
const exchangeName = fc.constantFrom("", "events", "broadcast", "broadcast", "nope", "bad name");
const routingKey = fc.oneof(fc.constantFrom("user.created", "emails", "full", "", "a b", long(256)), freshQueue);
const messageId = (f: Fixture) => fc.oneof({ arbitrary: fc.constantFrom(...f.ids, f.leased, f.leased, f.dead), weight: 4 }, { arbitrary: fc.constantFrom("01ZZZZZZZZZZZZZZZZZZZZZZZZ", "a$b", long(65)), weight: 1 });
const leaseToken = (f: Fixture) => fc.oneof({ arbitrary: fc.constantFrom(f.token, f.staleToken, "made-up-token"), weight: 4 }, { arbitrary: fc.constantFrom("", 5, long(129)), weight: 1 });
/** Mostly the values a schema accepts, sometimes any. */
const mostlyValid = (valid: Record<string, unknown[]>, invalid: Record<string, unknown[]>) =>
  fc.oneof({ arbitrary: fields(valid), weight: 3 }, { arbitrary: fields({ ...Object.fromEntries(Object.entries(valid).map(([key, values]) => [key, [...values, ...(invalid[key] ?? [])]])), bogus: [1] }), weight: 1 });
const q = (name: string) => encodeURIComponent(name);

function requests(f: Fixture): fc.Arbitrary<InjectOptions> {
  const post = (url: string, payload?: unknown): InjectOptions => ({ method: "POST", url, payload: payload as InjectOptions["payload"] });
  const settle = (action: string, extra: fc.Arbitrary<Json>) =>
    fc.tuple(messageId(f), leaseToken(f), extra).map(([id, token, fields]) => post(`/v1/messages/${q(id)}/${action}`, { leaseToken: token, ...fields }));
  return fc.oneof(
    { arbitrary: fc.tuple(queueName, publishBody).map(([name, body]) => post(`/v1/queues/${q(name)}/messages`, body)), weight: 4 },
    {
      arbitrary: fc.tuple(queueName, fc.array(publishBody, { minLength: 1, maxLength: 4 }), fc.array(fc.constantFrom(...bodies), { maxLength: 2 })).map(([name, messages, fine]) =>
        post(`/v1/queues/${q(name)}/messages/batch`, { messages: [...fine.map((body) => ({ body })), ...messages] }),
      ),
      weight: 3,
    },
    { arbitrary: fc.tuple(exchangeName, routingKey, publishBody).map(([x, key, body]) => post(`/v1/exchanges/${q(x)}/publish`, { ...body, routingKey: key })), weight: 3 },
    // Valid publishes that reach the full queue, directly or among the fanout's copies: queue_full.
    {
      arbitrary: fc
        .tuple(fc.constantFrom("/v1/queues/full/messages", "/v1/queues/full/messages/batch", "/v1/exchanges/broadcast/publish"), validPublish)
        .map(([url, body]) => post(url, url.endsWith("batch") ? { messages: [{ body: 1 }, body] } : body)),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(notFull, mostlyValid({ maxAttempts: [3], leaseMs: [1_000], maxLength: [5], backoff: [{ baseMs: 10 }], idempotencyWindowMs: [1_000] }, { maxAttempts: [0, "3"], leaseMs: [0], maxLength: [0], overflow: ["drop"], backoff: [{ factor: 0.5 }, "fast"], idempotencyWindowMs: [0] }))
        .map(([name, options]): InjectOptions => ({ method: "PUT", url: `/v1/queues/${q(name)}`, payload: options as InjectOptions["payload"] })),
      weight: 1,
    },
    // Never a valid waitMs > 0: time stands still, so a long-poll would wait for ever.
    { arbitrary: fc.tuple(notFull, fields({ max: [0, 1, 1_001, "1"], leaseMs: [0, 1_000, "5"], waitMs: [-1, 30_001, "5", 1.5, 0], bogus: [1] })).map(([name, body]) => post(`/v1/queues/${q(name)}/lease`, body)), weight: 1 },
    { arbitrary: settle("ack", mostlyValid({}, {})), weight: 2 },
    { arbitrary: settle("nack", mostlyValid({ error: [{ message: "x", kind: "transient" }, { message: "x" }], delayMs: [10], release: [true] }, { error: [{ message: "x", kind: "fatal" }, "boom", { message: 5 }], delayMs: [-1, "5"], release: ["yes"] })), weight: 2 },
    { arbitrary: settle("extend", mostlyValid({ leaseMs: [1_000] }, { leaseMs: [0, "1000", 12 * 3_600_000 + 1] })), weight: 2 },
    { arbitrary: fc.array(fc.tuple(messageId(f), leaseToken(f)), { maxLength: 3 }).map((acks) => post("/v1/acks", { acks: acks.map(([id, token]) => ({ id, leaseToken: token })) })), weight: 1 },
    {
      arbitrary: fc
        .tuple(fc.constantFrom("POST", "DELETE"), exchangeName, mostlyValid({ queue: ["emails", "fresh-binding"], bindingKey: ["user.*", "nope.*"] }, { queue: ["bad name", 5], bindingKey: [long(256), 5] }))
        .map(([method, x, body]): InjectOptions => ({ method: method as "POST" | "DELETE", url: `/v1/exchanges/${q(x)}/bindings`, payload: body as InjectOptions["payload"] })),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(fc.constantFrom("events", "broadcast", "fresh-x", "", "bad name"), mostlyValid({ type: ["topic", "fanout"] }, { type: ["headers", 5] }))
        .map(([x, body]): InjectOptions => ({ method: "PUT", url: `/v1/exchanges/${q(x)}`, payload: body as InjectOptions["payload"] })),
      weight: 1,
    },
    { arbitrary: fc.tuple(fc.constantFrom("pause", "resume"), queueName, fc.constantFrom(undefined, { bogus: 1 })).map(([action, name, body]) => post(`/v1/queues/${q(name)}/${action}`, body)), weight: 1 },
    { arbitrary: fc.tuple(fc.constantFrom("purge", "dead/replay"), absentQueue).map(([action, name]) => post(`/v1/queues/${q(name)}/${action}`, action === "purge" ? undefined : { all: true })), weight: 1 },
    { arbitrary: fc.tuple(queueName, fc.constantFrom<unknown>({ ids: ["a$b"] }, { all: false }, {}, { ids: [] })).map(([name, body]) => post(`/v1/queues/${q(name)}/dead/replay`, body)), weight: 1 },
    { arbitrary: fc.tuple(fc.constantFrom("", "/dead"), absentQueue).map(([part, name]): InjectOptions => ({ method: "DELETE", url: `/v1/queues/${q(name)}${part}` })), weight: 1 },
    { arbitrary: fc.tuple(queueName, fields({ concurrency: [0, 2, "2"] })).map(([name, body]) => post(`/v1/admin/workers/${q(name)}/scale`, body)), weight: 1 },
  );
}

// ── the property ─────────────────────────────────────────────────────────────────────────

interface Subject {
  app: FastifyInstance;
  spool: Spool;
  fixture: Fixture;
  /** What a write leaves behind besides the state: the journal's files, for the journal. */
  traces(): Promise<unknown>;
  close(): Promise<void>;
}

async function subject(store: Store, traces: () => Promise<unknown>, close: () => Promise<void>): Promise<Subject> {
  const spool = await Spool.open({ store, maxBodyBytes: MAX_BODY_BYTES });
  const fixture = await seed(spool);
  const app = await createApp({ spool });
  return {
    app,
    spool,
    fixture,
    traces,
    async close() {
      await app.close();
      await spool.close();
      await close();
    },
  };
}

/** Names and sizes of the journal's files: the log is append-only, so any record shows. */
async function journalFiles(dir: string): Promise<Record<string, number>> {
  const files: Record<string, number> = {};
  for (const name of (await fs.readdir(dir)).sort()) files[name] = (await fs.stat(`${dir}/${name}`)).size;
  return files;
}

function checkRejectedRequestsChangeNothing(open: () => Promise<Subject>, numRuns: number): void {
  let s: Subject;
  beforeAll(async () => {
    s = await open();
  });
  afterAll(async () => s?.close());

  it("answers no 5xx, and after every 4xx the state is as it was", async () => {
    const ids = new Set(s.fixture.ids);
    const state = async () => ({ store: plain(await observe(s.spool.store, [...ids], 1000)), traces: await s.traces() });
    const refusals = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requests(s.fixture), async (request) => {
        const before = await state();
        const answer = await s.app.inject({ ...request, headers: { "content-type": "application/json" } });
        expect(answer.statusCode, answer.body).toBeLessThan(500);
        if (answer.statusCode >= 400) {
          refusals.set(answer.statusCode, (refusals.get(answer.statusCode) ?? 0) + 1);
          expect(await state(), `${answer.statusCode} ${answer.body}`).toEqual(before);
        } else {
          // Accepted: whatever it published is watched from now on.
          for (const match of answer.body.matchAll(/"id":"([0-9A-Z]{26})"/g)) ids.add(match[1]);
        }
      }),
      { numRuns },
    );
    // The requests reach every kind of refusal, and most are refused.
    expect([...refusals.keys()].sort()).toEqual(expect.arrayContaining([400, 404, 409, 413, 429]));
    expect([...refusals.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(numRuns / 2);
  });
}

describe("rejected requests change nothing: memory store", () => {
  checkRejectedRequestsChangeNothing(async () => subject(memoryStore({ clock: new ManualClock() }), async () => undefined, async () => undefined), 600);
});

describe("rejected requests change nothing: journal store", () => {
  checkRejectedRequestsChangeNothing(async () => {
    const dir = await makeTempDir("spool-rejected-");
    const store = journalStore({ dataDir: dir, clock: new ManualClock(), fsync: "always" });
    return subject(store, () => journalFiles(dir), () => removeTempDir(dir));
  }, 400);
});
