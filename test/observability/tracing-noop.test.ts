/**
 * With no OpenTelemetry SDK registered (the default), tracing must change nothing: no headers,
 * and the handler is called directly. Its own file, so that no test here runs after a tracer
 * provider was registered in this process.
 */
import { ROOT_CONTEXT, TraceFlags, context, propagation, trace } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { Spool, memoryStore } from "../../src/index.js";
import { hasActiveSpan, injectTraceContext, withHandleSpan } from "../../src/observability/tracing.js";

const spools: Spool[] = [];
afterEach(async () => {
  await Promise.all(spools.splice(0).map((s) => s.close()));
});

async function openSpool(): Promise<Spool> {
  const spool = await Spool.open({ store: memoryStore() });
  spools.push(spool);
  return spool;
}

const remote = trace.wrapSpanContext({ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED });

describe("tracing with nothing registered", () => {
  it("has no SDK in this process", () => {
    // The API's no-op context manager ignores context.with: nothing is ever active.
    expect(context.with(trace.setSpan(ROOT_CONTEXT, remote), () => hasActiveSpan())).toBe(false);
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(ROOT_CONTEXT, remote), carrier);
    expect(carrier).toEqual({});
  });

  it("adds no headers on any publish path", async () => {
    const spool = await openSpool();
    const queue = spool.queue("plain");
    await context.with(trace.setSpan(ROOT_CONTEXT, remote), async () => {
      await queue.publish(1);
      await queue.publish(2, { headers: { a: "b" } });
      await queue.publishMany([{ body: 3 }, { body: 4 }]);
      await spool.publish("plain", 5);
      await spool.publishToExchange("", "plain", 6);
    });
    const messages = await queue.lease({ max: 10 });
    expect(messages.map((m) => m.body)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(messages.map((m) => m.headers)).toEqual([{}, { a: "b" }, {}, {}, {}, {}]);
    const statuses = await Promise.all(messages.map((m) => spool.status(m.id)));
    expect(statuses.every((s) => s?.state === "leased")).toBe(true);
  });

  it("returns the caller's headers object itself from injectTraceContext", () => {
    const headers = { a: "b" };
    expect(injectTraceContext(headers, trace.setSpan(ROOT_CONTEXT, remote))).toBe(headers);
  });

  it("calls the handler directly, even for a message that carries a traceparent", async () => {
    const answer = { same: "object" };
    const plain = { id: "1", queue: "q", headers: {} };
    expect(withHandleSpan(plain, (m, extra: number) => (m === plain && extra === 7 ? answer : undefined), 7)).toBe(answer);
    const traced = { id: "2", queue: "q", headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } };
    expect(withHandleSpan(traced, () => answer, undefined)).toBe(answer);
    await expect(withHandleSpan(traced, async () => Promise.reject(new Error("x")), undefined)).rejects.toThrow("x");
  });
});
