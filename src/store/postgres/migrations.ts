/**
 * Spool's tables live in their own schema and are created and upgraded by numbered migrations,
 * each applied once, in order, in its own transaction. The runner holds a session advisory lock
 * for the schema while it works, so processes starting at once take turns: the first applies
 * what is missing, the others then find nothing to do.
 */
import type pg from "pg";
import { migration001 } from "./migrations/001-queues.js";
import { migration002 } from "./migrations/002-delivery.js";
import { migrationSchedules } from "./migrations/003-schedules.js";
import { migrationEvents } from "./migrations/004-events.js";

export interface Migration {
  version: number;
  name: string;
  /** The SQL, given the quoted schema and the schema's NOTIFY channel. */
  sql(schema: string, channel: string): string;
}

/** Every migration, oldest first; a new one goes at the end with the next number. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "queues", sql: migration001 },
  { version: 2, name: "delivery", sql: migration002 },
  { version: 3, name: "schedules", sql: migrationSchedules },
  { version: 4, name: "events", sql: migrationEvents },
];

export interface MigrationResult {
  /** Versions applied by this call, oldest first. */
  applied: number[];
  /** The schema's version now. */
  version: number;
}

/** A schema name as Spool accepts it: a plain lower-case SQL identifier, so it needs no quoting games. */
export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,47}$/;

/** The schema's quoted identifier and its NOTIFY channel. */
export function schemaNames(schema: string): { quoted: string; channel: string } {
  if (!SCHEMA_NAME_PATTERN.test(schema)) throw new Error(`schema name "${schema}" must match ${SCHEMA_NAME_PATTERN}`);
  return { quoted: `"${schema}"`, channel: `${schema}_wake` };
}

/** Applies every migration the schema lacks, under the schema's migration lock. */
export async function migrate(client: pg.ClientBase, schema: string, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  const { quoted, channel } = schemaNames(schema);
  const lockKey = `spool-migrate:${schema}`;
  await client.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [lockKey]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoted}.migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = await client.query<{ version: number }>(`SELECT version FROM ${quoted}.migrations`);
    const have = new Set(done.rows.map((row) => row.version));
    const applied: number[] = [];
    for (const migration of migrations) {
      if (have.has(migration.version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(migration.sql(quoted, channel));
        await client.query(`INSERT INTO ${quoted}.migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      }
      applied.push(migration.version);
    }
    const newest = Math.max(0, ...have, ...applied);
    return { applied, version: newest };
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [lockKey]).catch(() => {});
  }
}

/** The schema's version (0: never migrated), without changing anything. */
export async function schemaVersion(client: pg.ClientBase, schema: string): Promise<number> {
  const { quoted } = schemaNames(schema);
  const exists = await client.query("SELECT to_regclass($1) AS t", [`${quoted}.migrations`]);
  if (exists.rows[0].t === null) return 0;
  const result = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${quoted}.migrations`);
  return result.rows[0].v ?? 0;
}
