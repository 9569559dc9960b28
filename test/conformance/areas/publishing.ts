/**
 * Publishing: ids, atomic batches, validation at the boundary (nothing changes on a failure),
 * body size limits, and bodies/headers that come back exactly as published.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { it } from "../registry.js";
import { TooLargeError, ValidationError, type PublishOptions, type Queue, type Spool } from "../../../src/index.js";
import { uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { counts, detailPaths, leaseAll, spoolError } from "./publish-helpers.js";

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function expectMessageId(id: string): void {
  expect(ULID.test(id) || UUID_V7.test(id), `"${id}" is a ULID or a UUIDv7`).toBe(true);
}

function expectAscending(ids: string[]): void {
  for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1], `id ${i} (${ids[i]}) sorts after id ${i - 1} (${ids[i - 1]})`).toBe(true);
}

type Email = { to: string; subject: string; tags: string[] };

/** A publish that must fail validation, and the detail path it must name (if any). */
interface BadPublish {
  name: string;
  body: unknown;
  options?: unknown;
  /** The detail path of a single publish; in a batch it is prefixed with the item's index. */
  path?: string;
  /** What the error's message must say. */
  message?: RegExp;
}

const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;

const badPublishes: BadPublish[] = [
  { name: "negative delayMs", body: 1, options: { delayMs: -1 }, path: "/delayMs" },
  { name: "priority 12", body: 1, options: { priority: 12 }, path: "/priority" },
  { name: "priority -1", body: 1, options: { priority: -1 }, path: "/priority" },
  { name: "priority 1.5", body: 1, options: { priority: 1.5 }, path: "/priority" },
  { name: "priority as a string", body: 1, options: { priority: "5" }, path: "/priority" },
  { name: "an unknown publish option", body: 1, options: { prio: 1 }, path: "/prio" },
  { name: "delayMs and availableAt together", body: 1, options: { delayMs: 10, availableAt: Date.now() + 10 } },
  { name: "availableAt that is not a date", body: 1, options: { availableAt: "next tuesday" }, path: "/availableAt" },
  {
    name: "an ISO availableAt without a time zone",
    body: 1,
    options: { availableAt: "2030-01-01T10:00:00" },
    path: "/availableAt",
    message: /availableAt must be epoch ms \(an integer >= 0\), an ISO 8601 date-time with a zone \(Z or ±hh:mm\), or a Date, got "2030-01-01T10:00:00"/,
  },
  { name: "an invalid Date as availableAt", body: 1, options: { availableAt: new Date("nope") }, path: "/availableAt" },
  { name: "a negative availableAt", body: 1, options: { availableAt: -5 }, path: "/availableAt" },
  { name: "ttlMs 0", body: 1, options: { ttlMs: 0 }, path: "/ttlMs" },
  { name: "maxAttempts 0", body: 1, options: { maxAttempts: 0 }, path: "/maxAttempts" },
  { name: "an empty dedupKey", body: 1, options: { dedupKey: "" }, path: "/dedupKey" },
  { name: "a non-string header value", body: 1, options: { headers: { a: 1 } } },
  { name: "a function body", body: () => 1 },
  { name: "an undefined body", body: undefined },
  { name: "a BigInt body", body: 10n },
  { name: "a cyclic body", body: cyclic },
  { name: "a symbol body", body: Symbol("s") },
];

async function seeded(spool: Spool): Promise<Queue<unknown>> {
  const queue = spool.queue<unknown>(uniqueQueueName("pub"));
  await queue.publish({ seed: 1 });
  await queue.publish({ seed: 2 }, { delayMs: 60_000 });
  return queue;
}

export const publishing: AreaDefinition = (_suite, open) => {
  it("publish answers a fresh, URL-safe, time-ordered id", async () => {
    const ctx = await open();
    const queue = ctx.spool.queue(uniqueQueueName("pub"));
    const first = await queue.publish({ n: 1 });
    expect(first).toEqual({ id: expect.any(String), replaced: false, duplicate: false });
    expectMessageId(first.id);
    const ids = [first.id];
    for (let n = 2; n <= 20; n++) {
      if (n % 5 === 0) ctx.clock?.advance(1); // both within one millisecond and across
      ids.push((await queue.publish({ n })).id);
    }
    for (const id of ids) expectMessageId(id);
    expect(new Set(ids).size).toBe(ids.length);
    expectAscending(ids);
    // The id a publish answers is the id a consumer sees.
    const leased = await leaseAll(queue);
    expect(leased.map((m) => m.id)).toEqual(ids);
  });

  it("publishMany answers one result per item, in order, with ascending ids", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("pub"));
    const results = await queue.publishMany(Array.from({ length: 50 }, (_, n) => ({ body: n })));
    expect(results).toHaveLength(50);
    for (const r of results) {
      expectMessageId(r.id);
      expect(r.replaced).toBe(false);
      expect(r.duplicate).toBe(false);
    }
    expectAscending(results.map((r) => r.id));
    const later = await queue.publish(50);
    expect(later.id > results[49].id).toBe(true);
    const leased = await leaseAll(queue);
    expect(leased.map((m) => m.body)).toEqual(Array.from({ length: 51 }, (_, n) => n));
    expect(leased.map((m) => m.id)).toEqual([...results.map((r) => r.id), later.id]);
    expect((await queue.stats()).totals.published).toBe(51);
  });

  it("publishMany of nothing answers [] and enqueues nothing", async () => {
    const { spool } = await open();
    const queue = spool.queue(uniqueQueueName("pub"));
    expect(await queue.publishMany([])).toEqual([]);
    expect(counts(await queue.stats())).toMatchObject({ ready: 0, delayed: 0, totals: { published: 0 } });
  });

  it("publishMany is atomic: one invalid item fails the batch with its index, and nothing is enqueued", async () => {
    const { spool } = await open();
    const queue = await seeded(spool);
    const before = counts(await queue.stats());
    const items = Array.from({ length: 6 }, (_, n) => ({ body: { n }, priority: n === 3 ? 12 : 1 }));
    const error = await spoolError(() => queue.publishMany(items), "validation_failed");
    expect(error).toBeInstanceOf(ValidationError);
    expect(detailPaths(error)).toContain("/3/priority");
    expect(detailPaths(error).every((p) => p.startsWith("/3/"))).toBe(true);
    expect(counts(await queue.stats())).toEqual(before);
    // Only the seeded ready message is there to lease.
    expect((await leaseAll(queue)).map((m) => m.body)).toEqual([{ seed: 1 }]);
  });

  it("publishMany takes at most 10,000 messages per call (validation_failed, nothing enqueued)", async () => {
    const { spool } = await open();
    const queue = spool.queue<number>(uniqueQueueName("publishing"));
    const items = Array.from({ length: 10_001 }, (_, i) => ({ body: i }));
    await spoolError(() => queue.publishMany(items), "validation_failed");
    expect(counts(await queue.stats())).toMatchObject({ ready: 0 });
    expect(await queue.publishMany(items.slice(0, 10_000))).toHaveLength(10_000);
  });

  it("publishMany reports every invalid item, each under its own index", async () => {
    const { spool } = await open();
    const queue = await seeded(spool);
    const before = counts(await queue.stats());
    const error = await spoolError(
      () => queue.publishMany([{ body: 1 }, { body: 2, delayMs: -5 }, { body: 3 }, { body: 4, bogus: true } as never]),
      "validation_failed",
    );
    expect(detailPaths(error)).toContain("/1/delayMs");
    expect(counts(await queue.stats())).toEqual(before);
  });

  it.each([
    ["an item without a body", [{ body: 1 }, { priority: 1 }], /^\/1/],
    ["an item that is not an object", [{ body: 1 }, { body: 2 }, null], /^\/2/],
    ["an item whose body is not JSON", [{ body: 1 }, { body: 2n }], /^\/1/],
    ["an item whose body is undefined", [{ body: 1 }, { body: undefined }], /^\/1/],
  ])("publishMany rejects %s, naming its index, and enqueues nothing", async (_name, items, path) => {
    const { spool } = await open();
    const queue = await seeded(spool);
    const before = counts(await queue.stats());
    const error = await spoolError(() => queue.publishMany(items as never), "validation_failed");
    expect(error).toBeInstanceOf(ValidationError);
    expect(detailPaths(error).some((p) => path.test(p)), `details ${JSON.stringify(error.details)} name the item`).toBe(true);
    expect(counts(await queue.stats())).toEqual(before);
  });

  it("publishMany rejects something that is not an array", async () => {
    const { spool } = await open();
    const queue = await seeded(spool);
    const before = counts(await queue.stats());
    await spoolError(() => queue.publishMany({ body: 1 } as never), "validation_failed");
    expect(counts(await queue.stats())).toEqual(before);
  });

  it("publishMany's call options are only a transaction: anything else is refused, not ignored", async () => {
    const { spool } = await open();
    const queue = await seeded(spool);
    const before = counts(await queue.stats());
    const unknown = await spoolError(() => queue.publishMany([{ body: 1 }], { tx: {} } as never), "validation_failed");
    expect(detailPaths(unknown)).toEqual(["/tx"]);
    await spoolError(() => queue.publishMany([{ body: 1 }], { delayMs: 5 } as never), "validation_failed");
    await spoolError(() => queue.publishMany([{ body: 1 }], "fast" as never), "validation_failed");
    expect(counts(await queue.stats())).toEqual(before);
  });

  it.each(badPublishes.map((b) => [b.name, b] as const))("publish rejects %s with validation_failed and changes nothing", async (_name, bad) => {
    const { spool } = await open();
    const queue = await seeded(spool);
    const before = counts(await queue.stats());
    const single = await spoolError(() => queue.publish(bad.body, bad.options as PublishOptions), "validation_failed");
    expect(single).toBeInstanceOf(ValidationError);
    if (bad.path !== undefined) expect(detailPaths(single)).toContain(bad.path);
    if (bad.message !== undefined) expect(single.message).toMatch(bad.message);
    expect(counts(await queue.stats())).toEqual(before);

    // The same mistake as item 1 of a batch fails the batch, naming the item.
    const item = { ...(bad.options as object), body: bad.body };
    const batch = await spoolError(() => queue.publishMany([{ body: "fine" }, item, { body: "fine" }]), "validation_failed");
    expect(batch).toBeInstanceOf(ValidationError);
    const paths = detailPaths(batch);
    if (bad.path !== undefined) expect(paths).toContain(`/1${bad.path}`);
    expect(paths.length > 0 && paths.every((p) => p === "/1" || p.startsWith("/1/")), `details ${JSON.stringify(batch.details)} name item 1`).toBe(true);
    expect(counts(await queue.stats())).toEqual(before);
  });

  it.each(badPublishes.map((b) => [b.name, b] as const))("a rejected publish to a queue that does not exist yet leaves it undeclared: %s", async (_name, bad) => {
    const { spool } = await open();
    const name = uniqueQueueName("undeclared");
    const item = { ...(bad.options as object), body: bad.body };
    await spoolError(() => spool.queue(name).publish(bad.body, bad.options as PublishOptions), "validation_failed");
    await spoolError(() => spool.queue(name).publishMany([{ body: "fine" }, item]), "validation_failed");
    await spoolError(() => spool.publish(name, bad.body, bad.options as PublishOptions), "validation_failed");
    await spoolError(() => spool.publishToExchange("", name, bad.body, bad.options as PublishOptions), "validation_failed");
    expect((await spool.queues()).map((q) => q.name)).not.toContain(name);
  });

  it("no rejected call on a queue handle declares the queue; the first accepted one does", async () => {
    const { spool } = await open({ maxBodyBytes: 64 });
    const name = uniqueQueueName("undeclared");
    const queue = spool.queue(name);
    await spoolError(() => queue.publish("x".repeat(100)), "too_large");
    await spoolError(() => queue.publishMany([{ body: 1 }, { body: "x".repeat(100) }]), "too_large");
    await spoolError(() => queue.publishMany("nope" as never), "validation_failed");
    await spoolError(() => queue.lease({ max: 0 }), "validation_failed");
    await spoolError(() => queue.lease({ waitMs: -1 }), "validation_failed");
    await spoolError(() => queue.setOptions({ maxAttempts: 0 }), "validation_failed");
    await spoolError(() => queue.deadLetters({ limit: 0 }), "validation_failed");
    await spoolError(() => queue.replayDead({ ids: "all" } as never), "validation_failed");
    await spoolError(() => queue.work(async () => undefined, { concurrency: 0 }), "validation_failed");
    expect(await queue.delete()).toBe(false);
    expect((await spool.queues()).map((q) => q.name)).not.toContain(name);
    await queue.publish("fine");
    expect((await queue.stats()).totals.published).toBe(1);
  });

  it("spool.publish validates like queue.publish", async () => {
    const { spool } = await open();
    const queue = await seeded(spool);
    const before = counts(await queue.stats());
    await spoolError(() => spool.publish(queue.name, 1, { priority: 10 }), "validation_failed");
    await spoolError(() => spool.publish(queue.name, undefined), "validation_failed");
    expect(counts(await queue.stats())).toEqual(before);
  });

  it("an unknown queue option fails with validation_failed and creates or changes nothing", async () => {
    const { spool } = await open();
    const name = uniqueQueueName("pub");
    const error = await spoolError(() => spool.queue(name, { maxAttemps: 3 } as never), "validation_failed");
    expect(detailPaths(error)).toContain("/maxAttemps");
    expect((await spool.queues()).map((q) => q.name)).not.toContain(name);

    const queue = spool.queue(name, { maxAttempts: 3 });
    const info = await queue.info();
    await spoolError(() => queue.setOptions({ leaseMs: 10, bogus: 1 } as never), "validation_failed");
    await spoolError(() => spool.queue(name, { maxAttempts: 0 }), "validation_failed");
    await spoolError(() => spool.queue(name, { overflow: "drop-newest" } as never), "validation_failed");
    expect((await queue.info()).options).toEqual(info.options);
  });

  it.each([
    ["an empty name", ""],
    ["a name with a space", "has space"],
    ["a name with a slash", "a/b"],
    ["a name with a wildcard", "orders.*"],
    ["a 201-character name", "q".repeat(201)],
    ["a non-string name", 42],
  ])("a bad queue name (%s) fails with validation_failed and creates nothing", async (_what, name) => {
    const { spool } = await open();
    const before = (await spool.queues()).length;
    await spoolError(() => spool.queue(name as string), "validation_failed");
    await spoolError(() => spool.publish(name as string, { a: 1 }), "validation_failed");
    expect((await spool.queues()).length).toBe(before);
  });

  it("a body over maxBodyBytes fails with too_large and changes nothing; the limit counts UTF-8 bytes", async () => {
    const { spool } = await open({ maxBodyBytes: 64 });
    const queue = await seeded(spool);
    const before = counts(await queue.stats());
    // JSON text of a string is its characters plus two quotes.
    const error = await spoolError(() => queue.publish("x".repeat(63)), "too_large");
    expect(error).toBeInstanceOf(TooLargeError);
    await spoolError(() => queue.publish("é".repeat(32)), "too_large"); // 66 bytes in 34 characters
    await spoolError(() => queue.publish({ text: "x".repeat(60) }), "too_large");
    expect(counts(await queue.stats())).toEqual(before);
    // Exactly at the limit is fine.
    await queue.publish("x".repeat(62));
    await queue.publish("é".repeat(31));
    expect((await queue.stats()).totals.published).toBe(before.totals.published + 2);
  });

  it("an oversized item fails the whole batch with too_large, naming its index", async () => {
    const { spool } = await open({ maxBodyBytes: 64 });
    const queue = await seeded(spool);
    const before = counts(await queue.stats());
    const error = await spoolError(() => queue.publishMany([{ body: "ok" }, { body: "ok" }, { body: "x".repeat(100) }]), "too_large");
    expect(error).toBeInstanceOf(TooLargeError);
    expect(detailPaths(error).some((p) => p.startsWith("/2")), `details ${JSON.stringify(error.details)} name item 2`).toBe(true);
    expect(counts(await queue.stats())).toEqual(before);
  });

  it("the default body limit is 256 KiB", async () => {
    const { spool } = await open();
    const queue = await seeded(spool);
    const limit = 256 * 1024;
    await queue.publish("x".repeat(limit - 2));
    await spoolError(() => queue.publish("x".repeat(limit - 1)), "too_large");
    expect((await queue.stats()).totals.published).toBe(3);
  });

  it("typed bodies and headers come back exactly as published", async () => {
    const { spool } = await open();
    const queue = spool.queue<Email>(uniqueQueueName("pub"));
    const body: Email = { to: "a@x.io", subject: "héllo ✓ \u2028 \"quoted\" 🎉", tags: ["a", "b"] };
    const headers = { "content-type": "application/json", "x-trace": "abc", unicode: "✓ ü", empty: "" };
    const { id } = await queue.publish(body, { headers, priority: 4, correlationId: "corr-1", causationId: "cause-1", maxAttempts: 7 });
    const [message] = await queue.lease();
    expect(message.id).toBe(id);
    expect(message.queue).toBe(queue.name);
    expect(message.body).toEqual(body);
    const to: string = message.body.to; // typed end to end
    expect(to).toBe("a@x.io");
    expect(message.headers).toEqual(headers);
    expect(message.priority).toBe(4);
    expect(message.correlationId).toBe("corr-1");
    expect(message.causationId).toBe("cause-1");
    expect(message.maxAttempts).toBe(7);
    expect(message.attempt).toBe(1);
    expect(message.groupKey).toBeUndefined();
    expect(message.expiresAt).toBeUndefined();
    expect(message.publishedAt).toBe(message.availableAt);
  });

  it("a message without headers has empty headers", async () => {
    const { spool } = await open();
    const queue = spool.queue(uniqueQueueName("pub"));
    await queue.publish(1);
    const [message] = await queue.lease();
    expect(message.headers).toEqual({});
  });

  it.each([
    ["null", null],
    ["zero", 0],
    ["false", false],
    ["an empty string", ""],
    ["an empty array", []],
    ["an empty object", {}],
    ["a big number", 1.7976931348623157e308],
    ["a negative float", -0.000123],
    ["deep nesting", { a: [{ b: { c: [1, [2, [3, { d: null }]]] } }] }],
    ["odd strings", { s: "\u0000\t\n\\\"/ \ud83d\ude00 \u2028\u2029" }],
  ])("a body of %s round-trips", async (_name, body) => {
    const { spool } = await open();
    const queue = spool.queue(uniqueQueueName("pub"));
    await queue.publish(body);
    await queue.publishMany([{ body }]);
    const leased = await leaseAll(queue);
    expect(leased.map((m) => m.body)).toEqual([body, body]);
  });

  it("any JSON value round-trips through publishMany and lease, in order (property)", async () => {
    const { spool } = await open();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 1, maxLength: 8 }), async (bodies) => {
        const queue = spool.queue(uniqueQueueName("pub"));
        await queue.publishMany(bodies.map((body) => ({ body })));
        const leased = await leaseAll(queue);
        // JSON has no -0: what comes back is what JSON carries.
        expect(leased.map((m) => m.body)).toEqual(bodies.map((b) => JSON.parse(JSON.stringify(b)) as unknown));
      }),
      { numRuns: 40 },
    );
  });
};
