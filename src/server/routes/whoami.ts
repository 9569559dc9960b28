/**
 * GET /v1/whoami: the key a request was made with, so a client (the dashboard) can show only the
 * actions that key may take. It tells the caller nothing it did not already hold: its own name,
 * scopes and queue globs, never another key's.
 */
import type { FastifyInstance } from "fastify";
import { routeSchema } from "../route-schemas.js";

export function whoamiRoutes(app: FastifyInstance): void {
  app.get(
    "/v1/whoami",
    {
      schema: routeSchema("auth", "The request's key: {auth: true, name, scopes, queues} (queues: its globs, or null for every queue); {auth: false} when the server has no keys"),
      config: { access: "read" },
    },
    async (request) => {
      const identity = request.identity;
      if (identity === undefined) return { auth: false };
      return { auth: true, name: identity.name, scopes: [...identity.scopes], queues: identity.queueGlobs ?? null };
    },
  );
}
