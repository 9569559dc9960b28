/**
 * Queue events on PostgreSQL, beyond the conformance suite: what only the database's triggers and
 * NOTIFY can get wrong (a batch that needs many notifications; a pool with no connection to spare
 * for the first renewal of `events_wanted`).
 */
import pg from "pg";
import { afterAll, expect, it } from "vitest";
import { postgresStore, type PostgresStore, type QueueEvent } from "../../src/index.js";
import { pollUntil, uniqueQueueName } from "../helpers/poll-until.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";
import { startTcpProxy } from "../helpers/tcp-proxy.js";

const schemas: string[] = [];
const stores: PostgresStore[] = [];
afterAll(async () => {
  await Promise.allSettled(stores.map((store) => store.close()));
  await dropSchemas(schemas);
});

async function openStore(poolSize: number, connectionString = TEST_PG_URL): Promise<PostgresStore> {
  const schema = uniqueSchema("spool_ev");
  schemas.push(schema);
  const store = postgresStore({ connectionString, schema, poolSize, connectTimeoutMs: 2_000 });
  stores.push(store);
  await store.open();
  return store;
}

it("a listener that subscribes while a schedule fires, on a pool of one connection, does not stall the store", async () => {
  const store = await openStore(1);
  const queue = uniqueQueueName("ev-sched");
  await store.putSchedule({ name: "s", everyMs: 10, queue, body: "1", options: {}, catchUp: "one" });
  await pollUntil(async () => (await store.getSchedule("s"))!.nextRunAt! <= store.clock.now(), { what: "the slot due" });

  // Hold the firing transaction (on the pool's only connection) at its row lock, subscribe, let it go.
  const blocker = new pg.Client({ connectionString: TEST_PG_URL });
  await blocker.connect();
  try {
    await blocker.query("BEGIN");
    await blocker.query(`LOCK TABLE "${store.schema}".schedules IN EXCLUSIVE MODE`);
    const firing = store.fireDueSchedules();
    await pollUntil(
      async () => {
        await blocker.query("SELECT pg_stat_clear_snapshot()"); // pg_stat_activity is read once per transaction otherwise
        const waiting = await blocker.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE SKIP LOCKED%'`);
        return waiting.rowCount! > 0;
      },
      { what: "the firing transaction waiting on the lock" },
    );
    const events: QueueEvent[] = [];
    const off = store.onEvents((batch) => void events.push(...batch));
    await blocker.query("COMMIT");
    const outcome = await Promise.race([firing.then((r) => r.fired.length), new Promise<string>((resolve) => setTimeout(resolve, 5_000, "stalled")).then((r) => r)]);
    expect(outcome).toBe(1);
    await pollUntil(() => events.some((e) => e.queue === queue && e.type === "published"), { what: "the fired message's publish heard" });
    off();
  } finally {
    await blocker.end();
  }
});

it("10,000 publishes in one statement are heard, every one, across many notifications", async () => {
  const store = await openStore(2);
  const queue = uniqueQueueName("ev-batch");
  const heard = new Set<string>();
  const off = store.onEvents((batch) => {
    for (const event of batch) if (event.type === "published" && event.queue === queue) heard.add(event.id);
  });
  const inputs = Array.from({ length: 10_000 }, (_, i) => ({ queue, body: String(i), priority: 0 }));
  const outcomes = await store.publish(inputs);
  await pollUntil(() => heard.size === outcomes.length, { what: `all ${outcomes.length} published events (${heard.size} so far)`, timeoutMs: 15_000 });
  expect([...heard].sort()).toEqual(outcomes.map((o) => o.id).sort());
  off();
});

it("once its connection is back, a listener hears this process's next change, though events_wanted lapsed meanwhile", async () => {
  const target = new URL(TEST_PG_URL);
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  try {
    const store = await openStore(2, proxy.urlFor(TEST_PG_URL));
    const queue = uniqueQueueName("ev-outage");
    const heard: string[] = [];
    store.onEvents((batch) => {
      for (const event of batch) if (event.type === "published") heard.push(event.id);
    });
    const [before] = await store.publish([{ queue, body: "1", priority: 0 }]);
    await pollUntil(() => heard.includes(before.id), { what: "the publish before the outage heard" });

    await proxy.stop();
    // An outage longer than the 15 s a renewal holds, without its wait: nobody renewed meanwhile.
    await admin.query(`UPDATE "${store.schema}".events_wanted SET until = 0`);
    await proxy.start();
    await pollUntil(() => store.ping(1_000).then(() => true, () => false), { what: "the wake-up connection back", timeoutMs: 15_000 });

    const [after] = await pollUntil(() => store.publish([{ queue, body: "2", priority: 0 }]).catch(() => undefined), { what: "a publish after the outage" });
    await pollUntil(() => heard.includes(after.id), { what: "the publish after the outage heard" });
  } finally {
    await admin.end();
    await proxy.close();
  }
}, 40_000);

it("a progress value that PostgreSQL writes out much longer (1e300 is 301 digits in jsonb) still reports, and is heard without its value", async () => {
  const store = await openStore(2);
  const queue = uniqueQueueName("ev-progress");
  const heard: QueueEvent[] = [];
  const off = store.onEvents((batch) => void heard.push(...batch.filter((e) => e.queue === queue)));
  const [{ id }] = await store.publish([{ queue, body: "1", priority: 0 }]);
  const [m] = await store.lease(queue, { max: 1, leaseMs: 60_000 });
  const progress = JSON.stringify(Array.from({ length: 500 }, () => 1e300)); // 3.5 KB as JSON, under maxProgressBytes
  await store.report(id, m.leaseToken, { progress });
  const event = await pollUntil(() => heard.find((e) => e.type === "progress"), { what: "the progress event" });
  expect(event).toMatchObject({ type: "progress", queue, id });
  expect("progress" in event).toBe(false);
  off();
});
