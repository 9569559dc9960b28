/**
 * GET /v1/events: server-sent events for dashboards and CLIs.
 *   event: batch.progress   data: the batch summary (throttled per batch)
 *   event: batch.completed  data: the batch summary, once
 * A comment line every 15 s keeps proxies from closing an idle stream. The stream ends when the
 * client goes away or the server begins to shut down (so shutdown never waits on it). HEAD
 * answers at once with the stream's headers and no body.
 * A key limited to some queues gets the events of the batches whose channel queue it reaches.
 */
import type { FastifyInstance } from "fastify";
import type { DeliveryService } from "../../delivery/delivery-service.js";
import type { BatchSummary } from "../../delivery/message-log.js";
import { reachesChannel } from "../auth.js";
import { routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";

const KEEPALIVE_MS = 15_000;
const STREAM_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" };

export function eventRoutes(app: FastifyInstance, delivery: DeliveryService, { shutdown }: ServerContext): void {
  const open = new Set<() => void>();
  // Fastify's close waits for in-flight requests: end the streams first.
  app.addHook("preClose", async () => {
    for (const end of [...open]) end();
  });
  app.get("/v1/events", { schema: routeSchema("delivery", "Server-sent events: batch.progress, batch.completed"), config: { access: "read" } }, (request, reply) => {
    reply.hijack();
    const raw = reply.raw;
    // HEAD (routed here by Fastify too) gets the stream's headers and ends: there is no stream to hold open.
    if (request.method === "HEAD") return void raw.writeHead(200, STREAM_HEADERS).end();
    raw.writeHead(200, { ...STREAM_HEADERS, connection: "keep-alive" });
    raw.write(": spool events\n\n");
    const send = (event: string) => (summary: BatchSummary) => {
      if (reachesChannel(request, summary.channel)) raw.write(`event: ${event}\ndata: ${JSON.stringify(summary)}\n\n`);
    };
    const onProgress = send("batch.progress");
    const onCompleted = send("batch.completed");
    delivery.events.on("batch:progress", onProgress);
    delivery.events.on("batch:completed", onCompleted);
    const keepAlive = setInterval(() => raw.write(": keep-alive\n\n"), KEEPALIVE_MS);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(keepAlive);
      delivery.events.off("batch:progress", onProgress);
      delivery.events.off("batch:completed", onCompleted);
      shutdown.removeEventListener("abort", end);
      open.delete(end);
      raw.end();
    };
    open.add(end);
    if (shutdown.aborted) return end();
    shutdown.addEventListener("abort", end, { once: true });
    request.raw.on("close", end);
  });
}
