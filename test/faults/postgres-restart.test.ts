/**
 * The database restarted under a running Spool (`pg_ctlcluster <version> <cluster> restart`, as
 * root): callers get 503 `unavailable` while it is down, never a 500; `/health/ready` answers 503
 * and then 200 again by itself; the worker carries on by itself; nothing acknowledged is lost.
 *
 * Restarting the server cuts every test's connections, not only this one's: the file is short,
 * runs on its own, and waits for the server to answer again before it ends, so other files that
 * run at the same time see one brief outage (which they may report as failures).
 * SPOOL_TEST_PG_CLUSTER names the cluster (default "15 main").
 */
import pg from "pg";
import { afterAll, describe, expect } from "vitest";
import { postgresStore, Spool } from "../../src/index.js";
import { startTestServer } from "../helpers/http-server.js";
import { pollUntil } from "../helpers/poll-until.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";
import { faultTest } from "./fault-test.js";
import { mustRun, requireTool } from "./tools.js";

const CLUSTER = (process.env.SPOOL_TEST_PG_CLUSTER ?? "15 main").split(/\s+/);
const withRestart = faultTest({ tools: ["pg_ctlcluster"], root: `restarts the PostgreSQL cluster (pg_ctlcluster ${CLUSTER.join(" ")} restart)` });

/** Resolves once the server accepts a connection and answers a query again. */
async function serverAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 1_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const schemas: string[] = [];
afterAll(async () => {
  await pollUntil(serverAnswers, { timeoutMs: 60_000, intervalMs: 200, what: "PostgreSQL to answer again" });
  await dropSchemas(schemas);
}, 70_000);

describe("a PostgreSQL restart (pg_ctlcluster restart)", () => {
  withRestart("callers get 503 while it is down, readiness and the worker recover by themselves, nothing acknowledged is lost", async () => {
    const schema = uniqueSchema("spool_restart");
    schemas.push(schema);
    const server = await startTestServer({ store: postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 4, connectTimeoutMs: 2_000 }) });
    const workerSpool = await Spool.open({ store: postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 4, connectTimeoutMs: 2_000 }) });
    try {
      await workerSpool.queue("jobs", { leaseMs: 2_000 }).info();
      const handled = new Set<number>();
      workerSpool.queue("jobs").work((message) => void handled.add((message.body as { n: number }).n), { concurrency: 4 });

      const acknowledged = new Map<number, string>();
      const failures: Array<{ status: number; code: unknown }> = [];
      const publish = async (n: number) => {
        const answer = await server.call("POST", "/v1/queues/jobs/messages", { body: { n } });
        if (answer.status === 201) acknowledged.set(n, answer.body.id as string);
        else failures.push({ status: answer.status, code: answer.body?.error?.code });
      };
      for (let n = 0; n < 20; n++) await publish(n);
      await pollUntil(() => handled.size === 20, { timeoutMs: 10_000, what: "the first 20 to be handled" });

      // Publishing all through the restart: some land before, some are refused while it is down.
      let producing = true;
      let next = 20;
      const producer = (async () => {
        while (producing) await publish(next++);
      })();
      await mustRun(requireTool("pg_ctlcluster", "restart PostgreSQL"), [...CLUSTER, "restart"], "restarting PostgreSQL");
      await pollUntil(serverAnswers, { timeoutMs: 60_000, intervalMs: 100, what: "PostgreSQL to answer after the restart" });
      await pollUntil(async () => (await server.call("GET", "/health/ready")).status === 200, { timeoutMs: 20_000, intervalMs: 100, what: "/health/ready to answer 200 again" });
      const after = acknowledged.size;
      await pollUntil(() => acknowledged.size >= after + 20, { timeoutMs: 20_000, what: "publishes to succeed again" });
      producing = false;
      await producer;

      expect(failures.length, "the restart was seen").toBeGreaterThan(0);
      expect(failures.filter((f) => f.status !== 503 || f.code !== "unavailable"), "every failed call is 503 unavailable").toEqual([]);
      await pollUntil(() => [...acknowledged.keys()].every((n) => handled.has(n)), { timeoutMs: 30_000, intervalMs: 50, what: "every acknowledged message to be handled" });
      const states = await Promise.all([...acknowledged.values()].map(async (id) => (await workerSpool.status(id))?.state));
      await pollUntil(
        async () => (await Promise.all([...acknowledged.values()].map(async (id) => (await workerSpool.status(id))?.state))).every((state) => state === "completed"),
        { timeoutMs: 15_000, intervalMs: 200, what: `every acknowledged message to be completed (now: ${states.filter((s) => s !== "completed").length} not)` },
      );
    } finally {
      await workerSpool.close();
      await server.close();
    }
  }, 120_000);
});
