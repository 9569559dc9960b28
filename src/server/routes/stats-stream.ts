/**
 * GET /v1/stats/stream: server-sent events for dashboards.
 *   event: stats   data: {at, queues: [the objects GET /v1/queues answers], health, store}
 * once a second (STATS_INTERVAL_MS), the first at once. A key limited to some queues gets only
 * the queues it reaches. The stream is an EventStream (event-stream.ts), like GET /v1/events:
 * a keep-alive comment every 15 s, and a client too slow to read has snapshots dropped (and
 * counted in `event: dropped`) rather than piled up here; the next one it reads is whole. It ends
 * when the client goes away or the server begins to shut down; HEAD answers the stream's headers
 * and no body.
 */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { reaches } from "../auth.js";
import { EventStream, STREAM_HEADERS } from "../event-stream.js";
import { OpenStreams } from "../open-streams.js";
import { routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";
import { StatsBroadcast, type StatsSnapshot } from "../stats-broadcast.js";

/** Room for the snapshot a new stream gets at once and the next tick's in the same second. */
const SNAPSHOTS_PER_SECOND = 2;
/** Open stats streams per server: each is a filtered copy of every queue's stats a second. */
export const MAX_STATS_STREAMS = 100;

export function statsStreamRoutes(app: FastifyInstance, { spool, rates, shutdown }: ServerContext): void {
  const broadcast = new StatsBroadcast(spool, rates, shutdown);
  const open = new OpenStreams(app, shutdown, MAX_STATS_STREAMS, "stats streams");
  app.addHook("preClose", async () => broadcast.close());
  app.get(
    "/v1/stats/stream",
    {
      schema: routeSchema("queues", "Server-sent events: `stats` once a second with every queue the key reaches (as GET /v1/queues), health and store state", {
        // No parameters: a query is refused (400) rather than ignored, so a typo is not silently a full stream.
        querystring: Type.Object({}, { additionalProperties: false }),
      }),
      config: { access: "read" },
    },
    (request, reply) => {
      if (request.method !== "HEAD") open.checkRoom();
      reply.hijack();
      // HEAD (routed here by Fastify too) gets the stream's headers and ends: there is no stream to hold open.
      if (request.method === "HEAD") return void reply.raw.writeHead(200, STREAM_HEADERS).end();
      const stream = new EventStream(reply.raw, SNAPSHOTS_PER_SECOND);
      open.add(stream);
      const end = () => stream.end();
      if (shutdown.aborted) return end();
      request.raw.on("close", end);
      const send = (snapshot: StatsSnapshot) => stream.send("stats", { ...snapshot, queues: snapshot.queues.filter((queue) => reaches(request, queue.name)) });
      stream.onEnd(broadcast.subscribe(send));
    },
  );
}
