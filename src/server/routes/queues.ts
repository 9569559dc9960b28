/** Queue management and stats: PUT / GET / DELETE /v1/queues/:q, pause, resume, purge. */
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { NotFoundError } from "../../core/errors.js";
import type { QueueInfo } from "../../config/schemas.js";
import { reaches } from "../auth.js";
import { allQueueStats, queueStatsView } from "../queue-stats.js";
import { BrowseQuery, QueueOptionsBody, QueueParams, routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";

type Params = { Params: Static<typeof QueueParams> };

export function queueRoutes(app: FastifyInstance, { spool, rates }: ServerContext): void {
  async function existing(name: string): Promise<QueueInfo> {
    const info = await spool.queueInfo(name);
    if (info === undefined) throw new NotFoundError(`queue "${name}" does not exist`);
    return info;
  }

  const statsOf = (info: QueueInfo) => queueStatsView(spool, rates, info);

  app.put<Params & { Body: Static<typeof QueueOptionsBody> }>(
    "/v1/queues/:q",
    { schema: routeSchema("queues", "Create a queue, or update its options", { params: QueueParams, body: QueueOptionsBody }), config: { access: "admin" } },
    async (request) => spool.queue(request.params.q).setOptions(request.body ?? {}),
  );

  app.get("/v1/queues", { schema: routeSchema("queues", "Every queue with its stats"), config: { access: "read" } }, async (request) => {
    return { queues: await allQueueStats(spool, rates, (queue) => reaches(request, queue)) };
  });

  app.get<Params>(
    "/v1/queues/:q",
    { schema: routeSchema("queues", "A queue's depths, totals, rates, circuit states and options", { params: QueueParams }), config: { access: "read" } },
    async (request) => statsOf(await existing(request.params.q)),
  );

  app.delete<Params>(
    "/v1/queues/:q",
    { schema: routeSchema("queues", "Delete a queue with its messages and dead letters", { params: QueueParams }), config: { access: "admin" } },
    async (request, reply) => {
      if (!(await spool.deleteQueue(request.params.q))) throw new NotFoundError(`queue "${request.params.q}" does not exist`);
      return reply.code(204).send();
    },
  );

  for (const paused of [true, false]) {
    app.post<Params>(
      `/v1/queues/:q/${paused ? "pause" : "resume"}`,
      { schema: routeSchema("queues", paused ? "Stop handing out messages (publishes still land)" : "Hand out messages again", { params: QueueParams }), config: { access: "admin" } },
      async (request) => {
        await spool.setPaused(request.params.q, paused);
        return { name: request.params.q, paused };
      },
    );
  }

  app.get<Params & { Querystring: Static<typeof BrowseQuery> }>(
    "/v1/queues/:q/messages",
    {
      schema: routeSchema("queues", "A queue's messages in one state, with bodies, without leasing them", { params: QueueParams, querystring: BrowseQuery }),
      config: { access: "admin" },
    },
    async (request) => ({ messages: await spool.browse(request.params.q, request.query) }),
  );

  app.post<Params>(
    "/v1/queues/:q/purge",
    { schema: routeSchema("queues", "Remove every waiting (ready and delayed) message", { params: QueueParams }), config: { access: "admin" } },
    async (request) => ({ purged: await spool.purgeQueue(request.params.q) }),
  );
}
