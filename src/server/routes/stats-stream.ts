/**
 * GET /v1/stats/stream: server-sent events for dashboards.
 *   event: stats   data: {at, queues: [the objects GET /v1/queues answers], health, store}
 * once a second (STATS_INTERVAL_MS), the first at once. A key limited to some queues gets only
 * the queues it reaches. A comment line every 15 s keeps proxies from closing the stream between
 * events; a client too slow to read skips snapshots rather than have them pile up here. The stream
 * ends when the client goes away or the server begins to shut down; HEAD answers the stream's
 * headers and no body.
 */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { reaches } from "../auth.js";
import { routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";
import { StatsBroadcast, type StatsSnapshot } from "../stats-broadcast.js";

const KEEPALIVE_MS = 15_000;
const STREAM_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" };

export function statsStreamRoutes(app: FastifyInstance, { spool, rates, shutdown }: ServerContext): void {
  const broadcast = new StatsBroadcast(spool, rates, shutdown);
  const open = new Set<() => void>();
  // Fastify's close waits for in-flight requests: end the streams first.
  app.addHook("preClose", async () => {
    for (const end of [...open]) end();
    broadcast.close();
  });
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
      reply.hijack();
      const raw = reply.raw;
      if (request.method === "HEAD") return void raw.writeHead(200, STREAM_HEADERS).end();
      raw.writeHead(200, { ...STREAM_HEADERS, connection: "keep-alive" });
      raw.write(": spool stats\n\n");
      const send = (snapshot: StatsSnapshot) => {
        if (raw.writableNeedDrain) return;
        const queues = snapshot.queues.filter((queue) => reaches(request, queue.name));
        raw.write(`event: stats\ndata: ${JSON.stringify({ ...snapshot, queues })}\n\n`);
      };
      const keepAlive = setInterval(() => raw.write(": keep-alive\n\n"), KEEPALIVE_MS);
      const unsubscribe = broadcast.subscribe(send);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(keepAlive);
        unsubscribe();
        shutdown.removeEventListener("abort", end);
        open.delete(end);
        raw.end();
      };
      open.add(end);
      if (shutdown.aborted) return end();
      shutdown.addEventListener("abort", end, { once: true });
      request.raw.on("close", end);
    },
  );
}
