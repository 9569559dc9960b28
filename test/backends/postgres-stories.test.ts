/**
 * On PostgreSQL a message's story lives in its own table (`stories`), apart from the hot tables;
 * the sweep forgets the stories of messages no longer kept (here: a queue that keeps no completed
 * status, and a deleted queue), while a kept one stays.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import pg from "pg";
import { postgresStore, Spool, type PostgresStore } from "../../src/index.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";

const schema = uniqueSchema();
let store: PostgresStore;
let spool: Spool;
let admin: pg.Client;

beforeAll(async () => {
  store = postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 2 });
  spool = await Spool.open({ store });
  admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await spool?.close();
  await dropSchemas([schema]);
});

async function storyIds(): Promise<string[]> {
  return (await admin.query<{ id: string }>(`SELECT id FROM ${schema}.stories ORDER BY id`)).rows.map((row) => row.id);
}

it("the sweep forgets stories whose message is gone, and keeps the rest", async () => {
  const forgetful = spool.queue<number>("forgetful", { completedRetentionMs: 0 });
  const keeping = spool.queue<number>("keeping");
  const doomed = spool.queue<number>("doomed");
  const ids: string[] = [];
  for (const queue of [forgetful, keeping, doomed]) {
    const { id } = await queue.publish(1);
    ids.push(id);
    const [m] = await queue.lease();
    await queue.report(m.id, m.leaseToken, { log: "working" });
    await queue.ack(m.id, m.leaseToken, { result: "done" });
  }
  expect(await storyIds()).toEqual([...ids].sort());
  await spool.deleteQueue("doomed");
  await admin.query(`SELECT ${schema}.sweep()`);
  expect(await storyIds()).toEqual([ids[1]]);
  expect((await spool.status(ids[1]))?.result).toBe("done");
});
