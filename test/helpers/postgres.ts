/**
 * The PostgreSQL the tests run against: `SPOOL_TEST_PG_URL`, else the local server as CI sets it
 * up. A test that needs it and cannot reach it fails (never skips). Each store a test makes gets
 * its own schema, dropped afterwards, so tests never see each other's queues.
 */
import pg from "pg";

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
