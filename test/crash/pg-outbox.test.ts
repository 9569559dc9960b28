/**
 * The transactional outbox on PostgreSQL, with the consumer in another process: a message
 * published with `{ transaction }` in the caller's transaction is
 *
 *   rolled back → never visible: a consumer running all along never gets it (it gets a marker
 *                 published afterwards, and the queue is FIFO), status and stats know nothing;
 *   committed   → delivered exactly once: the waiting consumer is woken by the commit (NOTIFY is
 *                 sent at COMMIT) and handles it once, at attempt 1;
 *   committed, then the publishing process SIGKILLed right after COMMIT, before anything
 *   consumed it → still delivered once, to a consumer started in another process afterwards.
 *
 * Each test has its own schema, holding Spool's tables and the caller's `orders` table.
 */
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { postgresStore, Spool, type Queue } from "../../src/index.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";
import { OUTBOX, type PgHostMessage } from "./pg-spec.js";
import { spawnHost, type HostHandle } from "./spawn-host.js";

const PG_HOST = new URL("./pg-host.ts", import.meta.url).pathname;

type Event = { orderId: number; marker?: boolean };

describe("transactional outbox across processes (PostgreSQL)", () => {
  const schemas: string[] = [];
  const hosts: Array<HostHandle<PgHostMessage>> = [];
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const host of hosts) if (host.child.exitCode === null && host.child.signalCode === null) host.child.kill("SIGKILL");
    await Promise.all(hosts.map((host) => host.ended));
    await Promise.allSettled(closers.map((close) => close()));
    await dropSchemas(schemas);
  });

  /** A schema with Spool's tables and the caller's orders table; a Spool on it and a pg client for the caller. */
  async function setUp(): Promise<{ schema: string; spool: Spool; events: Queue<Event>; client: pg.Client; orders: () => Promise<number[]> }> {
    const schema = uniqueSchema("spool_outbox");
    schemas.push(schema);
    const spool = await Spool.open({ store: postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 4 }) });
    closers.push(() => spool.close());
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    closers.push(() => client.end());
    await client.query(`CREATE TABLE "${schema}".${OUTBOX.orders} (id int PRIMARY KEY, total int NOT NULL)`);
    const events = spool.queue<Event>(OUTBOX.queue);
    await events.info();
    const orders = async () => (await client.query<{ id: number }>(`SELECT id FROM "${schema}".${OUTBOX.orders} ORDER BY id`)).rows.map((row) => row.id);
    return { schema, spool, events, client, orders };
  }

  /** A `work` host on the events queue, with every handling it reports by message id. */
  async function consumer(schema: string) {
    const starts = new Map<string, number[]>(); // id → attempts handled
    const done = new Map<string, number>(); // id → times an ack was accepted
    const host = spawnHost<PgHostMessage>(
      ["work", TEST_PG_URL, schema, OUTBOX.queue, "4"],
      (message) => {
        if (message.t !== "handlings") return;
        for (const [id, attempt] of message.starts) starts.set(id, [...(starts.get(id) ?? []), attempt]);
        for (const [id] of message.done) done.set(id, (done.get(id) ?? 0) + 1);
      },
      PG_HOST,
    );
    hosts.push(host);
    await host.waitFor((m) => m.t === "ready", "the consumer opened the store");
    const acked = (id: string) => host.waitFor((m) => m.t === "handlings" && m.done.some(([doneId]) => doneId === id), `the consumer acked ${id}`);
    /** Publishes a marker outside any transaction and waits until the consumer acked it: it saw everything published before. */
    const drained = async (events: Queue<Event>) => acked((await events.publish({ orderId: -1, marker: true })).id);
    const close = async () => {
      host.child.send({ t: "close" });
      const end = await host.ended;
      expect(end.code, host.stderr()).toBe(0);
    };
    return { host, starts, done, acked, drained, close };
  }

  it("rolled back → never published: a running consumer never sees it, nothing is counted", async () => {
    const { schema, spool, events, client, orders } = await setUp();
    const worker = await consumer(schema);

    await client.query("BEGIN");
    await client.query(`INSERT INTO "${schema}".${OUTBOX.orders} (id, total) VALUES (1, 42)`);
    const one = await events.publish({ orderId: 1 }, { transaction: client });
    const many = await events.publishMany([{ body: { orderId: 1 } }, { body: { orderId: 1 }, priority: 9 }], { transaction: client });
    // Not visible outside the transaction, even before it ends.
    expect(await spool.status(one.id)).toBeUndefined();
    expect((await events.stats()).ready).toBe(0);
    await client.query("ROLLBACK");

    await worker.drained(events);
    const ids = [one.id, ...many.map((r) => r.id)];
    for (const id of ids) {
      expect(await spool.status(id)).toBeUndefined();
      expect(worker.starts.has(id)).toBe(false);
    }
    const stats = await events.stats();
    expect(stats).toMatchObject({ ready: 0, delayed: 0, leased: 0, dead: 0 });
    expect(stats.totals).toMatchObject({ published: 1, completed: 1 }); // the marker only
    expect(await orders()).toEqual([]);
    await worker.close();
  }, 60_000);

  it("committed → delivered exactly once: the commit wakes the waiting consumer", async () => {
    const { schema, spool, events, client, orders } = await setUp();
    const worker = await consumer(schema);

    await client.query("BEGIN");
    await client.query(`INSERT INTO "${schema}".${OUTBOX.orders} (id, total) VALUES (7, 42)`);
    const { id } = await events.publish({ orderId: 7 }, { transaction: client });
    expect(await spool.status(id)).toBeUndefined(); // not before COMMIT
    await client.query("COMMIT");

    await worker.acked(id); // no publish outside the transaction woke it: the NOTIFY sent at COMMIT did
    await worker.drained(events);
    expect(worker.starts.get(id)).toEqual([1]);
    expect(worker.done.get(id)).toBe(1);
    expect(await spool.status(id)).toMatchObject({ state: "completed", attempt: 1 });
    expect((await events.stats()).totals).toMatchObject({ published: 2, completed: 2, retried: 0, dead: 0 });
    expect(await orders()).toEqual([7]);
    await worker.close();
  }, 60_000);

  it("committed, then the publisher SIGKILLed before anything consumed → still delivered once, to another process", async () => {
    const { schema, spool, events, orders } = await setUp();

    const publisher = spawnHost<PgHostMessage>(["outbox", TEST_PG_URL, schema, OUTBOX.queue, "9"], () => undefined, PG_HOST);
    hosts.push(publisher);
    const committed = await publisher.waitFor((m) => m.t === "committed", "the publisher committed");
    expect((await publisher.ended).signal, publisher.stderr()).toBe("SIGKILL");
    if (committed.t !== "committed") throw new Error("unreachable");
    expect(await orders()).toEqual([9]);
    expect(await spool.status(committed.id)).toMatchObject({ state: "ready", attempt: 0 });

    const worker = await consumer(schema); // started after the crash: finds the message waiting
    await worker.acked(committed.id);
    await worker.drained(events);
    expect(worker.starts.get(committed.id)).toEqual([1]);
    expect(worker.done.get(committed.id)).toBe(1);
    expect(await spool.status(committed.id)).toMatchObject({ state: "completed", attempt: 1 });
    expect((await events.stats()).totals).toMatchObject({ published: 2, completed: 2, retried: 0, dead: 0 });
    await worker.close();
  }, 60_000);
});
