/**
 * Schedules on PostgreSQL: one row per schedule (migrations/003-schedules.ts). Decisions come
 * from core/schedule.ts; the database's clock (`now_ms()`, read in the transaction) is "now".
 *
 *   fire:  BEGIN → now → the due rows FOR UPDATE SKIP LOCKED (a row another process is firing is
 *          skipped, never waited on) → planDue → per slot: publish its message in this
 *          transaction (under a savepoint: a full queue skips that slot only) → write each row
 *          back → COMMIT. The slot's message and the schedule's move to its next run commit
 *          together, so a crash or a second process never fires a slot twice.
 */
import type pg from "pg";
import { NotFoundError, SpoolError } from "../../core/errors.js";
import type { PublishInput, PublishOutcome } from "../../core/operations.js";
import {
  defineSchedule,
  pauseSchedule,
  planDue,
  scheduledPublishInput,
  type FiredSlot,
  type FireResult,
  type ScheduleDefinition,
  type ScheduleRecord,
} from "../../core/schedule.js";

export interface PgScheduleAccess {
  /** The quoted schema. */
  schema(): string;
  query<R extends pg.QueryResultRow>(what: string, text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  transaction<T>(what: string, body: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /** The store's publish, as one more statement in `client`'s transaction. */
  publish(inputs: PublishInput[], client: pg.PoolClient): Promise<PublishOutcome[]>;
}

/** Most schedules one firing takes; the rest are fired by the next call (the caller re-arms at once). */
const FIRE_BATCH = 100;

export class PgSchedules {
  constructor(private readonly db: PgScheduleAccess) {}

  async #now(client: pg.ClientBase): Promise<number> {
    return (await client.query<{ now: number }>(`SELECT ${this.db.schema()}.now_ms() AS now`)).rows[0].now;
  }

  async #lock(client: pg.ClientBase, name: string): Promise<ScheduleRecord | undefined> {
    const { rows } = await client.query<{ record: ScheduleRecord }>(`SELECT record FROM ${this.db.schema()}.schedules WHERE name = $1 FOR UPDATE`, [name]);
    return rows[0]?.record;
  }

  async #write(client: pg.ClientBase, record: ScheduleRecord): Promise<void> {
    await client.query(
      `INSERT INTO ${this.db.schema()}.schedules (name, record, paused, next_run_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET record = EXCLUDED.record, paused = EXCLUDED.paused, next_run_at = EXCLUDED.next_run_at`,
      [record.name, JSON.stringify(record), record.paused, record.nextRunAt],
    );
  }

  /**
   * Runs `body` in the store's transaction with an `error` listener on its connection: a
   * connection lost between two statements (no query in flight to take the error) would otherwise
   * be emitted as an uncaught `error`; the next statement rejects with it instead.
   */
  #transaction<T>(what: string, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.db.transaction(what, async (client) => {
      const ignore = () => undefined;
      client.on("error", ignore);
      try {
        return await body(client);
      } finally {
        client.removeListener("error", ignore);
      }
    });
  }

  put(definition: ScheduleDefinition): Promise<ScheduleRecord> {
    return this.#transaction(`schedule "${definition.name}"`, async (client) => {
      // Two creators of one new name: the row lock serializes replaces, the conflict clause creates.
      const existing = await this.#lock(client, definition.name);
      const record = defineSchedule(definition, existing, await this.#now(client));
      await this.#write(client, record);
      return record;
    });
  }

  async get(name: string): Promise<ScheduleRecord | undefined> {
    const { rows } = await this.db.query<{ record: ScheduleRecord }>(`schedule "${name}"`, `SELECT record FROM ${this.db.schema()}.schedules WHERE name = $1`, [name]);
    return rows[0]?.record;
  }

  async list(): Promise<ScheduleRecord[]> {
    const { rows } = await this.db.query<{ record: ScheduleRecord }>("list schedules", `SELECT record FROM ${this.db.schema()}.schedules ORDER BY name COLLATE "C"`);
    return rows.map((row) => row.record);
  }

  setPaused(name: string, paused: boolean): Promise<ScheduleRecord> {
    return this.#transaction(`${paused ? "pause" : "resume"} schedule "${name}"`, async (client) => {
      const existing = await this.#lock(client, name);
      if (!existing) throw new NotFoundError(`schedule "${name}" does not exist`);
      const record = pauseSchedule(existing, paused, await this.#now(client));
      if (record !== existing) await this.#write(client, record);
      return record;
    });
  }

  async remove(name: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`remove schedule "${name}"`, `DELETE FROM ${this.db.schema()}.schedules WHERE name = $1`, [name]);
    return (rowCount ?? 0) > 0;
  }

  async fireDue(): Promise<FireResult> {
    const s = this.db.schema();
    // One statement when nothing is due (the common case, every poll of every process): the
    // transaction, its row locks and its connection are taken only for a due schedule.
    const next = async () =>
      (await this.db.query<{ next: number | null; due: boolean }>("next schedule", `SELECT min(next_run_at) AS next, coalesce(min(next_run_at) <= ${s}.now_ms(), false) AS due FROM ${s}.schedules WHERE NOT paused`)).rows[0];
    const before = await next();
    if (!before.due) return { fired: [], nextRunAt: before.next };
    const fired = await this.#transaction("fire schedules", async (client) => {
      const now = await this.#now(client);
      const { rows } = await client.query<{ record: ScheduleRecord }>(
        `SELECT record FROM ${s}.schedules WHERE NOT paused AND next_run_at <= $1 ORDER BY next_run_at LIMIT ${FIRE_BATCH} FOR UPDATE SKIP LOCKED`,
        [now],
      );
      const records = new Map(rows.map((row) => [row.record.name, row.record]));
      const out: FiredSlot[] = [];
      for (const plan of planDue(records.values(), now)) {
        const record = records.get(plan.name) as ScheduleRecord;
        if (plan.slot === undefined) {
          record.skipped++;
        } else {
          await client.query("SAVEPOINT fire_slot");
          try {
            const [outcome] = await this.db.publish([scheduledPublishInput(record, plan.slot)], client);
            await client.query("RELEASE SAVEPOINT fire_slot");
            out.push({ schedule: record.name, slot: plan.slot, queue: record.queue, id: outcome.id, duplicate: outcome.duplicate });
            record.fired++;
            record.lastSlotAt = plan.slot;
            record.lastFiredAt = now;
            record.lastError = null;
          } catch (error) {
            if (!(error instanceof SpoolError) || error.code === "unavailable") throw error;
            await client.query("ROLLBACK TO SAVEPOINT fire_slot");
            record.skipped++;
            record.lastError = `${error.code}: ${error.message}`;
          }
        }
        record.nextRunAt = plan.nextRunAt;
        await this.#write(client, record);
      }
      return out;
    });
    return { fired, nextRunAt: (await next()).next };
  }
}
