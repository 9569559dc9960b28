/** Route schemas of batch delivery: params and queries here, bodies from src/delivery/schemas.ts. */
import { Type } from "@sinclair/typebox";
import { RECIPIENT_STATUSES } from "../delivery/types.js";
import { TemplateIdSchema } from "../delivery/schemas.js";

export { BatchRequestSchema, TemplateBodySchema } from "../delivery/schemas.js";

export const NDJSON = "application/x-ndjson";

export const TemplateParams = Type.Object({ id: TemplateIdSchema });
export const BatchParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9]+$", description: "Batch id" }) });
const StatusSchema = Type.Union(RECIPIENT_STATUSES.map((status) => Type.Literal(status)));
export const BatchMessagesQuery = Type.Object(
  {
    status: Type.Optional(StatusSchema),
    cursor: Type.Optional(Type.String({ maxLength: 16, description: "nextCursor of the previous page" })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "Entries per page (default 100)" })),
  },
  { additionalProperties: false },
);
export const NdjsonBody = Type.Any({ description: "Line 1: the batch header (the JSON body without recipients); then one recipient {id, vars?, address?} per line. At most 1,000,000 recipients." });
