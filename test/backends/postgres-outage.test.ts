/**
 * The PostgreSQL store when its database goes away and comes back (issue 12, "Operations"). The
 * store reaches the real test database through a TCP proxy (test/helpers/tcp-proxy.ts): stopping
 * the proxy makes the database unreachable for this store only, and `pg_terminate_backend` is
 * aimed at the proxy's own connections, so tests running beside these are not touched.
 *
 * - readiness answers 503 while the database is unreachable and 200 once it is back, by itself;
 * - connections terminated mid-load: callers get 503 `unavailable` (never a 500), nothing
 *   acknowledged is lost, and the workers (in this process and over HTTP) carry on by themselves;
 * - a worker started while the database is away starts once it is back;
 * - a long-poll parked while the connection drops gets the message published meanwhile.
 */
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { postgresStore, Spool, SpoolClient, type PostgresStore } from "../../src/index.js";
import { pollUntil } from "../helpers/poll-until.js";
import { startTestServer, type TestServer } from "../helpers/http-server.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

const target = new URL(TEST_PG_URL);

function storeBehind(proxy: TcpProxy, schema: string): PostgresStore {
  return postgresStore({ connectionString: proxy.urlFor(TEST_PG_URL), schema, poolSize: 4, connectTimeoutMs: 2_000 });
}

function freshSchema(): string {
  const schema = uniqueSchema("spool_outage");
  schemas.push(schema);
  return schema;
}

/** Runs `body` on a connection of its own to the test database (not through any proxy). */
async function withAdmin<T>(body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** `pg_terminate_backend` on every connection the proxy holds to the server; returns their application names. */
async function terminateBehind(proxy: TcpProxy): Promise<string[]> {
  const ports = proxy.upstreamPorts();
  return withAdmin(async (client) => {
    const { rows } = await client.query<{ application_name: string; done: boolean }>(
      "SELECT application_name, pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE client_port = ANY($1::int[]) AND pid <> pg_backend_pid()",
      [ports],
    );
    return rows.filter((row) => row.done).map((row) => row.application_name);
  });
}

describe("postgres store: outages", () => {
  it("/health/ready answers 503 while the database is unreachable, and 200 again once it is back, by itself", async () => {
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    let server: TestServer | undefined;
    try {
      server = await startTestServer({ store: storeBehind(proxy, freshSchema()) });
      expect((await server.call("GET", "/health/ready")).status).toBe(200);

      await proxy.stop();
      const down = await pollUntil(
        async () => {
          const answer = await server!.call("GET", "/health/ready");
          return answer.status === 503 ? answer : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 50, what: "/health/ready to answer 503" },
      );
      expect(down.body.error.code).toBe("unavailable");
      const refused = await server.call("POST", "/v1/queues/jobs/messages", { body: { n: 1 } });
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe("unavailable");
      // Still down a moment later: readiness does not recover on its own while the database is away.
      expect((await server.call("GET", "/health/ready")).status).toBe(503);

      await proxy.start();
      await pollUntil(async () => (await server!.call("GET", "/health/ready")).status === 200, { timeoutMs: 15_000, intervalMs: 100, what: "/health/ready to answer 200 again" });
      expect((await server.call("POST", "/v1/queues/jobs/messages", { body: { n: 2 } })).status).toBe(201);
    } finally {
      await server?.close();
      await proxy.close();
    }
  }, 40_000);

  it("connections terminated mid-load: callers get 503 unavailable, nothing acknowledged is lost, workers resume by themselves", async () => {
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const schema = freshSchema();
    let server: TestServer | undefined;
    let workerSpool: Spool | undefined;
    let client: SpoolClient | undefined;
    try {
      server = await startTestServer({ store: storeBehind(proxy, schema) });
      workerSpool = await Spool.open({ store: storeBehind(proxy, schema) });
      // Short leases: a message whose ack was cut off comes back soon.
      await workerSpool.queue("jobs", { leaseMs: 1_500 }).info();

      /** Per number: when each delivery started, and when its ack was confirmed. */
      const deliveries = new Map<number, number[]>();
      const completedAt = new Map<number, number>();
      const workerErrors: unknown[] = [];
      const handler = (message: { body: unknown }) => {
        const n = (message.body as { n: number }).n;
        deliveries.set(n, [...(deliveries.get(n) ?? []), performance.now()]);
      };
      const onCompleted = (ids: Map<string, number>) => (event: { id: string }) => {
        const n = ids.get(event.id);
        if (n !== undefined) completedAt.set(n, performance.now());
      };
      const idOf = new Map<string, number>();
      const local = workerSpool.queue("jobs").work(handler, { concurrency: 8 });
      client = new SpoolClient({ url: server.url, timeoutMs: 5_000 });
      const remote = client.queue("jobs").work(handler, { concurrency: 8 });
      for (const worker of [local, remote]) {
        worker.on("message:completed", onCompleted(idOf));
        worker.on("worker:error", ({ error }) => workerErrors.push(error));
      }

      // Producers publish numbered messages over HTTP until told to stop.
      const acknowledged = new Map<number, string>();
      const failures: Array<{ status: number; code: unknown }> = [];
      let next = 0;
      let producing = true;
      const producer = async () => {
        while (producing) {
          const n = next++;
          const answer = await server!.call("POST", "/v1/queues/jobs/messages", { body: { n } });
          if (answer.status === 201) {
            acknowledged.set(n, answer.body.id as string);
            idOf.set(answer.body.id as string, n);
          } else {
            failures.push({ status: answer.status, code: answer.body?.error?.code });
          }
        }
      };
      const producers = Array.from({ length: 4 }, producer);
      await pollUntil(() => completedAt.size >= 50, { timeoutMs: 10_000, what: "the workers to complete 50 messages" });

      // Every statement of the store is made to wait on a lock, then its connection is terminated:
      // whatever was in flight (publishes, leases, acks) fails for certain.
      await withAdmin(async (admin) => {
        await admin.query("BEGIN");
        await admin.query(`LOCK TABLE "${schema}".messages IN ACCESS EXCLUSIVE MODE`);
        await pollUntil(
          async () => {
            const { rows } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE client_port = ANY($1::int[]) AND wait_event_type = 'Lock'", [proxy.upstreamPorts()]);
            return rows[0].n >= 2;
          },
          { timeoutMs: 5_000, what: "the store's statements to wait on the lock" },
        );
        const terminated = await terminateBehind(proxy);
        expect(terminated.length).toBeGreaterThan(0);
        expect(new Set(terminated), "Spool's connections are named spool").toEqual(new Set(["spool"]));
        await admin.query("ROLLBACK");
      });
      await pollUntil(() => failures.length > 0, { timeoutMs: 5_000, what: "a caller to see the outage" });
      // And once more, under load, without a lock: whatever happens to be in flight.
      const before = acknowledged.size;
      await pollUntil(() => acknowledged.size >= before + 50, { timeoutMs: 15_000, what: "publishes to succeed again" });
      await terminateBehind(proxy);
      const after = acknowledged.size;
      await pollUntil(() => acknowledged.size >= after + 50, { timeoutMs: 15_000, what: "publishes to succeed again after the second termination" });
      producing = false;
      await Promise.all(producers);

      expect(failures.length).toBeGreaterThan(0);
      expect(failures.filter((f) => f.status !== 503 || f.code !== "unavailable"), "every failed call is 503 unavailable").toEqual([]);
      expect(workerErrors.length, "the workers saw the outage").toBeGreaterThan(0);

      // The workers resume by themselves: every acknowledged publish is delivered and completed.
      await pollUntil(() => [...acknowledged.keys()].every((n) => deliveries.has(n)), { timeoutMs: 30_000, intervalMs: 50, what: "every acknowledged message to be delivered" });
      await pollUntil(
        async () => {
          const stats = await workerSpool!.queueStats("jobs");
          return stats.ready + stats.delayed + stats.leased === 0;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: "the queue to drain" },
      );
      const ids = [...acknowledged.values()];
      for (let i = 0; i < ids.length; i += 50) {
        const states = await Promise.all(ids.slice(i, i + 50).map(async (id) => (await workerSpool!.status(id))?.state));
        expect(states.filter((state) => state !== "completed"), "every acknowledged message is completed").toEqual([]);
      }
      // A confirmed ack is durable: that message is never handed out again.
      const redelivered = [...completedAt].filter(([n, at]) => (deliveries.get(n) ?? []).some((started) => started > at));
      expect(redelivered).toEqual([]);
      expect(local.closed || remote.closed).toBe(false);
      expect((await server.call("GET", "/health/ready")).status).toBe(200);
    } finally {
      await client?.close();
      await workerSpool?.close();
      await server?.close();
      await proxy.close();
    }
  }, 90_000);

  it("a worker started while the database is unreachable starts once it is back", async () => {
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const schema = freshSchema();
    let spool: Spool | undefined;
    try {
      spool = await Spool.open({ store: storeBehind(proxy, schema) });
      await proxy.stop();
      const handled: unknown[] = [];
      const errors: unknown[] = [];
      const worker = spool.queue("late").work((message) => void handled.push(message.body));
      worker.on("worker:error", ({ error }) => errors.push(error));
      await pollUntil(() => errors.length > 0, { timeoutMs: 10_000, what: "the worker to report the outage" });
      expect(errors[0]).toMatchObject({ code: "unavailable" });
      await proxy.start();
      // Published by another process, straight to the database.
      const other = await Spool.open({ store: postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 2 }) });
      try {
        await other.queue("late").publish({ hello: "again" });
      } finally {
        await other.close();
      }
      await pollUntil(() => handled.length === 1, { timeoutMs: 20_000, intervalMs: 20, what: "the worker to handle the message" });
      expect(handled).toEqual([{ hello: "again" }]);
    } finally {
      await spool?.close();
      await proxy.close();
    }
  }, 40_000);

  it("a long-poll parked while its connections drop gets the message published meanwhile", async () => {
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    const schema = freshSchema();
    let server: TestServer | undefined;
    try {
      const store = storeBehind(proxy, schema);
      server = await startTestServer({ store });
      expect((await server.call("PUT", "/v1/queues/polled", {})).status).toBe(200);
      let leases = 0;
      const unobserve = store.observeQueries(({ operation, ok }) => void (operation === "lease" && ok && leases++));
      const parked = server.call("POST", "/v1/queues/polled/lease", { max: 1, waitMs: 25_000 });
      // Parked: the lease found nothing and waits for a wake-up.
      await pollUntil(() => leases > 0, { timeoutMs: 5_000, what: "the long-poll's first lease" });
      unobserve();

      await proxy.stop();
      await pollUntil(async () => (await server!.call("GET", "/health/ready")).status === 503, { timeoutMs: 10_000, intervalMs: 50, what: "the outage to show" });
      // Published meanwhile by another process: its NOTIFY never reaches the cut connection.
      const other = await Spool.open({ store: postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 2 }) });
      let id: string;
      try {
        ({ id } = await other.queue("polled").publish({ during: "outage" }));
      } finally {
        await other.close();
      }
      await proxy.start();

      const answer = await parked;
      expect(answer.status).toBe(200);
      expect(answer.body.messages.map((m: { id: string }) => m.id)).toEqual([id]);
    } finally {
      await server?.close();
      await proxy.close();
    }
  }, 40_000);
});
