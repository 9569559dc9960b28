/** Operator actions: force a snapshot, rescale this server's in-process workers. */
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { ConflictError, NotFoundError } from "../../core/errors.js";
import { QueueParams, ScaleBody, routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";

interface Snapshottable {
  snapshot(): Promise<void>;
}

function canSnapshot(store: object): store is Snapshottable {
  return typeof (store as Partial<Snapshottable>).snapshot === "function";
}

export function adminRoutes(app: FastifyInstance, { spool }: ServerContext): void {
  app.post("/v1/admin/snapshot", { schema: routeSchema("admin", "Write a journal snapshot now and compact the log"), config: { access: "admin", unlimitedOnly: true } }, async () => {
    if (!canSnapshot(spool.store)) throw new ConflictError(`the ${spool.store.name} store has no snapshots`);
    await spool.store.snapshot();
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
