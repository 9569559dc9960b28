/**
 * Routing: exchanges of type direct, fanout and topic (`*` one word, `#` zero or more, words
 * split on "."), bindings exchange → queue, and publishToExchange, which writes one copy per
 * bound queue atomically (all or none). The default exchange "" routes to the queue named by
 * the routing key. No match → routed 0, no error.
 */
import { expect } from "vitest";
import { it } from "../registry.js";
import type { Spool } from "../../../src/index.js";
import { uniqueQueueName } from "../../helpers/poll-until.js";
import type { AreaDefinition } from "../suite.js";
import { counts, leaseAll, spoolError } from "./publish-helpers.js";

function exchangeName(kind: string): string {
  return uniqueQueueName(`x-${kind}`);
}

/** Declares `queues` (with a short name each) and returns their full names. */
function queueNames(...short: string[]): Record<string, string> {
  return Object.fromEntries(short.map((s) => [s, uniqueQueueName(`rt-${s}`)]));
}

async function bodiesIn(spool: Spool, queue: string): Promise<unknown[]> {
  return (await leaseAll(spool.queue(queue))).map((m) => m.body);
}

export const routing: AreaDefinition = (_suite, open) => {
  it("a direct exchange routes to the queues bound with exactly the routing key", async () => {
    const { spool } = await open();
    const x = exchangeName("direct");
    const q = queueNames("a1", "a2", "b");
    await spool.declareExchange(x, "direct");
    await spool.bind(x, q.a1, "orders.created");
    await spool.bind(x, q.a2, "orders.created");
    await spool.bind(x, q.b, "orders.cancelled");
    const result = await spool.publishToExchange(x, "orders.created", { n: 1 }, { priority: 3, headers: { h: "v" } });
    expect(result.routed).toBe(2);
    expect(result.messages.map((m) => m.queue).sort()).toEqual([q.a1, q.a2].sort());
    expect(new Set(result.messages.map((m) => m.id)).size).toBe(2);
    for (const m of result.messages) expect(m).toMatchObject({ replaced: false, duplicate: false });
    for (const name of [q.a1, q.a2]) {
      const [copy] = await leaseAll(spool.queue(name));
      expect(copy).toMatchObject({ body: { n: 1 }, priority: 3, headers: { h: "v" }, queue: name });
      expect(copy.id).toBe(result.messages.find((m) => m.queue === name)?.id);
    }
    expect(await bodiesIn(spool, q.b)).toEqual([]);
    expect((await spool.publishToExchange(x, "orders", { n: 2 })).routed).toBe(0);
    expect((await spool.publishToExchange(x, "orders.created.eu", { n: 3 })).routed).toBe(0);
  });

  it("a fanout exchange copies every message to every bound queue, whatever the key", async () => {
    const { spool } = await open();
    const x = exchangeName("fanout");
    const q = queueNames("one", "two", "three");
    await spool.declareExchange(x, "fanout");
    for (const name of Object.values(q)) await spool.bind(x, name);
    const first = await spool.publishToExchange(x, "anything", "m1");
    const second = await spool.publishToExchange(x, "", "m2");
    expect(first.routed).toBe(3);
    expect(second.routed).toBe(3);
    for (const name of Object.values(q)) expect(await bodiesIn(spool, name)).toEqual(["m1", "m2"]);
  });

  it.each([
    // pattern, routing key, matches?
    ["orders.*", "orders.created", true],
    ["orders.*", "orders", false],
    ["orders.*", "orders.eu.created", false],
    ["*.created", "orders.created", true],
    ["*.created", "created", false],
    ["*", "orders", true],
    ["*", "orders.created", false],
    ["orders.#", "orders", true],
    ["orders.#", "orders.created", true],
    ["orders.#", "orders.eu.created", true],
    ["orders.#", "ordersx.created", false],
    ["#.created", "created", true],
    ["#.created", "orders.eu.created", true],
    ["#.created", "orders.created.late", false],
    ["orders.#.created", "orders.created", true],
    ["orders.#.created", "orders.eu.west.created", true],
    ["orders.#.created", "orders.eu.cancelled", false],
    ["#", "anything.at.all", true],
    ["#", "single", true],
    ["*.*", "a.b", true],
    ["*.*", "a.b.c", false],
    ["orders.created", "orders.created", true],
    ["orders.created", "orders.Created", false],
    ["#.*", "a", true],
    ["*.#.*", "a", false],
    ["*.#.*", "a.b", true],
  ])("topic binding %j against routing key %j matches: %s", async (pattern, key, matches) => {
    const { spool } = await open();
    const x = exchangeName("topic");
    const q = uniqueQueueName("rt-topic");
    await spool.declareExchange(x, "topic");
    await spool.bind(x, q, pattern);
    const result = await spool.publishToExchange(x, key, { key });
    expect(result.routed).toBe(matches ? 1 : 0);
    expect(await bodiesIn(spool, q)).toEqual(matches ? [{ key }] : []);
  });

  it("a queue matched by several bindings of one exchange gets one copy", async () => {
    const { spool } = await open();
    const x = exchangeName("topic");
    const q = queueNames("all", "eu");
    await spool.declareExchange(x, "topic");
    await spool.bind(x, q.all, "orders.#");
    await spool.bind(x, q.all, "*.eu.*");
    await spool.bind(x, q.all, "orders.eu.created");
    await spool.bind(x, q.eu, "*.eu.*");
    await spool.bind(x, q.eu, "*.eu.*"); // binding twice is idempotent
    const result = await spool.publishToExchange(x, "orders.eu.created", "m");
    expect(result.routed).toBe(2);
    expect(await bodiesIn(spool, q.all)).toEqual(["m"]);
    expect(await bodiesIn(spool, q.eu)).toEqual(["m"]);
    const info = (await spool.exchanges()).find((e) => e.name === x);
    expect(info?.bindings.filter((b) => b.queue === q.eu)).toHaveLength(1);
  });

  it("the default exchange \"\" routes to the queue named by the routing key", async () => {
    const { spool } = await open();
    const q = uniqueQueueName("rt-default");
    const result = await spool.publishToExchange("", q, { hello: "world" }, { priority: 2 });
    expect(result.routed).toBe(1);
    expect(result.messages).toEqual([{ id: expect.any(String), queue: q, replaced: false, duplicate: false }]);
    const [message] = await leaseAll(spool.queue(q));
    expect(message).toMatchObject({ id: result.messages[0].id, body: { hello: "world" }, priority: 2 });
    await spoolError(() => spool.publishToExchange("", "not a queue name", 1), "validation_failed");
  });

  it("no matching binding answers routed 0 with no error and enqueues nothing", async () => {
    const { spool } = await open();
    const x = exchangeName("topic");
    const q = uniqueQueueName("rt-none");
    await spool.declareExchange(x, "topic");
    expect(await spool.publishToExchange(x, "a.b", 1)).toEqual({ routed: 0, messages: [] });
    await spool.bind(x, q, "c.*");
    expect(await spool.publishToExchange(x, "a.b", 1)).toEqual({ routed: 0, messages: [] });
    const fanout = exchangeName("fanout");
    await spool.declareExchange(fanout, "fanout");
    expect(await spool.publishToExchange(fanout, "k", 1)).toEqual({ routed: 0, messages: [] });
    expect(counts(await spool.queue(q).stats())).toMatchObject({ ready: 0, totals: { published: 0 } });
  });

  it("publishing to an exchange is atomic: if one bound queue is full, no queue gets a copy", async () => {
    const { spool } = await open();
    const x = exchangeName("fanout");
    const q = queueNames("roomy", "full", "also");
    spool.queue(q.full, { maxLength: 1, overflow: "reject" });
    await spool.declareExchange(x, "fanout");
    for (const name of Object.values(q)) await spool.bind(x, name);
    expect((await spool.publishToExchange(x, "k", "first")).routed).toBe(3);
    const before = await Promise.all(Object.values(q).map(async (name) => counts(await spool.queue(name).stats())));
    await spoolError(() => spool.publishToExchange(x, "k", "second"), "queue_full");
    const after = await Promise.all(Object.values(q).map(async (name) => counts(await spool.queue(name).stats())));
    expect(after).toEqual(before);
    for (const name of Object.values(q)) expect(await bodiesIn(spool, name)).toEqual(["first"]);
  });

  it("an invalid publish to an exchange fails before any copy is written", async () => {
    const { spool } = await open();
    const x = exchangeName("fanout");
    const q = queueNames("a", "b");
    await spool.declareExchange(x, "fanout");
    for (const name of Object.values(q)) await spool.bind(x, name);
    await spoolError(() => spool.publishToExchange(x, "k", 1, { priority: 10 }), "validation_failed");
    await spoolError(() => spool.publishToExchange(x, "k", () => 1), "validation_failed");
    for (const name of Object.values(q)) expect(counts(await spool.queue(name).stats())).toMatchObject({ ready: 0, totals: { published: 0 } });
  });

  it("exchange copies honour each queue's idempotency: a retried exchange publish adds nothing", async () => {
    const { spool } = await open();
    const x = exchangeName("fanout");
    const q = queueNames("a", "b");
    await spool.declareExchange(x, "fanout");
    for (const name of Object.values(q)) await spool.bind(x, name);
    const first = await spool.publishToExchange(x, "k", "m", { idempotencyKey: "evt-1" });
    const again = await spool.publishToExchange(x, "k", "m", { idempotencyKey: "evt-1" });
    expect(again.messages.map((m) => [m.queue, m.id, m.duplicate])).toEqual(first.messages.map((m) => [m.queue, m.id, true]));
    for (const name of Object.values(q)) expect(await bodiesIn(spool, name)).toEqual(["m"]);
  });

  it("declaring an existing exchange with another type fails with conflict; the same type is a no-op", async () => {
    const { spool } = await open();
    const x = exchangeName("conflict");
    const q = uniqueQueueName("rt-conflict");
    await spool.declareExchange(x, "topic");
    await spool.bind(x, q, "a.*");
    await spool.declareExchange(x, "topic");
    await spoolError(() => spool.declareExchange(x, "direct"), "conflict");
    await spoolError(() => spool.declareExchange(x, "fanout"), "conflict");
    const info = (await spool.exchanges()).find((e) => e.name === x);
    expect(info).toEqual({ name: x, type: "topic", bindings: [{ queue: q, bindingKey: "a.*" }] });
  });

  it("an unknown exchange fails with not_found for publish and bind", async () => {
    const { spool } = await open();
    const x = exchangeName("missing");
    const q = uniqueQueueName("rt-missing");
    await spoolError(() => spool.publishToExchange(x, "k", 1), "not_found");
    await spoolError(() => spool.bind(x, q, "k"), "not_found");
    await spool.declareExchange(x, "direct");
    await spool.bind(x, q, "k");
    expect(await spool.deleteExchange(x)).toBe(true);
    await spoolError(() => spool.publishToExchange(x, "k", 1), "not_found");
    expect(await spool.deleteExchange(x)).toBe(false);
    expect((await spool.exchanges()).map((e) => e.name)).not.toContain(x);
  });

  it("unbind stops routing to that queue only", async () => {
    const { spool } = await open();
    const x = exchangeName("direct");
    const q = queueNames("a", "b");
    await spool.declareExchange(x, "direct");
    await spool.bind(x, q.a, "k");
    await spool.bind(x, q.b, "k");
    expect(await spool.unbind(x, q.a, "k")).toBe(true);
    expect(await spool.unbind(x, q.a, "k")).toBe(false);
    const result = await spool.publishToExchange(x, "k", "m");
    expect(result.messages.map((m) => m.queue)).toEqual([q.b]);
    expect(await bodiesIn(spool, q.a)).toEqual([]);
  });

  it("deleting a queue removes its bindings", async () => {
    const { spool } = await open();
    const x = exchangeName("fanout");
    const q = queueNames("gone", "kept");
    await spool.declareExchange(x, "fanout");
    await spool.bind(x, q.gone);
    await spool.bind(x, q.kept);
    await spool.queue(q.gone).delete();
    const result = await spool.publishToExchange(x, "k", "m");
    expect(result.messages.map((m) => m.queue)).toEqual([q.kept]);
    expect((await spool.exchanges()).find((e) => e.name === x)?.bindings.map((b) => b.queue)).toEqual([q.kept]);
  });

  it("the default exchange cannot be declared, bound or deleted; bad names and types are rejected", async () => {
    const { spool } = await open();
    await spoolError(() => spool.declareExchange("", "direct"), "validation_failed");
    await spoolError(() => spool.bind("", uniqueQueueName("rt"), "k"), "validation_failed");
    await spoolError(() => spool.deleteExchange(""), "validation_failed");
    await spoolError(() => spool.declareExchange("has space", "direct"), "validation_failed");
    await spoolError(() => spool.declareExchange(exchangeName("t"), "headers" as never), "validation_failed");
    await spoolError(() => spool.bind(exchangeName("t"), "bad queue", "k"), "validation_failed");
  });
};
