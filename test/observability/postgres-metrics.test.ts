/**
 * The PostgreSQL store's metrics: its pool's connections (idle, busy), the statements waiting for
 * one, and the duration of every statement by operation and outcome. They exist only when the
 * store is PostgreSQL; a memory store's metrics have none of them.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Spool, memoryStore, postgresStore } from "../../src/index.js";
import { SpoolMetrics } from "../../src/metrics/metrics.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";
import { parseMetrics } from "./prom-text.js";

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

describe("SpoolMetrics on the PostgreSQL store", () => {
  it("reports the pool by state, waiting statements, and statement durations by operation and outcome", async () => {
    const schema = uniqueSchema("spool_metrics");
    schemas.push(schema);
    const spool = await Spool.open({ store: postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 3 }) });
    open.push(spool);
    const metrics = new SpoolMetrics(spool, { defaultMetrics: false });
    open.push(metrics);

    const jobs = spool.queue<{ n: number }>("jobs");
    await jobs.publishMany(Array.from({ length: 5 }, (_, n) => ({ body: { n } })));
    const leased = await jobs.lease({ max: 5 });
    await Promise.all(leased.map((message) => spool.ack(message.id, message.leaseToken)));
    // Refused for a stale token: the statement itself ran fine, so it counts as ok.
    await expect(spool.extend(leased[0].id, "stale", 1_000)).rejects.toMatchObject({ code: "lease_lost" });

    const scraped = parseMetrics(await metrics.render());
    expect(scraped.types.get("spool_postgres_pool_connections")).toBe("gauge");
    const idle = scraped.value("spool_postgres_pool_connections", { state: "idle" })!;
    const busy = scraped.value("spool_postgres_pool_connections", { state: "busy" })!;
    expect(idle + busy).toBeGreaterThanOrEqual(1);
    expect(idle + busy).toBeLessThanOrEqual(3);
    // The scrape itself reads stats through the pool, so some statements may be waiting for it.
    expect(scraped.value("spool_postgres_pool_waiting")).toBeGreaterThanOrEqual(0);
    expect(scraped.types.get("spool_postgres_query_duration_seconds")).toBe("histogram");
    expect(scraped.value("spool_postgres_query_duration_seconds_count", { operation: "publish", outcome: "ok" })).toBe(1);
    expect(scraped.value("spool_postgres_query_duration_seconds_count", { operation: "lease", outcome: "ok" })).toBe(1);
    expect(scraped.value("spool_postgres_query_duration_seconds_count", { operation: "ack", outcome: "ok" })).toBeGreaterThanOrEqual(1);
    expect(scraped.value("spool_postgres_query_duration_seconds_count", { operation: "extend", outcome: "ok" })).toBe(1);
    // Labels are operations, never queue names or ids.
    const operations = new Set(scraped.all("spool_postgres_query_duration_seconds_count").map((s) => s.labels.operation));
    for (const operation of operations) expect(operation).toMatch(/^[A-Za-z]+$/);
  });

  it("a statement that fails for the connection counts as an error", async () => {
    const schema = uniqueSchema("spool_metrics");
    schemas.push(schema);
    // Long enough for the publish on a loaded machine; the lease below waits on a lock past it.
    const store = postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 2, statementTimeoutMs: 1_000 });
    const spool = await Spool.open({ store });
    open.push(spool);
    const metrics = new SpoolMetrics(spool, { defaultMetrics: false });
    open.push(metrics);
    await spool.queue("jobs").publish({ n: 1 });
    // A lease that waits on a lock past the statement timeout is cancelled: unavailable.
    const pg = (await import("pg")).default;
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    try {
      await admin.query("BEGIN");
      await admin.query(`LOCK TABLE "${schema}".messages IN ACCESS EXCLUSIVE MODE`);
      await expect(spool.queue("jobs").lease()).rejects.toMatchObject({ code: "unavailable" });
      await admin.query("ROLLBACK");
    } finally {
      await admin.end();
    }
    const scraped = parseMetrics(await metrics.render());
    expect(scraped.value("spool_postgres_query_duration_seconds_count", { operation: "lease", outcome: "error" })).toBe(1);
  });

  it("a memory store has no spool_postgres_ series", async () => {
    const spool = await Spool.open({ store: memoryStore() });
    open.push(spool);
    const metrics = new SpoolMetrics(spool, { defaultMetrics: false });
    open.push(metrics);
    await spool.queue("jobs").publish({ n: 1 });
    expect(await metrics.render()).not.toContain("spool_postgres_");
  });
});
