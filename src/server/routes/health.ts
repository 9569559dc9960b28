/** Liveness and readiness for load balancers and orchestrators. No key needed. */
import type { FastifyInstance } from "fastify";
import { UnavailableError } from "../../core/errors.js";
import { routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";

export function healthRoutes(app: FastifyInstance, { spool, shutdown }: ServerContext): void {
  app.get("/health/live", { schema: routeSchema("health", "The process is up"), config: { access: "none" } }, async () => ({ status: "ok" }));

  app.get("/health/ready", { schema: routeSchema("health", "The store accepts writes (a database store answers a ping) and the server is not shutting down"), config: { access: "none" } }, async () => {
    if (shutdown.aborted) throw new UnavailableError("the server is shutting down");
    const problem = await spool.readinessProblem();
    if (problem !== undefined) throw new UnavailableError(`the store cannot write: ${problem}`);
    return { status: "ready" };
  });
}
