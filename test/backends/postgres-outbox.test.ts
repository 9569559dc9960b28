/**
 * The outbox is atomic with the caller's own writes: an order row and its event, written in one
 * transaction on the caller's pg client, are both there after COMMIT and both gone after a
 * ROLLBACK, whichever statement failed (the caller's insert, or the publish itself). The option
 * is `transaction`; `tx` is refused before anything is written (one name per option).
 * Processes and crashes: test/crash/pg-outbox.test.ts.
 */
import pg from "pg";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { postgresStore, Spool, SpoolError, type Queue } from "../../src/index.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";

type OrderPlaced = { orderId: number; total: number };

describe("outbox: an order and its event in one transaction (PostgreSQL)", () => {
  const schemas: string[] = [];
  const closers: Array<() => Promise<void>> = [];
  let schema: string;
  let spool: Spool;
  let events: Queue<OrderPlaced>;
  let client: pg.Client;

  beforeEach(async () => {
    schema = uniqueSchema("spool_outbox");
    schemas.push(schema);
    spool = await Spool.open({ store: postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 2 }) });
    client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    const [s, c] = [spool, client];
    closers.push(() => s.close(), () => c.end());
    await client.query(`CREATE TABLE "${schema}".orders (id int PRIMARY KEY, total int NOT NULL)`);
    events = spool.queue<OrderPlaced>("order-events");
    await events.info();
  });

  afterAll(async () => {
    await Promise.allSettled(closers.map((close) => close()));
    await dropSchemas(schemas);
  });

  const orderIds = async () => (await client.query<{ id: number }>(`SELECT id FROM "${schema}".orders ORDER BY id`)).rows.map((row) => row.id);

  /** Leases everything waiting and returns the bodies (acked). */
  async function takeAll(): Promise<OrderPlaced[]> {
    const leased = await events.lease({ max: 100 });
    await spool.ackMany(leased.map((m) => ({ id: m.id, leaseToken: m.leaseToken })));
    return leased.map((m) => m.body);
  }

  it("COMMIT: the order and its event are both there, the event delivered once", async () => {
    await client.query("BEGIN");
    await client.query(`INSERT INTO "${schema}".orders (id, total) VALUES ($1, $2)`, [1, 42]);
    const { id } = await events.publish({ orderId: 1, total: 42 }, { transaction: client });
    await client.query("COMMIT");

    expect(await orderIds()).toEqual([1]);
    expect(await takeAll()).toEqual([{ orderId: 1, total: 42 }]);
    expect(await takeAll()).toEqual([]);
    expect(await spool.status(id)).toMatchObject({ state: "completed", attempt: 1 });
  });

  it("ROLLBACK: neither the order nor its events", async () => {
    await client.query("BEGIN");
    await client.query(`INSERT INTO "${schema}".orders (id, total) VALUES ($1, $2)`, [2, 10]);
    const one = await events.publish({ orderId: 2, total: 10 }, { transaction: client });
    const many = await events.publishMany([{ body: { orderId: 2, total: 10 } }, { body: { orderId: 2, total: 10 }, delayMs: 5 }], { transaction: client });
    await client.query("ROLLBACK");

    expect(await orderIds()).toEqual([]);
    expect(await takeAll()).toEqual([]);
    for (const { id } of [one, ...many]) expect(await spool.status(id)).toBeUndefined();
    expect((await events.stats()).totals.published).toBe(0);
  });

  it("the caller's write fails after the publish: its ROLLBACK takes the event with it", async () => {
    await client.query(`INSERT INTO "${schema}".orders (id, total) VALUES (3, 1)`);
    await client.query("BEGIN");
    const { id } = await events.publish({ orderId: 3, total: 1 }, { transaction: client });
    const duplicate = await client.query(`INSERT INTO "${schema}".orders (id, total) VALUES (3, 1)`).catch((error: unknown) => error);
    expect((duplicate as { code?: string }).code).toBe("23505"); // unique_violation
    await client.query("ROLLBACK");

    expect(await orderIds()).toEqual([3]);
    expect(await spool.status(id)).toBeUndefined();
    expect(await takeAll()).toEqual([]);
  });

  it("the publish fails inside the transaction (queue_full): the caller's ROLLBACK takes the order with it", async () => {
    await events.setOptions({ maxLength: 1, overflow: "reject" });
    await events.publish({ orderId: 0, total: 0 }); // the queue is full
    await client.query("BEGIN");
    await client.query(`INSERT INTO "${schema}".orders (id, total) VALUES ($1, $2)`, [4, 5]);
    const refused = await events.publish({ orderId: 4, total: 5 }, { transaction: client }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SpoolError);
    expect((refused as SpoolError).code).toBe("queue_full");
    await client.query("ROLLBACK"); // PostgreSQL aborted the transaction at the failed statement

    expect(await orderIds()).toEqual([]);
    expect(await takeAll()).toEqual([{ orderId: 0, total: 0 }]);
  });

  it("`tx` is not an option: refused (validation_failed) before anything is written; `transaction` is", async () => {
    await client.query("BEGIN");
    await client.query(`INSERT INTO "${schema}".orders (id, total) VALUES ($1, $2)`, [5, 5]);
    for (const call of [
      () => events.publish({ orderId: 5, total: 5 }, { tx: client } as never),
      () => events.publishMany([{ body: { orderId: 5, total: 5 } }], { tx: client } as never),
    ]) {
      const refused = await call().catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(SpoolError);
      expect((refused as SpoolError).code).toBe("validation_failed");
      expect((refused as SpoolError).details?.[0]?.path).toBe("/tx");
    }
    await client.query("COMMIT"); // the caller's transaction was not touched

    expect(await orderIds()).toEqual([5]);
    expect((await events.stats()).totals.published).toBe(0);
  });
});
