/**
 * Batches: POST /v1/batches (JSON, or NDJSON streamed: the header line, then one recipient per
 * line), GET /v1/batches/:id, GET /v1/batches/:id/messages, GET /v1/stats/messages.
 *
 * The NDJSON parser hands the raw request stream to the route: the body is never buffered, and
 * Fastify's body limit (which would apply to a buffered body) does not cap it; the intake's own
 * limits do (1,000,000 recipients, 1 MiB per line). The parser is registered in this plugin's
 * scope only, so every other route still answers 415 to NDJSON.
 *
 * A batch belongs to its channel's queue, `delivery.<channel>`: a key limited to some queues
 * creates, reads and counts only the batches of channels whose queue it reaches.
 */
import type { IncomingMessage } from "node:http";
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { DeliveryService } from "../../delivery/delivery-service.js";
import type { ChannelName } from "../../delivery/types.js";
import { checkChannelAccess, reachesChannel } from "../auth.js";
import { BatchMessagesQuery, BatchParams, BatchRequestSchema, NDJSON, NdjsonBody } from "../delivery-schemas.js";
import { routeSchema } from "../route-schemas.js";

type Params = { Params: Static<typeof BatchParams> };

export function batchRoutes(app: FastifyInstance, delivery: DeliveryService): void {
  void app.register(async (scope) => {
    scope.addContentTypeParser(NDJSON, (_request, payload, done) => done(null, payload));

    scope.post<{ Body: Static<typeof BatchRequestSchema> | IncomingMessage }>(
      "/v1/batches",
      {
        schema: {
          ...routeSchema("delivery", "Create a batch: a template rendered per recipient, one message each; 202 once the batch is durable"),
          body: { content: { "application/json": { schema: BatchRequestSchema }, [NDJSON]: { schema: NdjsonBody } } },
        },
        config: { access: "publish" },
      },
      async (request, reply) => {
        const type = request.headers["content-type"] ?? "";
        // The channel of an NDJSON batch is on its first line: the intake asks once it has read it.
        const authorize = (channel: ChannelName) => checkChannelAccess(request, channel);
        const accepted = type.startsWith(NDJSON)
          ? await delivery.createBatchFromStream(request.body as IncomingMessage, authorize)
          : await delivery.createBatch(request.body as Static<typeof BatchRequestSchema>, authorize);
        return reply.code(202).send(accepted);
      },
    );
  });

  app.get<Params>(
    "/v1/batches/:id",
    { schema: routeSchema("delivery", "A batch's counts by status, progress and completion time", { params: BatchParams }), config: { access: "read" } },
    async (request) => {
      const summary = await delivery.batch(request.params.id);
      checkChannelAccess(request, summary.channel);
      return summary;
    },
  );

  app.get<Params & { Querystring: Static<typeof BatchMessagesQuery> }>(
    "/v1/batches/:id/messages",
    {
      schema: routeSchema("delivery", "A batch's per-recipient log in index order, cursor-paged, optionally of one status", { params: BatchParams, querystring: BatchMessagesQuery }),
      config: { access: "read" },
    },
    async (request) => {
      checkChannelAccess(request, (await delivery.batch(request.params.id)).channel);
      return delivery.messages(request.params.id, request.query);
    },
  );

  app.get(
    "/v1/stats/messages",
    { schema: routeSchema("delivery", "Message-log counts by status, overall and per batch (of the batches the key reaches)"), config: { access: "read" } },
    async (request) => delivery.stats((channel) => reachesChannel(request, channel)),
  );
}
