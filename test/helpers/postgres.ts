/**
 * The PostgreSQL the tests run against: `SPOOL_TEST_PG_URL`, else the local server as CI sets it
 * up. A test that needs it and cannot reach it fails (never skips). Each store a test makes gets
 * its own schema, dropped afterwards, so tests never see each other's queues.
 */
import pg from "pg";
import { postgresStore, Spool } from "../../src/index.js";

export const TEST_PG_URL = process.env.SPOOL_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let counter = 0;

/** A schema name no other test (in this or a parallel test file) uses. */
export function uniqueSchema(prefix = "spool_t"): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
}

/** Drops the schemas; a failure to reach the server fails the caller. */
export async function dropSchemas(schemas: readonly string[]): Promise<void> {
  if (schemas.length === 0) return;
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Runs one statement on a connection of its own, for a test's look into the tables. */
export async function queryOnce<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export interface SpoolOnSchema {
  schema: string;
  spool: Spool;
  /** A connection of the test's own, for looking into the schema's tables. */
  admin: pg.Client;
  /** Ends both and drops the schema. */
  close(): Promise<void>;
}

/** A Spool on the PostgreSQL store in a fresh schema of its own. */
export async function openSpoolOnFreshSchema(): Promise<SpoolOnSchema> {
  const schema = uniqueSchema();
  const spool = await Spool.open({ store: postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 2 }) });
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  return {
    schema,
    spool,
    admin,
    async close() {
      await admin.end();
      await spool.close();
      await dropSchemas([schema]);
    },
  };
}
