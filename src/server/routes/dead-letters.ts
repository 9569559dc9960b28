/** Dead letters: list (cursor-paged), replay, delete one, purge. */
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { DeadReason } from "../../core/message.js";
import { NotFoundError } from "../../core/errors.js";
import { DeadLetterParams, DeadListQuery, QueueParams, ReplayBody, routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";

type Params = { Params: Static<typeof QueueParams> };

export function deadLetterRoutes(app: FastifyInstance, { spool }: ServerContext): void {
  app.get<Params & { Querystring: Static<typeof DeadListQuery> }>(
    "/v1/queues/:q/dead",
    { schema: routeSchema("dead letters", "Dead letters, oldest first, with reason, attempts and last error", { params: QueueParams, querystring: DeadListQuery }), config: { access: "admin" } },
    async (request) => {
      const { cursor, limit = 100, reason } = request.query;
      return spool.deadLetters(request.params.q, { cursor, limit, ...(reason !== undefined && { reason: reason as DeadReason }) });
    },
  );

  app.post<Params & { Body: Static<typeof ReplayBody> }>(
    "/v1/queues/:q/dead/replay",
    { schema: routeSchema("dead letters", "Move dead letters back to ready with attempts reset", { params: QueueParams, body: ReplayBody }), config: { access: "admin" } },
    async (request) => ({ replayed: await spool.replayDead(request.params.q, request.body) }),
  );

  app.delete<{ Params: Static<typeof DeadLetterParams> }>(
    "/v1/queues/:q/dead/:id",
    { schema: routeSchema("dead letters", "Delete one dead letter", { params: DeadLetterParams }), config: { access: "admin" } },
    async (request, reply) => {
      if (!(await spool.deleteDead(request.params.q, request.params.id))) {
        throw new NotFoundError(`no dead letter ${request.params.id} in queue "${request.params.q}"`);
      }
      return reply.code(204).send();
    },
  );

  app.delete<Params>(
    "/v1/queues/:q/dead",
    { schema: routeSchema("dead letters", "Delete every dead letter of the queue", { params: QueueParams }), config: { access: "admin" } },
    async (request) => ({ purged: await spool.purgeDead(request.params.q) }),
  );
}
