import { SpanKind, SpanStatusCode, context, trace, type Span } from "@opentelemetry/api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Spool, memoryStore, type LeasedMessage } from "../../src/index.js";
import { hasActiveSpan, injectTraceContext, withHandleSpan, withPublishSpan } from "../../src/observability/tracing.js";
import { registerTestTracing, type FinishedSpan, type TestTracing } from "./test-tracing.js";

let tracing: TestTracing;
beforeAll(() => {
  tracing = registerTestTracing();
});
afterAll(() => tracing.disable());

const spools: Spool[] = [];
afterEach(async () => {
  tracing.reset();
  await Promise.all(spools.splice(0).map((s) => s.close()));
});

async function openSpool(): Promise<Spool> {
  const spool = await Spool.open({ store: memoryStore() });
  spools.push(spool);
  return spool;
}

/** Runs `fn` inside a fresh root span of the test's own, ended afterwards. */
async function inSpan<R>(fn: (span: Span) => Promise<R>): Promise<{ result: R; root: Span }> {
  return tracing.tracer.startActiveSpan("test-root", async (root) => {
    try {
      return { result: await fn(root), root };
    } finally {
      root.end();
    }
  });
}

function parseTraceparent(value: string | undefined): { traceId: string; spanId: string; flags: string } {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value ?? "");
  if (!match) throw new Error(`not a traceparent: ${value}`);
  return { traceId: match[1], spanId: match[2], flags: match[3] };
}

function spanNamed(name: string): FinishedSpan {
  const found = tracing.spans().filter((s) => s.name === name);
  expect(found, `spans named ${name}`).toHaveLength(1);
  return found[0];
}

describe("publish inside an active span", () => {
  it("makes a producer span, child of the active one, and the message carries its traceparent", async () => {
    const spool = await openSpool();
    const queue = spool.queue<string>("emails");
    const { result, root } = await inSpan(() => queue.publish("hi", { headers: { tenant: "acme" } }));

    const publish = spanNamed("spool.publish emails");
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(publish.traceId).toBe(root.spanContext().traceId);
    expect(publish.parentSpanId).toBe(root.spanContext().spanId);
    expect(publish.attributes).toMatchObject({
      "messaging.system": "spool",
      "messaging.destination.name": "emails",
      "messaging.operation.type": "publish",
      "messaging.message.id": result.id,
    });
    expect(publish.status.code).toBe(SpanStatusCode.UNSET);

    const [message] = await queue.lease();
    expect(message.id).toBe(result.id);
    const parent = parseTraceparent(message.headers.traceparent);
    expect(parent.traceId).toBe(root.spanContext().traceId);
    expect(parent.spanId).toBe(publish.spanId);
    expect(parent.flags).toBe("01");
    expect(message.headers.tenant).toBe("acme");
  });

  it("gives every message of publishMany the batch's traceparent, and keeps a traceparent the caller set", async () => {
    const spool = await openSpool();
    const queue = spool.queue<number>("batch");
    const relayed = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const { root } = await inSpan(() =>
      queue.publishMany([{ body: 1 }, { body: 2, headers: { a: "b" } }, { body: 3, headers: { traceparent: relayed } }]),
    );
    const publish = spanNamed("spool.publish batch");
    expect(publish.attributes["messaging.batch.message_count"]).toBe(3);
    expect(publish.attributes["messaging.message.id"]).toBeUndefined();

    const messages = await queue.lease({ max: 3 });
    expect(messages.map((m) => m.body)).toEqual([1, 2, 3]);
    expect(parseTraceparent(messages[0].headers.traceparent)).toMatchObject({ traceId: root.spanContext().traceId, spanId: publish.spanId });
    expect(parseTraceparent(messages[1].headers.traceparent)).toMatchObject({ traceId: root.spanContext().traceId, spanId: publish.spanId });
    expect(messages[1].headers.a).toBe("b");
    expect(messages[2].headers.traceparent).toBe(relayed);
  });

  it("traces spool.publish and exchange publishes: every routed copy carries the traceparent", async () => {
    const spool = await openSpool();
    await spool.declareExchange("events", "topic");
    await spool.bind("events", "audit", "user.#");
    await spool.bind("events", "mail", "user.created");
    const { root, result } = await inSpan(async () => {
      await spool.publish("direct-q", { n: 1 });
      await spool.publishToExchange("", "default-q", { n: 2 });
      return spool.publishToExchange("events", "user.created", { n: 3 });
    });
    expect(result.routed).toBe(2);
    const traceId = root.spanContext().traceId;

    const exchangeSpan = spanNamed("spool.publish events");
    expect(exchangeSpan.attributes).toMatchObject({ "messaging.destination.name": "events", "messaging.spool.routing_key": "user.created" });
    for (const name of ["audit", "mail"]) {
      const [copy] = await spool.queue(name).lease();
      expect(parseTraceparent(copy.headers.traceparent)).toMatchObject({ traceId, spanId: exchangeSpan.spanId });
    }
    const defaultSpan = spanNamed("spool.publish default-q");
    const [viaDefault] = await spool.queue("default-q").lease();
    expect(parseTraceparent(viaDefault.headers.traceparent).spanId).toBe(defaultSpan.spanId);
    const direct = spanNamed("spool.publish direct-q");
    const [viaSpool] = await spool.queue("direct-q").lease();
    expect(parseTraceparent(viaSpool.headers.traceparent).spanId).toBe(direct.spanId);
    expect(direct.parentSpanId).toBe(root.spanContext().spanId);
  });

  it("ends the publish span with error status when the publish fails", async () => {
    const spool = await openSpool();
    const queue = spool.queue("strict");
    await expect(inSpan(() => queue.publish("x", { priority: 42 }))).rejects.toMatchObject({ code: "validation_failed" });
    const publish = spanNamed("spool.publish strict");
    expect(publish.status.code).toBe(SpanStatusCode.ERROR);
    expect(publish.events.map((e) => e.name)).toEqual(["exception"]);
  });
});

describe("publish outside any span, with an SDK registered", () => {
  it("makes no span and adds no headers", async () => {
    const spool = await openSpool();
    const queue = spool.queue("quiet");
    expect(hasActiveSpan()).toBe(false);
    await queue.publish(1);
    await queue.publishMany([{ body: 2 }]);
    await spool.publishToExchange("", "quiet", 3);
    const messages = await queue.lease({ max: 3 });
    expect(messages.map((m) => Object.keys(m.headers))).toEqual([[], [], []]);
    expect(tracing.spans()).toEqual([]);
  });
});

describe("withHandleSpan", () => {
  async function publishedInTrace(spool: Spool, queue: string): Promise<{ message: LeasedMessage<unknown>; traceId: string; publishSpanId: string }> {
    const { root } = await inSpan(() => spool.queue(queue).publish({ work: true }));
    const [message] = await spool.queue(queue).lease();
    return { message, traceId: root.spanContext().traceId, publishSpanId: spanNamed(`spool.publish ${queue}`).spanId };
  }

  it("runs the handler in a consumer span whose parent is the publish span from the message's traceparent", async () => {
    const spool = await openSpool();
    const { message, traceId, publishSpanId } = await publishedInTrace(spool, "jobs");
    tracing.reset();

    let activeInside: string | undefined;
    const result = await withHandleSpan(message, async (m, ctx: { label: string }) => {
      activeInside = trace.getActiveSpan()?.spanContext().spanId;
      await Promise.resolve();
      return `${ctx.label}:${m.id}`;
    }, { label: "done" });
    expect(result).toBe(`done:${message.id}`);

    const handle = spanNamed("spool.handle jobs");
    expect(handle.kind).toBe(SpanKind.CONSUMER);
    expect(handle.traceId).toBe(traceId);
    expect(handle.parentSpanId).toBe(publishSpanId);
    expect(activeInside).toBe(handle.spanId);
    expect(handle.attributes).toMatchObject({
      "messaging.system": "spool",
      "messaging.destination.name": "jobs",
      "messaging.operation.type": "process",
      "messaging.message.id": message.id,
      "messaging.spool.message.attempt": 1,
    });
    expect(handle.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("chains: a message published by the handler continues the same trace, under the handle span", async () => {
    const spool = await openSpool();
    const { message, traceId } = await publishedInTrace(spool, "first");
    await withHandleSpan(message, (_m, s: Spool) => s.publish("second", { next: true }), spool);
    const handle = spanNamed("spool.handle first");
    const chained = spanNamed("spool.publish second");
    expect(chained.parentSpanId).toBe(handle.spanId);
    const [next] = await spool.queue("second").lease();
    expect(parseTraceparent(next.headers.traceparent)).toMatchObject({ traceId, spanId: chained.spanId });
  });

  it("a worker runs each handler in the handle span, and ctx.publish continues the trace", async () => {
    const spool = await openSpool();
    const { root } = await inSpan(() => spool.queue("orders").publish({ id: 1 }));
    let activeInHandler: string | undefined;
    const worker = spool.queue("orders").work(async (_message, ctx) => {
      await ctx.publish("receipts", { for: 1 });
      activeInHandler = trace.getActiveSpan()?.spanContext().spanId;
    });
    await new Promise((resolve) => worker.once("message:completed", resolve)); // the span has ended by then
    await worker.close();
    const handle = spanNamed("spool.handle orders");
    expect(handle.traceId).toBe(root.spanContext().traceId);
    expect(handle.parentSpanId).toBe(spanNamed("spool.publish orders").spanId);
    expect(activeInHandler).toBe(handle.spanId);
    expect(spanNamed("spool.publish receipts").parentSpanId).toBe(handle.spanId);
  });

  it("ends the span with error status when the handler throws or rejects, and rethrows", async () => {
    const spool = await openSpool();
    const { message } = await publishedInTrace(spool, "failing");
    tracing.reset();
    const boom = new Error("handler failed");
    await expect(Promise.resolve(withHandleSpan(message, async () => Promise.reject(boom), undefined))).rejects.toBe(boom);
    expect(() =>
      withHandleSpan(message, () => {
        throw boom;
      }, undefined),
    ).toThrow(boom);
    const spans = tracing.spans().filter((s) => s.name === "spool.handle failing");
    expect(spans).toHaveLength(2);
    for (const span of spans) {
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: "handler failed" });
      expect(span.events).toEqual([{ name: "exception", attributes: { "exception.type": "Error", "exception.message": "handler failed" } }]);
    }
  });

  it("calls the handler directly, with no span, for a message without traceparent outside any span", async () => {
    const spool = await openSpool();
    await spool.queue("untraced").publish(1);
    const [message] = await spool.queue("untraced").lease();
    const answer = { same: "object" };
    expect(withHandleSpan(message, () => answer, undefined)).toBe(answer); // not wrapped in a promise
    expect(tracing.spans()).toEqual([]);
  });

  it("uses the active span as parent for a message without traceparent", async () => {
    const spool = await openSpool();
    await spool.queue("inner").publish(1);
    const [message] = await spool.queue("inner").lease();
    const { root } = await inSpan(async () => withHandleSpan(message, () => undefined, undefined));
    expect(spanNamed("spool.handle inner").parentSpanId).toBe(root.spanContext().spanId);
  });
});

describe("injectTraceContext / withPublishSpan", () => {
  it("adds traceparent to a copy, never to the caller's object, and returns the same object when there is nothing to add", async () => {
    const headers = { a: "1" };
    expect(injectTraceContext(headers)).toBe(headers);
    expect(injectTraceContext(undefined)).toBeUndefined();
    await inSpan(async (root) => {
      const withTrace = injectTraceContext(headers);
      expect(withTrace).not.toBe(headers);
      expect(headers).toEqual({ a: "1" });
      expect(withTrace).toMatchObject({ a: "1" });
      expect(parseTraceparent(withTrace?.traceparent).spanId).toBe(root.spanContext().spanId);
      const own = { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" };
      expect(injectTraceContext(own)).toBe(own);
    });
  });

  it("withPublishSpan makes the span active inside fn and ends it when fn settles", async () => {
    let inside: string | undefined;
    await withPublishSpan("direct", async (span) => {
      inside = trace.getSpan(context.active())?.spanContext().spanId;
      expect(span.isRecording()).toBe(true);
      return { id: "01ABC" };
    });
    const span = spanNamed("spool.publish direct");
    expect(inside).toBe(span.spanId);
    expect(span.parentSpanId).toBeUndefined();
    expect(span.attributes["messaging.message.id"]).toBe("01ABC");
  });
});
