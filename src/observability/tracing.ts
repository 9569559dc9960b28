/**
 * OpenTelemetry tracing through the API only (`@opentelemetry/api`): Spool never registers an
 * SDK, a tracer provider or a propagator. With nothing registered every function here is a
 * no-op, and the publish and handle paths pay one context lookup.
 *
 * Spool continues traces; it does not start them:
 *
 *   publish inside an active span  → a PRODUCER span `spool.publish <queue>` (child of it), and
 *                                    every message carries that span's `traceparent` (and
 *                                    `tracestate`) header, written by the global propagator.
 *   publish with no active span    → no span, no headers added, no allocation.
 *   handle a message with a        → a CONSUMER span `spool.handle <queue>` whose parent is the
 *   `traceparent` header             publish span; the handler runs in its context, so its own
 *                                    spans (HTTP calls, chained publishes) are children of it.
 *   handle one without             → a span only if one is active around the call; else none.
 *
 * Headers the caller set win: a message published with its own `traceparent` keeps it (a relay
 * carrying an upstream trace), and nothing of the active context is mixed into it.
 */
import {
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from "@opentelemetry/api";

const TRACER_NAME = "spool";

/** What `withHandleSpan` reads from a message (a `Message`, `LeasedMessage` or stored message fits). */
export interface TracedMessage {
  id: string;
  queue: string;
  headers?: Readonly<Record<string, string>> | undefined;
  attempt?: number;
  correlationId?: string | undefined;
}

export interface PublishSpanOptions {
  /** Messages in the call, when more than one (`messaging.batch.message_count`). */
  batchSize?: number;
  /** Exchange publishes: the routing key (`messaging.spool.routing_key`). */
  routingKey?: string;
}

function tracer(): Tracer {
  // Looked up per span (only on the traced path): a provider registered or replaced later is used.
  return trace.getTracer(TRACER_NAME);
}

/**
 * True when a span is active in the current context: the publish paths create a span and inject
 * headers only then. With no SDK registered this is always false and costs one map lookup.
 */
export function hasActiveSpan(): boolean {
  return trace.getSpan(context.active()) !== undefined;
}

/**
 * `headers` plus the trace context of `ctx` (default: the active one), as the global propagator
 * writes it (`traceparent`, `tracestate` for W3C). Returns `headers` itself, not a copy, when there
 * is nothing to add: no active span, no propagator registered, or `headers` already has a
 * `traceparent`. Never modifies `headers`.
 */
export function injectTraceContext(
  headers: Readonly<Record<string, string>> | undefined,
  ctx: Context = context.active(),
): Record<string, string> | undefined {
  if (headers?.traceparent !== undefined || trace.getSpan(ctx) === undefined) return headers as Record<string, string> | undefined;
  const carrier = traceHeaders(ctx);
  if (carrier === undefined) return headers as Record<string, string> | undefined;
  return headers === undefined ? carrier : { ...carrier, ...headers };
}

/**
 * Adds the active trace context to every input's headers (one propagator call for the batch).
 * A no-op without an active span.
 */
export function injectTraceContextAll(inputs: ReadonlyArray<{ headers?: Record<string, string> | undefined }>, ctx: Context = context.active()): void {
  if (trace.getSpan(ctx) === undefined) return;
  const carrier = traceHeaders(ctx);
  if (carrier === undefined) return;
  for (const input of inputs) {
    const headers = input.headers;
    if (headers === undefined) input.headers = { ...carrier };
    else if (headers.traceparent === undefined) input.headers = { ...carrier, ...headers };
  }
}

function traceHeaders(ctx: Context): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  for (const _key in carrier) return carrier;
  return undefined; // no propagator registered: it wrote nothing
}

/**
 * Runs `fn` inside a PRODUCER span `spool.publish <destination>` (messaging semantic conventions:
 * `messaging.system=spool`, `messaging.destination.name`, `messaging.operation.type=publish`, and
 * `messaging.message.id` once the publish answered with a single id). The span ends when `fn`
 * settles, with error status if it rejected. Inside `fn`, `injectTraceContext` sees this span.
 *
 * Always makes a span (a non-recording one without an SDK); the library's publish paths call it
 * only when `hasActiveSpan()`.
 */
export function withPublishSpan<R>(destination: string, fn: (span: Span) => Promise<R>, options: PublishSpanOptions = {}): Promise<R> {
  const parent = context.active();
  const attributes: Attributes = {
    "messaging.system": "spool",
    "messaging.destination.name": destination,
    "messaging.operation.type": "publish",
    "messaging.operation.name": "publish",
  };
  if (options.batchSize !== undefined && options.batchSize !== 1) attributes["messaging.batch.message_count"] = options.batchSize;
  if (options.routingKey !== undefined) attributes["messaging.spool.routing_key"] = options.routingKey;
  const span = tracer().startSpan(`spool.publish ${destination}`, { kind: SpanKind.PRODUCER, attributes }, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      const result = await fn(span);
      const id = singleMessageId(result);
      if (id !== undefined) span.setAttribute("messaging.message.id", id);
      return result;
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The id of a publish that produced exactly one message: `{id}`, `[{id}]` or `{messages: [{id}]}`. */
function singleMessageId(result: unknown): string | undefined {
  let one: unknown = result;
  if (Array.isArray(result)) one = result.length === 1 ? result[0] : undefined;
  else if (result !== null && typeof result === "object" && "messages" in result && Array.isArray(result.messages)) {
    one = result.messages.length === 1 ? result.messages[0] : undefined;
  }
  if (one !== null && typeof one === "object" && "id" in one && typeof one.id === "string") return one.id;
  return undefined;
}

/**
 * Calls `fn(message, arg)` inside a CONSUMER span `spool.handle <queue>` whose parent is the trace
 * context in the message's headers (`traceparent`), or the active span if the message has none.
 * The span ends when the handler's result settles, with error status (and the exception
 * recorded) if it threw or rejected. Returns what `fn` returns (a promise for a thenable).
 *
 * No span, and nothing allocated, when the message has no `traceparent` and no span is active:
 * `fn(message, arg)` is called directly. Pass `arg` (e.g. the handler context) rather than a
 * closure, so that the untraced path allocates nothing.
 */
export function withHandleSpan<M extends TracedMessage, A, R>(message: M, fn: (message: M, arg: A) => R, arg: A): R | Promise<Awaited<R>> {
  const headers = message.headers;
  let parent = context.active();
  if (headers === undefined || headers.traceparent === undefined) {
    if (trace.getSpan(parent) === undefined) return fn(message, arg);
  } else {
    parent = propagation.extract(parent, headers);
  }
  const attributes: Attributes = {
    "messaging.system": "spool",
    "messaging.destination.name": message.queue,
    "messaging.operation.type": "process",
    "messaging.operation.name": "handle",
    "messaging.message.id": message.id,
  };
  if (message.attempt !== undefined) attributes["messaging.spool.message.attempt"] = message.attempt;
  if (message.correlationId !== undefined) attributes["messaging.message.conversation_id"] = message.correlationId;
  const span = tracer().startSpan(`spool.handle ${message.queue}`, { kind: SpanKind.CONSUMER, attributes }, parent);
  let result: R;
  try {
    result = context.with(trace.setSpan(parent, span), fn, undefined, message, arg);
  } catch (error) {
    failSpan(span, error);
    span.end();
    throw error;
  }
  if (!isThenable(result)) {
    span.end();
    return result;
  }
  return Promise.resolve(result).then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      failSpan(span, error);
      span.end();
      throw error;
    },
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof (value as { then?: unknown }).then === "function";
}

function failSpan(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
