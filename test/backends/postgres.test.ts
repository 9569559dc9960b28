import pg from "pg";
import { afterAll } from "vitest";
import { postgresStore, type PostgresStore } from "../../src/index.js";
import { defineStoreSuite } from "../conformance/define-store-suite.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";
import { POSTGRES_CAPABILITIES } from "../../src/store/postgres/postgres-store.js";

// One schema for the file: every test names its own queues, and a store opens on a current
// schema in one query instead of migrating a new one (the model-based test opens fifty).
const schema = uniqueSchema();
afterAll(() => dropSchemas([schema]));

defineStoreSuite({
  name: "postgres",
  createStore: (_clock, random) => postgresStore({ connectionString: TEST_PG_URL, schema, random, poolSize: 4 }),
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
