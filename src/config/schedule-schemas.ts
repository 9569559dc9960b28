/**
 * Schedules' options: one TypeBox schema for the library call, the HTTP body and /openapi.json.
 * The cron pattern and time zone are checked further by core/schedule.ts (`checkScheduleTiming`).
 */
import { Type, type Static } from "@sinclair/typebox";
import type { ScheduleMessageOptions } from "../core/schedule.js";
import { limits } from "./limits.js";
import { QueueNameSchema } from "./schemas.js";

export const ScheduleNameSchema = Type.String({ minLength: 1, maxLength: 200, pattern: "^[A-Za-z0-9_.:-]+$", description: "A schedule's name" });

/** What each fired message gets besides its body (the options of a publish that make sense per slot). */
export const ScheduleMessageOptionsSchema = Type.Object(
  {
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 9, description: "0–9, higher first" })),
    delayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: limits.maxDelayMs, description: "Each message waits this long after its slot fired" })),
    ttlMs: Type.Optional(Type.Integer({ minimum: 1, description: "Each message goes dead (expired) if not delivered in time" })),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    groupKey: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "Deliver the schedule's messages one at a time, in order" })),
    headers: Type.Optional(Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 8192 }))),
    correlationId: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const ScheduleSpecSchema = Type.Object(
  {
    cron: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'A cron pattern: 5 fields, or 6 with seconds first ("*/10 * * * * *")' })),
    everyMs: Type.Optional(Type.Integer({ minimum: limits.minScheduleEveryMs, maximum: limits.maxDelayMs, description: "Fire every this many ms (instead of cron)" })),
    tz: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "The cron's IANA time zone (default UTC)" })),
    queue: QueueNameSchema,
    body: Type.Unknown({ description: "The body of every message the schedule publishes (any JSON value)" }),
    options: Type.Optional(ScheduleMessageOptionsSchema),
    catchUp: Type.Optional(
      Type.Union([Type.Literal("one"), Type.Literal("none")], {
        description: 'Slots missed while no process fired (down, paused is different): "one" (default) publishes one message for them at start, "none" skips them',
      }),
    ),
  },
  { additionalProperties: false },
);

/** `spool.schedule(name, spec)`: create or replace. */
export type ScheduleSpec = Static<typeof ScheduleSpecSchema>;

// The schema and core's type stay one shape.
export type ScheduleMessageOptionsCheck = Static<typeof ScheduleMessageOptionsSchema> extends ScheduleMessageOptions ? true : never;
