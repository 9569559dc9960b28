/**
 * GET /v1/events: server-sent events for dashboards, CLIs and clients following a job.
 *   ?queue=<glob>   queue events of the queues the glob matches (`*` any run of characters) and
 *                   the key reaches: `event: message.<type>` (message.published, message.active,
 *                   message.progress, message.completed, message.failed, message.retry,
 *                   message.released, message.dead, message.replayed), data: the event
 *                   (core/queue-events.ts). Without `queue`, none.
 *   batch events    `event: batch.progress` (throttled per batch) and `event: batch.completed`,
 *                   data: the batch summary, for the batches whose channel queue the key reaches
 *                   (when the server runs batch delivery).
 *   ?types=a,b      only these event names (e.g. message.completed,message.dead,batch.completed).
 * Bounded (event-stream.ts): at most EVENTS_PER_SECOND events a second per stream, the rest
 * dropped and counted in `event: dropped`; at most MAX_EVENT_STREAMS streams open (then 503). HEAD answers at once with the stream's headers.
 */
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { globMatches } from "../../auth/api-keys.js";
import { ValidationError } from "../../core/errors.js";
import { QUEUE_EVENT_TYPES, type QueueEvent } from "../../core/queue-events.js";
import type { DeliveryService } from "../../delivery/delivery-service.js";
import type { BatchSummary } from "../../delivery/message-log.js";
import { reaches, reachesChannel } from "../auth.js";
import { EventStream, STREAM_HEADERS } from "../event-stream.js";
import { OpenStreams } from "../open-streams.js";
import { routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";

/** Per stream: a dashboard following every queue of a busy server sees a sample, and `dropped`. */
export const EVENTS_PER_SECOND = 1_000;
/** Open streams per server: each costs a listener on every event, so a careless client may not open thousands. */
export const MAX_EVENT_STREAMS = 1_000;

const BATCH_EVENTS = ["batch.progress", "batch.completed"] as const;
const EVENT_NAMES = [...QUEUE_EVENT_TYPES.map((type) => `message.${type}`), ...BATCH_EVENTS];

const EventsQuery = Type.Object(
  {
    queue: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "Queue-name glob (`*` = any run of characters): the queues whose message events to send" })),
    types: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: `Comma-separated event names to send (default all): ${EVENT_NAMES.join(", ")}` })),
  },
  { additionalProperties: false },
);
type Query = { Querystring: Static<typeof EventsQuery> };

/** The event names `types` asks for (all when absent); an unknown name is a 400 naming it. */
function wantedTypes(types: string | undefined): Set<string> {
  if (types === undefined) return new Set(EVENT_NAMES);
  const wanted = new Set(types.split(",").map((name) => name.trim()).filter((name) => name.length > 0));
  for (const name of wanted) {
    if (!EVENT_NAMES.includes(name)) {
      throw new ValidationError(`types: unknown event "${name}"; expected some of ${EVENT_NAMES.join(", ")}`, [{ path: "/types", message: `unknown event "${name}"` }]);
    }
  }
  return wanted;
}

/** Whether a queue's events go to this request: its glob matches and its key reaches it (answers kept per queue). */
function queueFilter(request: FastifyRequest, glob: string): (queue: string) => boolean {
  const answers = new Map<string, boolean>();
  return (queue) => {
    let answer = answers.get(queue);
    if (answer === undefined) answers.set(queue, (answer = globMatches(glob, queue) && reaches(request, queue)));
    return answer;
  };
}

export function eventRoutes(app: FastifyInstance, { spool, shutdown }: ServerContext, delivery: DeliveryService | undefined): void {
  const open = new OpenStreams(app, shutdown, MAX_EVENT_STREAMS, "event streams");
  app.get<Query>(
    "/v1/events",
    { schema: routeSchema("events", "Server-sent events: message.* for ?queue=<glob>, batch.progress, batch.completed", { querystring: EventsQuery }), config: { access: "read" } },
    (request, reply) => {
      const types = wantedTypes(request.query.types);
      if (request.method !== "HEAD") open.checkRoom();
      reply.hijack();
      // HEAD (routed here by Fastify too) gets the stream's headers and ends: there is no stream to hold open.
      if (request.method === "HEAD") return void reply.raw.writeHead(200, STREAM_HEADERS).end();
      const stream = new EventStream(reply.raw, EVENTS_PER_SECOND);
      open.add(stream);

      const glob = request.query.queue;
      if (glob !== undefined) {
        const wanted = queueFilter(request, glob);
        const onEvent = (event: QueueEvent) => {
          const name = `message.${event.type}`;
          if (types.has(name) && wanted(event.queue)) stream.send(name, event);
        };
        stream.onEnd(spool.on("*", onEvent));
      }
      if (delivery) {
        for (const name of BATCH_EVENTS) {
          if (!types.has(name)) continue;
          const emitterName = name === "batch.progress" ? "batch:progress" : "batch:completed";
          const onBatch = (summary: BatchSummary) => {
            if (reachesChannel(request, summary.channel)) stream.send(name, summary);
          };
          delivery.events.on(emitterName, onBatch);
          stream.onEnd(() => delivery.events.off(emitterName, onBatch));
        }
      }

      const end = () => stream.end();
      if (shutdown.aborted) return end();
      request.raw.on("close", end);
    },
  );
}
