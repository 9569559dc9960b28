/**
 * On PostgreSQL a message's story lives in its own table (`stories`), apart from the hot tables;
 * the sweep forgets the stories of messages no longer kept (here: a queue that keeps no completed
 * status, and a deleted queue), while a kept one stays.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type pg from "pg";
import type { Spool } from "../../src/index.js";
import { openSpoolOnFreshSchema, type SpoolOnSchema } from "../helpers/postgres.js";

let fixture: SpoolOnSchema;
let schema: string;
let spool: Spool;
let admin: pg.Client;

beforeAll(async () => {
  fixture = await openSpoolOnFreshSchema();
  ({ schema, spool, admin } = fixture);
});

afterAll(async () => fixture?.close());

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
