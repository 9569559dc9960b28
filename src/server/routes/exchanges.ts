/**
 * Routing topology and exchange publishes. An exchange belongs to the queues bound to it: a key
 * limited to some queues reaches it only when every bound queue is in reach (one with no bindings,
 * always), and may declare, delete, bind, unbind or publish only there — so no change it makes
 * and no message it sends touches a queue out of reach.
 */
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { NotFoundError } from "../../core/errors.js";
import type { ExchangeInfo } from "../../routing/route.js";
import { checkQueueAccess, reaches } from "../auth.js";
import { BindingBody, ExchangeBody, ExchangeParams, ExchangePublishBody, routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";

type Params = { Params: Static<typeof ExchangeParams> };

export function exchangeRoutes(app: FastifyInstance, { spool }: ServerContext): void {
  async function existing(name: string): Promise<ExchangeInfo> {
    const info = await spool.exchange(name);
    if (info === undefined) throw new NotFoundError(`exchange "${name}" does not exist`);
    return info;
  }

  app.get("/v1/exchanges", { schema: routeSchema("exchanges", "Every exchange the key reaches, with its bindings"), config: { access: "read" } }, async (request) => ({
    exchanges: (await spool.exchanges()).filter((info) => info.bindings.every((binding) => reaches(request, binding.queue))),
  }));

  /** Throws `forbidden` unless the key reaches every queue bound to `exchange` (unknown: none). */
  async function checkExchangeAccess(request: FastifyRequest, exchange: string): Promise<void> {
    if (!request.identity?.limited) return;
    const info = await spool.exchange(exchange);
    for (const binding of info?.bindings ?? []) checkQueueAccess(request, binding.queue);
  }

  app.put<Params & { Body: Static<typeof ExchangeBody> }>(
    "/v1/exchanges/:x",
    { schema: routeSchema("exchanges", "Declare an exchange (idempotent for the same type)", { params: ExchangeParams, body: ExchangeBody }), config: { access: "admin" } },
    async (request) => {
      // Redeclaring answers the bindings, and another type says the exchange exists: both only in reach.
      await checkExchangeAccess(request, request.params.x);
      await spool.declareExchange(request.params.x, request.body.type);
      return existing(request.params.x);
    },
  );

  app.delete<Params>(
    "/v1/exchanges/:x",
    { schema: routeSchema("exchanges", "Delete an exchange and its bindings", { params: ExchangeParams }), config: { access: "admin" } },
    async (request, reply) => {
      await checkExchangeAccess(request, request.params.x);
      if (!(await spool.deleteExchange(request.params.x))) throw new NotFoundError(`exchange "${request.params.x}" does not exist`);
      return reply.code(204).send();
    },
  );

  app.post<Params & { Body: Static<typeof BindingBody> }>(
    "/v1/exchanges/:x/bindings",
    { schema: routeSchema("exchanges", "Bind a queue to the exchange", { params: ExchangeParams, body: BindingBody }), config: { access: "admin" } },
    async (request, reply) => {
      const { queue, bindingKey = "" } = request.body;
      checkQueueAccess(request, queue);
      // A reachable queue bound to an exchange that routes out of reach would get copies of
      // messages meant for other queues.
      await checkExchangeAccess(request, request.params.x);
      await spool.bind(request.params.x, queue, bindingKey);
      return reply.code(201).send({ exchange: request.params.x, queue, bindingKey });
    },
  );

  app.delete<Params & { Body: Static<typeof BindingBody> }>(
    "/v1/exchanges/:x/bindings",
    { schema: routeSchema("exchanges", "Remove a binding", { params: ExchangeParams, body: BindingBody }), config: { access: "admin" } },
    async (request, reply) => {
      const { queue, bindingKey = "" } = request.body;
      checkQueueAccess(request, queue);
      await checkExchangeAccess(request, request.params.x);
      if (!(await spool.unbind(request.params.x, queue, bindingKey))) {
        throw new NotFoundError(`no binding of queue "${queue}" with key ${JSON.stringify(bindingKey)} on exchange "${request.params.x}"`);
      }
      return reply.code(204).send();
    },
  );

  app.post<Params & { Body: Static<typeof ExchangePublishBody> }>(
    "/v1/exchanges/:x/publish",
    { schema: routeSchema("exchanges", "Publish through an exchange: one copy per matching queue, atomically", { params: ExchangeParams, body: ExchangePublishBody }), config: { access: "publish" } },
    async (request, reply) => {
      const { routingKey = "", body, ...options } = request.body;
      // Every copy must land in reach, whatever the routing key: the default exchange "" routes
      // to the queue the routing key names.
      if (request.params.x === "") checkQueueAccess(request, routingKey);
      else await checkExchangeAccess(request, request.params.x);
      // A full queue with overflow `block` answers at once (429 with Retry-After): the client waits, not the server.
      return reply.code(201).send(await spool.publishToExchange(request.params.x, routingKey, body, { ...options, waitMs: 0 }));
    },
  );
}
