/**
 * The request schemas of every route: Fastify validates with them and /openapi.json is generated
 * from them, so the documentation cannot drift from what the server accepts.
 */
import { STORY_LIMITS } from "../core/story.js";
import { Type, type TSchema } from "@sinclair/typebox";
import {
  ExchangeNameSchema,
  ExchangeTypeSchema,
  LeaseMsSchema,
  LeaseOptionsSchema,
  MessageIdSchema,
  NackSettingsSchema,
  PublishOptionsSchema,
  QueueNameSchema,
  QueueOptionsSchema,
  ReplaySelectionSchema,
} from "../config/schemas.js";
import { limits } from "../config/limits.js";

const Int = (opts: { minimum?: number; maximum?: number; default?: number; description?: string } = {}) => Type.Integer(opts);


const LeaseTokenSchema = Type.String({ minLength: 1, maxLength: 128 });

export const QueueParams = Type.Object({ q: QueueNameSchema });
export const MessageParams = Type.Object({ id: MessageIdSchema });
export const DeadLetterParams = Type.Object({ q: QueueNameSchema, id: MessageIdSchema });
export const ExchangeParams = Type.Object({ x: ExchangeNameSchema });

// JSON has no Date: over HTTP availableAt is epoch ms or an RFC 3339 string.
const { availableAt: _libraryAvailableAt, ...publishOptionFields } = PublishOptionsSchema.properties;
const HttpPublishOptionFields = {
  ...publishOptionFields,
  availableAt: Type.Optional(
    Type.Union([Type.Integer({ minimum: 0 }), Type.String({ format: "date-time" })], {
      description: "When the message becomes ready: ms since the epoch, or RFC 3339 with a time zone",
      errorMessage: "must be epoch ms (an integer >= 0) or an ISO 8601 date-time with a zone (Z or ±hh:mm)",
    }),
  ),
};

export const PublishBody = Type.Object(
  { body: Type.Unknown({ description: "The message body: any JSON value" }), ...HttpPublishOptionFields },
  { additionalProperties: false },
);

export const PublishBatchBody = Type.Object(
  { messages: Type.Array(PublishBody, { minItems: 1, maxItems: limits.maxPublishBatch }) },
  { additionalProperties: false },
);

export const QueueOptionsBody = QueueOptionsSchema;

export const LeaseBody = LeaseOptionsSchema;

const ResultField = Type.Unknown({ description: `The handler's result (JSON, at most ${STORY_LIMITS.maxResultBytes} bytes): kept with the completed status` });

export const AckBody = Type.Object({ leaseToken: LeaseTokenSchema, result: Type.Optional(ResultField) }, { additionalProperties: false });

export const ProgressBody = Type.Object(
  {
    leaseToken: LeaseTokenSchema,
    progress: Type.Optional(Type.Unknown({ description: `The message's progress: a number or small JSON value (at most ${STORY_LIMITS.maxProgressBytes} bytes); replaces the last` })),
    log: Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: STORY_LIMITS.maxLogLinesPerReport })], {
        description: `Lines to add to the message's log (the last ${STORY_LIMITS.maxLogLines} are kept, each cut at ${STORY_LIMITS.maxLogLineChars} characters)`,
      }),
    ),
  },
  { additionalProperties: false },
);

export const NackBody = Type.Object(
  {
    leaseToken: LeaseTokenSchema,
    error: Type.Optional(
      Type.Object(
        {
          message: Type.String({ maxLength: 2000 }),
          kind: Type.Optional(Type.Union([Type.Literal("permanent"), Type.Literal("transient"), Type.Literal("error")])),
        },
        { additionalProperties: false },
      ),
    ),
    ...NackSettingsSchema.properties,
  },
  { additionalProperties: false },
);

export const ExtendBody = Type.Object(
  { leaseToken: LeaseTokenSchema, leaseMs: LeaseMsSchema },
  { additionalProperties: false },
);

export const AcksBody = Type.Object(
  {
    acks: Type.Array(Type.Object({ id: MessageIdSchema, leaseToken: LeaseTokenSchema, result: Type.Optional(ResultField) }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: limits.maxPublishBatch,
    }),
  },
  { additionalProperties: false },
);

export const DeadListQuery = Type.Object(
  {
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    limit: Type.Optional(Int({ minimum: 1, maximum: 1000, description: "Page size (default 100)" })),
    reason: Type.Optional(
      Type.Union(["max_attempts", "permanent_error", "expired", "rejected", "overflow"].map((reason) => Type.Literal(reason)), {
        description: "Only the dead letters that died for this reason",
      }),
    ),
  },
  { additionalProperties: false },
);

export const BrowseQuery = Type.Object(
  {
    state: Type.Optional(
      Type.Union([Type.Literal("ready"), Type.Literal("delayed"), Type.Literal("leased"), Type.Literal("completed")], {
        description: "ready (default, in lease order), delayed (by due time), leased (by lease end), completed (newest first, no body)",
      }),
    ),
    limit: Type.Optional(Int({ minimum: 1, maximum: limits.maxBrowse, description: "How many (default 20)" })),
    offset: Type.Optional(Int({ minimum: 0, maximum: limits.maxBrowseOffset, description: "How many to skip first (default 0)" })),
  },
  { additionalProperties: false },
);

export const ReplayBody = ReplaySelectionSchema;

export const ExchangeBody = Type.Object({ type: ExchangeTypeSchema }, { additionalProperties: false });

export const BindingBody = Type.Object(
  { queue: QueueNameSchema, bindingKey: Type.Optional(Type.String({ maxLength: 255 })) },
  { additionalProperties: false },
);

export const ExchangePublishBody = Type.Object(
  { routingKey: Type.Optional(Type.String({ maxLength: 255 })), body: Type.Unknown(), ...HttpPublishOptionFields },
  { additionalProperties: false },
);

export const ScaleBody = Type.Object({ concurrency: Int({ minimum: 1, maximum: 10_000 }) }, { additionalProperties: false });

/** A route's schema block: tags and summary for the docs, plus the parts Fastify validates. */
export function routeSchema(tag: string, summary: string, parts: { params?: TSchema; body?: TSchema; querystring?: TSchema } = {}) {
  return { tags: [tag], summary, ...parts };
}
