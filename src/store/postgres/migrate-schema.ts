/**
 * `spool migrate` as a library call: connect once, apply what the schema lacks (migrations.ts,
 * under the schema's advisory lock, so two at once take turns), report the version, disconnect.
 * For deployments that create the schema ahead of the processes, which then open with
 * `migrate: false`.
 */
import pg from "pg";
import { defaults } from "../../config/defaults.js";
import { PostgresStoreOptionsSchema } from "../../config/schemas.js";
import { validate } from "../../config/validate.js";
import { MIGRATIONS, migrate, type MigrationResult } from "./migrations.js";
import { toSpoolError } from "./pg-errors.js";

export interface MigrateSchemaOptions {
  connectionString: string;
  /** Default `spool`. */
  schema?: string;
  /** Longest wait for the connection (default 10 s). */
  connectTimeoutMs?: number;
}

export interface MigrateSchemaResult extends MigrationResult {
  schema: string;
  /** The newest version this Spool knows. */
  latest: number;
}

/** Creates or upgrades the schema; rejects with `unavailable` when the database cannot be reached. */
export async function migratePostgresSchema(options: MigrateSchemaOptions): Promise<MigrateSchemaResult> {
  validate(PostgresStoreOptionsSchema, options, "migrate");
  const schema = options.schema ?? defaults.postgres.schema;
  const client = new pg.Client({
    connectionString: options.connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs ?? defaults.postgres.connectTimeoutMs,
    application_name: "spool",
  });
  // A connection that drops while idle must not crash the process: the query in flight fails instead.
  client.on("error", () => {});
  try {
    await client.connect();
    const result = await migrate(client, schema);
    return { ...result, schema, latest: MIGRATIONS[MIGRATIONS.length - 1].version };
  } catch (error) {
    throw toSpoolError(error, `migrate schema "${schema}"`);
  } finally {
    await client.end().catch(() => {});
  }
}
