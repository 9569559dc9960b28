/**
 * Message templates: PUT / GET /v1/templates/:id. Templates are shared by every batch of every
 * channel, so writing one needs a key without queue globs; reading needs any key (a template
 * holds no recipient's data).
 */
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { DeliveryService } from "../../delivery/delivery-service.js";
import { TemplateBodySchema, TemplateParams } from "../delivery-schemas.js";
import { routeSchema } from "../route-schemas.js";

type Params = { Params: Static<typeof TemplateParams> };

export function templateRoutes(app: FastifyInstance, delivery: DeliveryService): void {
  app.put<Params & { Body: Static<typeof TemplateBodySchema> }>(
    "/v1/templates/:id",
    {
      schema: routeSchema("delivery", "Create or replace a message template ({{var}} placeholders, HTML-escaped unless escape is none)", { params: TemplateParams, body: TemplateBodySchema }),
      config: { access: "publish", unlimitedOnly: true },
    },
    async (request) => delivery.putTemplate(request.params.id, request.body),
  );

  app.get<Params>(
    "/v1/templates/:id",
    { schema: routeSchema("delivery", "A template with the variables every recipient must give", { params: TemplateParams }), config: { access: "read" } },
    async (request) => delivery.template(request.params.id),
  );
}
