import pg from "pg";
import { afterAll } from "vitest";
import { postgresStore, type PostgresStore } from "../../src/index.js";
import { defineStoreSuite } from "../conformance/define-store-suite.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";
import { POSTGRES_CAPABILITIES } from "../../src/store/postgres/postgres-store.js";

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

defineStoreSuite({
  name: "postgres",
  createStore: (_clock, random) => {
    const schema = uniqueSchema();
    schemas.push(schema);
    return postgresStore({ connectionString: TEST_PG_URL, schema, random, poolSize: 4 });
  },
  openPeer: async (store) => postgresStore({ connectionString: TEST_PG_URL, schema: (store as PostgresStore).schema, poolSize: 4 }),
  beginTransaction: async () => {
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    await client.query("BEGIN");
    const finish = async (command: string) => {
      try {
        await client.query(command);
      } finally {
        await client.end();
      }
    };
    return { transaction: client, commit: () => finish("COMMIT"), rollback: () => finish("ROLLBACK") };
  },
  supports: POSTGRES_CAPABILITIES,
});
