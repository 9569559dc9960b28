/** Operator actions: force a snapshot, rescale this server's in-process workers. */
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { NotFoundError } from "../../core/errors.js";
import { QueueParams, ScaleBody, routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";

export function adminRoutes(app: FastifyInstance, { spool }: ServerContext): void {
  app.post("/v1/admin/snapshot", { schema: routeSchema("admin", "Write a journal snapshot now and compact the log"), config: { access: "admin", unlimitedOnly: true } }, async () => {
    await spool.snapshot();
    return { ok: true };
  });

  app.post<{ Params: Static<typeof QueueParams>; Body: Static<typeof ScaleBody> }>(
    "/v1/admin/workers/:q/scale",
    { schema: routeSchema("admin", "Set the concurrency of this server's workers on a queue", { params: QueueParams, body: ScaleBody }), config: { access: "admin" } },
    async (request) => {
      const workers = spool.scaleWorkers(request.params.q, request.body.concurrency);
      if (workers === 0) throw new NotFoundError(`this server runs no worker on queue "${request.params.q}"`);
      return { queue: request.params.q, workers, concurrency: request.body.concurrency };
    },
  );
}
