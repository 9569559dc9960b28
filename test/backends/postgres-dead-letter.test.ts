/**
 * On PostgreSQL a death and its dead-letter copies are one transaction: `bury` calls
 * `dead_letter` inside the function that records the death. A copy the database refuses (here
 * a trigger on the target queue) rolls the death back with it: the message is still leased, with
 * no dead letter and no copy; once the copy can be written, the same nack records both.
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

it("a refused copy rolls the death back; then the same nack records the death and its copy together", async () => {
  const work = spool.queue<string>("work", { deadLetter: { queue: "work.dead" } });
  const dlq = spool.queue<string>("work.dead");
  const { id } = await work.publish("payload");
  const [m] = await work.lease();
  await admin.query(`CREATE FUNCTION ${schema}.refuse_copy() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'copy refused'; END $$`);
  await admin.query(`CREATE TRIGGER refuse_copy BEFORE INSERT ON ${schema}.messages FOR EACH ROW WHEN (NEW.queue = 'work.dead') EXECUTE FUNCTION ${schema}.refuse_copy()`);
  await expect(work.nack(m.id, m.leaseToken, { reject: true })).rejects.toThrow(/copy refused/);
  expect((await spool.status(id))?.state).toBe("leased");
  expect((await work.stats()).dead).toBe(0);
  expect((await dlq.stats()).ready).toBe(0);

  await admin.query(`DROP TRIGGER refuse_copy ON ${schema}.messages`);
  expect(await work.nack(m.id, m.leaseToken, { reject: true })).toMatchObject({ state: "dead", deadReason: "rejected" });
  expect((await work.stats()).dead).toBe(1);
  const [copy] = await dlq.lease();
  expect(copy.headers).toMatchObject({ "x-death-id": id, "x-death-reason": "rejected" });
});
