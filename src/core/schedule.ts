/**
 * Schedules: the pure decisions every store applies where its data lives (the engine for memory
 * and the journal, one transaction for PostgreSQL), so they cannot drift.
 *
 * A schedule has slots: the instants a cron pattern names (5 fields, or 6 with seconds first, in
 * an IANA time zone, default UTC), or `anchorAt + k × everyMs` for an interval (anchored where the
 * schedule was created or its timing last changed). `nextRunAt` is the next slot not yet fired.
 *
 *   firing at `now` (the store's clock), for a schedule with nextRunAt <= now and not paused:
 *     latest   = the latest slot <= now (nextRunAt itself, unless slots were missed)
 *     fire     = latest                         catchUp "one" (default): one message for a gap
 *              = latest if now - latest <= SCHEDULE_LATE_TOLERANCE_MS, else nothing
 *                                                catchUp "none": a missed slot is skipped
 *     next     = the first slot after now
 *   The store publishes the fired slot's message (idempotency key `schedule:<name>:<slot ms>`)
 *   and sets nextRunAt = next in one atomic write, so a slot fires once, whatever crashes.
 *
 *   create / replace: same timing → the schedule keeps its place (nextRunAt, counters); new timing
 *     → anchored now, nextRunAt = the first slot after now. Pause keeps everything; resume
 *     re-plans from now (slots that passed while paused are not fired).
 */
import { Cron } from "croner";
import { ValidationError, type ErrorDetail } from "./errors.js";
import type { PublishInput } from "./operations.js";

/** What firing does with slots missed while nothing fired (the process was down, the schedule busy). */
export type CatchUp = "one" | "none";

/** A slot found later than this after its time counts as missed (catchUp "none" skips it). */
export const SCHEDULE_LATE_TOLERANCE_MS = 1000;

/** The headers every scheduled message carries. */
export const SCHEDULE_HEADER = "spool-schedule";
export const SCHEDULE_SLOT_HEADER = "spool-schedule-slot";

export interface ScheduleTiming {
  /** A cron pattern: 5 fields (minute first) or 6 (seconds first). */
  cron?: string;
  /** An interval in ms (instead of cron). */
  everyMs?: number;
  /** The cron's IANA time zone (default UTC); only with cron. */
  tz?: string;
}

/** What each fired message gets, besides its body. */
export interface ScheduleMessageOptions {
  priority?: number;
  delayMs?: number;
  ttlMs?: number;
  maxAttempts?: number;
  groupKey?: string;
  headers?: Record<string, string>;
  correlationId?: string;
}

/** A schedule as the caller defines it, body already encoded as JSON text. */
export interface ScheduleDefinition extends ScheduleTiming {
  name: string;
  queue: string;
  body: string;
  options: ScheduleMessageOptions;
  catchUp: CatchUp;
}

/** A schedule as a store keeps it: the definition and where it stands. Times are the store's ms. */
export interface ScheduleRecord extends ScheduleDefinition {
  paused: boolean;
  /** Slots of an everyMs schedule are anchorAt + k × everyMs. */
  anchorAt: number;
  createdAt: number;
  updatedAt: number;
  /** The next slot to fire; null when the cron names no later instant. */
  nextRunAt: number | null;
  /** The slot fired last, and when it was fired. */
  lastSlotAt: number | null;
  lastFiredAt: number | null;
  /** Slots fired, and slots skipped (catchUp "none", or a publish the target queue refused). */
  fired: number;
  skipped: number;
  /** Why the last skipped slot's publish was refused (e.g. queue_full), until a slot fires again. */
  lastError: string | null;
}

/** One schedule's firing, decided at a time: `slot` is published (undefined: skipped), then nextRunAt moves on. */
export interface ScheduleFire {
  name: string;
  /** The nextRunAt the plan was made from: a store applies the plan only if it is still the schedule's. */
  due: number;
  slot?: number;
  nextRunAt: number | null;
}

/** What a firing did, per schedule that fired a slot. */
export interface FiredSlot {
  schedule: string;
  slot: number;
  queue: string;
  id: string;
  /** The slot's message was already there (its idempotency key was seen). */
  duplicate: boolean;
}

export interface FireResult {
  fired: FiredSlot[];
  /** The earliest nextRunAt of the store's active schedules after this firing (null: none). */
  nextRunAt: number | null;
}

const CRON_OPTIONS = { mode: "5-or-6-parts", paused: true } as const;

function cronOf(timing: ScheduleTiming): Cron {
  return new Cron(timing.cron as string, { ...CRON_OPTIONS, timezone: timing.tz ?? "UTC" });
}

/**
 * Checks that the timing names exactly one of cron / everyMs, that the cron parses and has a
 * next run, and that the time zone exists. Throws `validation_failed` naming the field.
 */
export function checkScheduleTiming(timing: ScheduleTiming, where: string): void {
  const fail = (path: string, message: string): never => {
    const detail: ErrorDetail = { path, message };
    throw new ValidationError(`${where}: ${path} ${message}`, [detail]);
  };
  if ((timing.cron === undefined) === (timing.everyMs === undefined)) fail("/", "give exactly one of cron or everyMs");
  if (timing.tz !== undefined) {
    if (timing.cron === undefined) fail("/tz", "applies to cron only");
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: timing.tz });
    } catch {
      fail("/tz", `must be an IANA time zone (e.g. "Europe/Paris"), got ${JSON.stringify(timing.tz)}`);
    }
  }
  if (timing.cron !== undefined) {
    let cron: Cron;
    try {
      cron = cronOf(timing);
    } catch (error) {
      return fail("/cron", `is not a valid cron pattern (5 fields, or 6 with seconds first): ${(error as Error).message}, got ${JSON.stringify(timing.cron)}`);
    }
    if (cron.nextRun() === null) fail("/cron", `names no future instant, got ${JSON.stringify(timing.cron)}`);
  }
}

/** The first slot strictly after `t`, or null when there is none. */
export function slotAfter(record: ScheduleTiming & { anchorAt: number }, t: number): number | null {
  if (record.everyMs !== undefined) {
    const every = record.everyMs;
    // The first slot is one interval after the anchor.
    return record.anchorAt + Math.max(1, Math.floor((t - record.anchorAt) / every) + 1) * every;
  }
  const next = cronOf(record).nextRun(new Date(t));
  return next === null ? null : next.getTime();
}

/** The latest slot at or before `now`, given a slot `from` <= now. */
function latestSlot(record: ScheduleTiming & { anchorAt: number }, from: number, now: number): number {
  if (record.everyMs !== undefined) {
    return from + Math.floor((now - from) / record.everyMs) * record.everyMs;
  }
  let latest = from;
  for (let i = 0; i < 10_000; i++) {
    const next = slotAfter(record, latest);
    if (next === null || next > now) return latest;
    latest = next;
  }
  // A long gap of a frequent cron: ask for the run before now directly.
  const [previous] = cronOf(record).previousRuns(1, new Date(now + 1));
  return previous !== undefined && previous.getTime() <= now && previous.getTime() >= latest ? previous.getTime() : latest;
}

/** What firing at `now` does to `record`, or undefined when it is not due (or paused). */
export function planFire(record: ScheduleRecord, now: number): ScheduleFire | undefined {
  if (record.paused || record.nextRunAt === null || record.nextRunAt > now) return undefined;
  const latest = latestSlot(record, record.nextRunAt, now);
  const fire = record.catchUp === "one" || now - latest <= SCHEDULE_LATE_TOLERANCE_MS ? latest : undefined;
  const nextRunAt = slotAfter(record, now);
  return fire === undefined ? { name: record.name, due: record.nextRunAt, nextRunAt } : { name: record.name, due: record.nextRunAt, slot: fire, nextRunAt };
}

/** The plans of every schedule due at `now`. */
export function planDue(records: Iterable<ScheduleRecord>, now: number): ScheduleFire[] {
  const plans: ScheduleFire[] = [];
  for (const record of records) {
    const plan = planFire(record, now);
    if (plan) plans.push(plan);
  }
  return plans;
}

function sameTiming(a: ScheduleTiming, b: ScheduleTiming): boolean {
  return a.cron === b.cron && a.everyMs === b.everyMs && (a.tz ?? "UTC") === (b.tz ?? "UTC");
}

/**
 * The record a create or replace of `definition` leaves at `now`, given the schedule's current
 * record: the same timing keeps its place and counters; a new timing is anchored now.
 */
export function defineSchedule(definition: ScheduleDefinition, existing: ScheduleRecord | undefined, now: number): ScheduleRecord {
  const timing: ScheduleTiming = definition.cron !== undefined ? { cron: definition.cron, ...(definition.tz !== undefined ? { tz: definition.tz } : {}) } : { everyMs: definition.everyMs };
  const base: ScheduleDefinition = { name: definition.name, ...timing, queue: definition.queue, body: definition.body, options: definition.options, catchUp: definition.catchUp };
  if (existing && sameTiming(existing, definition)) {
    return { ...existing, ...base, cron: base.cron, everyMs: base.everyMs, tz: base.tz, updatedAt: now };
  }
  const anchored = { ...timing, anchorAt: now };
  return {
    ...base,
    paused: existing?.paused ?? false,
    anchorAt: now,
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
    nextRunAt: slotAfter(anchored, now),
    lastSlotAt: existing?.lastSlotAt ?? null,
    lastFiredAt: existing?.lastFiredAt ?? null,
    fired: existing?.fired ?? 0,
    skipped: existing?.skipped ?? 0,
    lastError: existing?.lastError ?? null,
  };
}

/** Pause keeps the schedule's place; resume plans from `now` (slots passed while paused are not fired). */
export function pauseSchedule(record: ScheduleRecord, paused: boolean, now: number): ScheduleRecord {
  if (record.paused === paused) return record;
  if (paused) return { ...record, paused, updatedAt: now };
  const due = record.nextRunAt !== null && record.nextRunAt > now ? record.nextRunAt : slotAfter(record, now);
  return { ...record, paused, updatedAt: now, nextRunAt: due };
}

/** The idempotency key of a slot's message: a slot is published at most once within the queue's window. */
export function scheduleIdempotencyKey(name: string, slot: number): string {
  return `schedule:${name}:${slot}`;
}

/** The publish of `record`'s message for `slot`. */
export function scheduledPublishInput(record: ScheduleDefinition, slot: number): PublishInput {
  const o = record.options;
  const input: PublishInput = {
    queue: record.queue,
    body: record.body,
    priority: o.priority ?? 0,
    headers: { ...o.headers, [SCHEDULE_HEADER]: record.name, [SCHEDULE_SLOT_HEADER]: new Date(slot).toISOString() },
    idempotencyKey: scheduleIdempotencyKey(record.name, slot),
  };
  if (o.delayMs !== undefined) input.delayMs = o.delayMs;
  if (o.ttlMs !== undefined) input.ttlMs = o.ttlMs;
  if (o.maxAttempts !== undefined) input.maxAttempts = o.maxAttempts;
  if (o.groupKey !== undefined) input.groupKey = o.groupKey;
  if (o.correlationId !== undefined) input.correlationId = o.correlationId;
  return input;
}

/** The earliest nextRunAt of the active schedules, or null. */
export function earliestRun(records: Iterable<ScheduleRecord>): number | null {
  let earliest: number | null = null;
  for (const r of records) if (!r.paused && r.nextRunAt !== null && (earliest === null || r.nextRunAt < earliest)) earliest = r.nextRunAt;
  return earliest;
}
