/**
 * `migrate: false`: the store opens only on a schema that is current, and otherwise refuses with
 * `unavailable` and a message that says what to run; `migratePostgresSchema` (what `spool migrate`
 * calls) makes it current.
 */
import { afterAll, describe, expect, it } from "vitest";
import { migratePostgresSchema, postgresStore } from "../../src/index.js";
import { MIGRATIONS } from "../../src/store/postgres/migrations.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";

const VERSIONS = MIGRATIONS.map((m) => m.version);
const LATEST = VERSIONS[VERSIONS.length - 1];

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

describe("postgres store: migrate false", () => {
  it("refuses a schema that is behind, naming spool migrate; opens once it is migrated", async () => {
    const schema = uniqueSchema("spool_migrate");
    schemas.push(schema);
    const early = postgresStore({ connectionString: TEST_PG_URL, schema, migrate: false, poolSize: 2 });
    const refusal = await early.open().then(() => undefined, (error: unknown) => error);
    expect(refusal).toMatchObject({ code: "unavailable" });
    expect((refusal as Error).message).toContain(`schema "${schema}" is at version 0`);
    expect((refusal as Error).message).toContain("spool migrate");
    // The failed open released its connections: the store is closed, not half-open.
    await expect(early.listQueues()).rejects.toMatchObject({ code: "unavailable" });

    expect(await migratePostgresSchema({ connectionString: TEST_PG_URL, schema })).toEqual({ schema, applied: VERSIONS, version: LATEST, latest: LATEST });
    expect(await migratePostgresSchema({ connectionString: TEST_PG_URL, schema })).toEqual({ schema, applied: [], version: LATEST, latest: LATEST });
    const store = postgresStore({ connectionString: TEST_PG_URL, schema, migrate: false, poolSize: 2 });
    await store.open();
    try {
      expect(await store.listQueues()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("migratePostgresSchema: an unreachable database is unavailable; a bad schema name is refused", async () => {
    await expect(migratePostgresSchema({ connectionString: "postgres://postgres@127.0.0.1:1/test", connectTimeoutMs: 2_000 })).rejects.toMatchObject({ code: "unavailable" });
    await expect(migratePostgresSchema({ connectionString: TEST_PG_URL, schema: "Not-A-Schema" })).rejects.toMatchObject({ code: "validation_failed" });
  });
});
