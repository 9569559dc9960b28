/**
 * Schedules in the library: validation of `spool.schedule(name, spec)` at the boundary, the
 * public view of a schedule, and the Scheduler that fires them.
 *
 * The Scheduler arms one timer (on the store's clock) at the earliest next run the store
 * reports, calls `store.fireDueSchedules()` when it rings, and re-arms from the answer. Exactly
 * once is the store's: each slot's publish and the move to the next run are one atomic write.
 * On a store shared by many processes (`sharedClock`: PostgreSQL) every process runs a Scheduler;
 * the store's row locks decide who fires a slot, and each process also looks at least every
 * `pollMs` (default 1 s), since another process may have created or changed a schedule.
 *
 *   idle ──(start / poke / timer)──▶ firing ──(answer: next run)──▶ armed ──(timer)──▶ firing …
 *   a failed firing (store unavailable) is reported and retried after pollMs; close() cancels the
 *   timer and waits for a firing in progress.
 */
import { defaults } from "./config/defaults.js";
import { ScheduleNameSchema, ScheduleSpecSchema, type ScheduleSpec } from "./config/schedule-schemas.js";
import { validate } from "./config/validate.js";
import { encodeBody } from "./core/body.js";
import { ValidationError } from "./core/errors.js";
import { checkScheduleTiming, scheduledPublishInput, type FireResult, type ScheduleDefinition, type ScheduleRecord } from "./core/schedule.js";
import { checkPublishCapabilities } from "./store/capabilities.js";
import type { Store } from "./store/store.js";
import type { TimerHandle } from "./util/clock.js";

/**
 * A schedule as the library shows it: the store's record (core/schedule.ts) with its body
 * decoded, without the anchor slots are counted from (an implementation detail of everyMs).
 */
export type ScheduleInfo<T = unknown> = Omit<ScheduleRecord, "body" | "anchorAt"> & { body: T };

/** The store's record as the library shows it. */
export function scheduleInfo<T = unknown>(record: ScheduleRecord): ScheduleInfo<T> {
  const { anchorAt: _anchorAt, body, ...rest } = record;
  return { ...rest, body: JSON.parse(body) as T };
}

export function checkScheduleName(name: unknown): asserts name is string {
  validate(ScheduleNameSchema, name, "schedule name");
}

/** Validates a `schedule(name, spec)` call and turns it into the store's definition. */
export function toScheduleDefinition(store: Store, name: string, spec: ScheduleSpec, maxBodyBytes: number): ScheduleDefinition {
  checkScheduleName(name);
  const where = `schedule "${name}"`;
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) throw new ValidationError(`${where}: the schedule must be an object`, [{ path: "/", message: "expected object" }]);
  validate(ScheduleSpecSchema, spec, where);
  if (!("body" in spec) || spec.body === undefined) throw new ValidationError(`${where}: /body is required (any JSON value)`, [{ path: "/body", message: "required" }]);
  checkScheduleTiming(spec, where);
  const definition: ScheduleDefinition = {
    name,
    queue: spec.queue,
    body: encodeBody(spec.body, maxBodyBytes, where, "/body"),
    options: spec.options ?? {},
    catchUp: spec.catchUp ?? "one",
  };
  if (spec.cron !== undefined) definition.cron = spec.cron;
  if (spec.everyMs !== undefined) definition.everyMs = spec.everyMs;
  if (spec.tz !== undefined) definition.tz = spec.tz;
  checkPublishCapabilities(store, [scheduledPublishInput(definition, 0)], undefined, where, false);
  return definition;
}

export interface SchedulerOptions {
  /** On a shared store, the longest time between two looks for due schedules (default 1 s). */
  pollMs?: number;
  /** Hears the first failed firing of an outage (each is retried after pollMs). Default: `console.error`. */
  onError?: (error: Error) => void;
}

export class Scheduler {
  readonly #store: Store;
  readonly #pollMs: number;
  readonly #onError: (error: Error) => void;
  #timer: TimerHandle | undefined;
  #firing: Promise<void> | undefined;
  #again = false;
  #closed = false;
  /** A firing failed and none has succeeded since: further failures are not reported again. */
  #failing = false;

  constructor(store: Store, options: SchedulerOptions = {}) {
    this.#store = store;
    this.#pollMs = options.pollMs ?? defaults.schedules.pollMs;
    this.#onError = options.onError ?? ((error) => console.error("spool scheduler: firing schedules failed:", error));
  }

  /** Looks for due schedules now (after start, and after a schedule changed). */
  poke(): void {
    if (this.#closed) return;
    if (this.#firing) {
      this.#again = true;
      return;
    }
    this.#firing = this.#fireLoop();
  }

  /** Fires what is due now and re-arms; resolves with what this call fired. */
  async fireNow(): Promise<FireResult> {
    const result = await this.#store.fireDueSchedules();
    this.#arm(result.nextRunAt);
    return result;
  }

  /** Fires until nothing asked for another look meanwhile; `#firing` is cleared in the same turn as the last check. */
  async #fireLoop(): Promise<void> {
    try {
      do {
        this.#again = false;
        if (this.#closed) return;
        try {
          const result = await this.#store.fireDueSchedules();
          this.#failing = false;
          // Due already (a full batch, or time moved while this firing ran): look again at once.
          if (result.nextRunAt !== null && result.nextRunAt <= this.#store.clock.now()) this.#again = true;
          else this.#arm(result.nextRunAt);
        } catch (error) {
          if (this.#closed) return;
          if (!this.#failing) this.#onError(error as Error); // once per outage, not once a second
          this.#failing = true;
          this.#armIn(this.#pollMs);
        }
      } while (this.#again);
    } finally {
      this.#firing = undefined;
    }
  }

  #arm(nextRunAt: number | null): void {
    const shared = this.#store.capabilities.sharedClock;
    if (nextRunAt === null) {
      if (shared) this.#armIn(this.#pollMs);
      else this.#cancel();
      return;
    }
    const delay = Math.max(0, nextRunAt - this.#store.clock.now());
    this.#armIn(shared ? Math.min(delay, this.#pollMs) : delay);
  }

  #armIn(delayMs: number): void {
    this.#cancel();
    if (this.#closed) return;
    this.#timer = this.#store.clock.setTimer(() => {
      this.#timer = undefined;
      this.poke();
    }, delayMs);
  }

  #cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Stops firing; waits for a firing in progress. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cancel();
    await this.#firing;
  }
}
