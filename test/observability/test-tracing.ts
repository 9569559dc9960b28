/**
 * A minimal OpenTelemetry SDK for tests, registered through the API's globals exactly as a real
 * one is: a tracer provider whose spans are kept in memory, an AsyncLocalStorage context manager
 * and a W3C Trace Context propagator (`traceparent` / `tracestate`).
 *
 * Why not `@opentelemetry/sdk-trace-base`: every release that runs on Node 20 (1.x, 2.x) has the
 * peer dependency `@opentelemetry/api <1.10.0`, and Spool depends on api 1.10, so `npm install`
 * refuses it; the 3.x SDK needs Node ≥ 22.15. This file follows the same API contracts (parent
 * taken from the context given to `startSpan`, `root: true` ignores it, remote parents, sampled
 * flag, tracestate carried) and nothing in it imports Spool.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  context,
  createTraceState,
  isSpanContextValid,
  propagation,
  trace,
  type Attributes,
  type Context,
  type ContextManager,
  type Exception,
  type Link,
  type Span,
  type SpanAttributeValue,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type TimeInput,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";

export interface FinishedSpan {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  /** The parent's span id; undefined for a root span. */
  parentSpanId: string | undefined;
  attributes: Attributes;
  status: SpanStatus;
  events: Array<{ name: string; attributes: Attributes | undefined }>;
}

class AsyncLocalContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.apply(thisArg, args));
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== "function") return target;
    const run = (thisArg: unknown, args: unknown[]) => this.with(ctx, () => (target as (...a: unknown[]) => unknown).apply(thisArg, args));
    return function (this: unknown, ...args: unknown[]) {
      return run(this, args);
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    return this;
  }
}

const TRACEPARENT = "traceparent";
const TRACESTATE = "tracestate";
const TRACEPARENT_PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** W3C Trace Context, version 00. */
class W3CPropagator implements TextMapPropagator {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const spanContext = trace.getSpanContext(ctx);
    if (!spanContext || !isSpanContextValid(spanContext)) return;
    const flags = (spanContext.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, "0");
    setter.set(carrier, TRACEPARENT, `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`);
    const state = spanContext.traceState?.serialize();
    if (state) setter.set(carrier, TRACESTATE, state);
  }

  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = getter.get(carrier, TRACEPARENT);
    const value = Array.isArray(header) ? header[0] : header;
    const match = value === undefined ? null : TRACEPARENT_PATTERN.exec(value.trim());
    if (!match) return ctx;
    const spanContext: SpanContext = { traceId: match[1], spanId: match[2], traceFlags: parseInt(match[3], 16), isRemote: true };
    if (!isSpanContextValid(spanContext)) return ctx;
    const state = getter.get(carrier, TRACESTATE);
    const stateValue = Array.isArray(state) ? state.join(",") : state;
    if (stateValue) spanContext.traceState = createTraceState(stateValue);
    return trace.setSpanContext(ctx, spanContext);
  }

  fields(): string[] {
    return [TRACEPARENT, TRACESTATE];
  }
}

class RecordingSpan implements Span {
  readonly #context: SpanContext;
  readonly #record: FinishedSpan;
  readonly #onEnd: (span: FinishedSpan) => void;
  #ended = false;

  constructor(name: string, kind: SpanKind, spanContext: SpanContext, parentSpanId: string | undefined, attributes: Attributes, onEnd: (span: FinishedSpan) => void) {
    this.#context = spanContext;
    this.#onEnd = onEnd;
    this.#record = {
      name,
      kind,
      traceId: spanContext.traceId,
      spanId: spanContext.spanId,
      parentSpanId,
      attributes: { ...attributes },
      status: { code: SpanStatusCode.UNSET },
      events: [],
    };
  }

  spanContext(): SpanContext {
    return this.#context;
  }
  setAttribute(key: string, value: SpanAttributeValue): this {
    if (!this.#ended) this.#record.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    if (!this.#ended) Object.assign(this.#record.attributes, attributes);
    return this;
  }
  addEvent(name: string, attributesOrStartTime?: Attributes | TimeInput): this {
    const attributes = attributesOrStartTime !== null && typeof attributesOrStartTime === "object" && !(attributesOrStartTime instanceof Date) && !Array.isArray(attributesOrStartTime) ? attributesOrStartTime : undefined;
    if (!this.#ended) this.#record.events.push({ name, attributes });
    return this;
  }
  addLink(_link: Link): this {
    return this;
  }
  addLinks(_links: Link[]): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    if (!this.#ended) this.#record.status = status;
    return this;
  }
  updateName(name: string): this {
    if (!this.#ended) this.#record.name = name;
    return this;
  }
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd(this.#record);
  }
  isRecording(): boolean {
    return !this.#ended;
  }
  recordException(exception: Exception): void {
    const attributes: Attributes =
      typeof exception === "string" ? { "exception.message": exception } : { "exception.type": exception.name ?? "Error", "exception.message": exception.message ?? "" };
    this.addEvent("exception", attributes);
  }
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

class InMemoryTracer implements Tracer {
  constructor(readonly onEnd: (span: FinishedSpan) => void) {}

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = context.active()): Span {
    const parent = options.root ? undefined : trace.getSpanContext(ctx);
    const validParent = parent && isSpanContextValid(parent) ? parent : undefined;
    const spanContext: SpanContext = {
      traceId: validParent?.traceId ?? hex(16),
      spanId: hex(8),
      traceFlags: TraceFlags.SAMPLED,
      traceState: validParent?.traceState,
    };
    return new RecordingSpan(name, options.kind ?? SpanKind.INTERNAL, spanContext, validParent?.spanId, options.attributes ?? {}, this.onEnd);
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: [F] | [SpanOptions, F] | [SpanOptions, Context, F]): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    const options = rest.length >= 2 ? (rest[0] as SpanOptions) : {};
    const parent = rest.length === 3 ? rest[1] : context.active();
    const span = this.startSpan(name, options, parent);
    return context.with(trace.setSpan(parent, span), () => fn(span)) as ReturnType<F>;
  }
}

export interface TestTracing {
  /** Spans ended so far, in end order. */
  spans(): FinishedSpan[];
  reset(): void;
  /** Unregisters the provider, context manager and propagator. */
  disable(): void;
  tracer: Tracer;
}

/** Registers the in-memory tracer provider, context manager and W3C propagator globally. */
export function registerTestTracing(): TestTracing {
  const finished: FinishedSpan[] = [];
  const tracer = new InMemoryTracer((span) => finished.push(span));
  const provider: TracerProvider = { getTracer: () => tracer };
  const contextManager = new AsyncLocalContextManager();
  if (!trace.setGlobalTracerProvider(provider)) throw new Error("a tracer provider is already registered");
  if (!context.setGlobalContextManager(contextManager)) throw new Error("a context manager is already registered");
  if (!propagation.setGlobalPropagator(new W3CPropagator())) throw new Error("a propagator is already registered");
  return {
    spans: () => [...finished],
    reset: () => void (finished.length = 0),
    disable: () => {
      trace.disable();
      context.disable();
      propagation.disable();
    },
    tracer,
  };
}
