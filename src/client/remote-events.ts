/**
 * `client.events({ queue })`: the server's queue events (GET /v1/events?queue=…) as an async
 * iterator of the library's `QueueEvent`s, plus `{ type: "dropped", count }` when the server
 * dropped events over its per-stream rate (read the state afresh then). It ends when the caller
 * aborts `signal` or breaks out of the loop, or when the server ends the stream (shutdown).
 */
import { Type } from "@sinclair/typebox";
import { QueueNameSchema } from "../config/schemas.js";
import { validate } from "../config/validate.js";
import { SpoolError } from "../core/errors.js";
import { QUEUE_EVENT_TYPES, type QueueEvent, type QueueEventType } from "../core/queue-events.js";
import type { HttpTransport } from "./http-transport.js";
import { unreachable } from "./remote-errors.js";
import { serverEvents } from "./server-events.js";

export interface RemoteEventsOptions {
  /** A queue name or a glob (`*` = any run of characters): whose events to receive. */
  queue: string;
  /** Only these event types (default: all). */
  types?: QueueEventType[];
  /** Aborting it ends the iteration. */
  signal?: AbortSignal;
  /** Called once the server has answered and is sending: every change from then on is heard. */
  onOpen?: () => void;
}

/** The server dropped `count` events (over its rate, or this client read too slowly). */
export interface DroppedEvents {
  type: "dropped";
  count: number;
}

const OptionsSchema = Type.Object(
  {
    queue: Type.String({ minLength: 1, maxLength: QueueNameSchema.maxLength }),
    types: Type.Optional(Type.Array(Type.Union(QUEUE_EVENT_TYPES.map((type) => Type.Literal(type))), { minItems: 1 })),
    signal: Type.Optional(Type.Unknown()),
    onOpen: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

export async function* remoteEvents(transport: HttpTransport, options: RemoteEventsOptions): AsyncGenerator<QueueEvent | DroppedEvents> {
  validate(OptionsSchema, options, "client.events options");
  const types = (options.types ?? QUEUE_EVENT_TYPES).map((type) => `message.${type}`).join(",");
  const signal = options.signal;
  const stream = await transport.openStream("/v1/events", { query: { queue: options.queue, types }, signal });
  options.onOpen?.();
  try {
    for await (const { event, data } of serverEvents(stream)) {
      if (event === "dropped") yield { type: "dropped", count: (data as { count: number }).count };
      else if (event.startsWith("message.")) yield data as QueueEvent;
    }
  } catch (error) {
    if (signal?.aborted) return; // the caller stopped listening: not an error
    // A connection cut mid-stream (ECONNRESET): `unavailable`, as every other call of the client says it.
    throw error instanceof SpoolError ? error : unreachable("GET /v1/events", error);
  }
}
