/**
 * TypeBox schemas of batch delivery's inputs: one definition validates HTTP bodies (through the
 * route schemas), NDJSON lines (compiled here) and library calls, and feeds /openapi.json.
 */
import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";

const MAX_JSON_RECIPIENTS = 10_000;
export const MAX_STREAM_RECIPIENTS = 1_000_000;

const Int = (opts: { minimum?: number; maximum?: number; description?: string } = {}) => Type.Integer(opts);

export const TemplateIdSchema = Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9_.:-]+$", description: "Template id" });

export const TemplateBodySchema = Type.Object(
  {
    body: Type.String({ maxLength: 256 * 1024, description: "Mustache text: {{var}} placeholders (HTML-escaped unless escape is none), {{{var}}} unescaped" }),
    subject: Type.Optional(Type.String({ maxLength: 4096 })),
    escape: Type.Optional(Type.Union([Type.Literal("html"), Type.Literal("none")], { description: "How {{var}} values are escaped (default html)" })),
  },
  { additionalProperties: false },
);
export type TemplateBody = Static<typeof TemplateBodySchema>;

export const ChannelSchema = Type.Union([Type.Literal("webhook"), Type.Literal("websocket"), Type.Literal("mock")]);

export const RecipientSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200, pattern: "^[^\\u0000-\\u001f]+$", description: "The recipient: the group key of its messages (per-recipient order)" }),
    vars: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: "Template variables" })),
    address: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: "Channel destination (a webhook URL); the batch's default when absent" })),
  },
  { additionalProperties: false },
);
export type RecipientInput = Static<typeof RecipientSchema>;

export const WebhookSettingsSchema = Type.Object(
  {
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: "Default destination for recipients without an address" })),
    secret: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "HMAC-SHA256 signing secret (default: the server's delivery.webhookSecret)" })),
    timeoutMs: Type.Optional(Int({ minimum: 1, maximum: 300_000, description: "Per-request timeout (default: the server's delivery.webhookTimeoutMs, 10 s)" })),
  },
  { additionalProperties: false },
);

export const MockSettingsSchema = Type.Object(
  {
    latencyMs: Type.Optional(Int({ minimum: 0, maximum: 60_000, description: "Simulated send time (default 0)" })),
    failureRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: "Share of attempts that fail (retryable; default 0)" })),
  },
  { additionalProperties: false },
);

const headerFields = {
  template: Type.Optional(TemplateBodySchema),
  templateId: Type.Optional(TemplateIdSchema),
  channel: ChannelSchema,
  webhook: Type.Optional(WebhookSettingsSchema),
  mock: Type.Optional(MockSettingsSchema),
  priority: Type.Optional(Int({ minimum: 0, maximum: 9, description: "Priority of the delivery messages (default 0)" })),
  idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "A repeated request with this key answers the first batch" })),
};

/** The first line of an NDJSON batch: the JSON body without `recipients`. */
export const BatchHeaderSchema = Type.Object(headerFields, { additionalProperties: false });
export type BatchHeader = Static<typeof BatchHeaderSchema>;

export const BatchRequestSchema = Type.Object(
  { ...headerFields, recipients: Type.Array(RecipientSchema, { maxItems: MAX_JSON_RECIPIENTS, description: `At most ${MAX_JSON_RECIPIENTS}; stream more as application/x-ndjson` }) },
  { additionalProperties: false },
);
export type BatchRequest = Static<typeof BatchRequestSchema>;

export const checkRecipient = TypeCompiler.Compile(RecipientSchema);
export const checkHeader = TypeCompiler.Compile(BatchHeaderSchema);
