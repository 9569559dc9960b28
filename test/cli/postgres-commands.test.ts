/**
 * The CLI on the PostgreSQL store, as child processes: `spool serve --store postgres://…` (and
 * SPOOL_STORE, and the config file's `store`), publish / lease / ack through it over HTTP; and
 * `spool migrate` on a fresh schema, a current one, and twice at once. A store opened with
 * `migrate: false` on a schema that is behind refuses to start and says to run `spool migrate`.
 */
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { pollUntil } from "../helpers/poll-until.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { MIGRATIONS } from "../../src/store/postgres/migrations.js";
import { runCli, spawnCli, type CliOptions } from "./cli-process.js";

const VERSIONS = MIGRATIONS.map((m) => m.version);
const LATEST = VERSIONS[VERSIONS.length - 1];

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

function freshSchema(): string {
  const schema = uniqueSchema("spool_cli");
  schemas.push(schema);
  return schema;
}

let dir: string;
beforeEach(async () => {
  dir = await makeTempDir("spool-cli-pg-");
});
afterEach(async () => {
  await removeTempDir(dir);
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the route answered
async function json(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url + path, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** Starts `spool serve` with `args`, runs `body` with its URL and stderr, then stops it with SIGTERM (exit 0). */
async function withServe(args: string[], options: CliOptions, body: (url: string, stderr: () => string) => Promise<void>): Promise<void> {
  const server = spawnCli(["serve", "--port", "0", "--data-dir", "data", "--log-level", "warn", ...args], { cwd: dir, ...options });
  let stderr = "";
  server.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = once(server, "exit");
  try {
    const url = await Promise.race([
      pollUntil(() => /listening on (http:\/\/\S+)/.exec(stderr)?.[1], { timeoutMs: 20_000, what: "spool serve to listen" }),
      exited.then(() => {
        throw new Error(`spool serve exited: ${stderr}`);
      }),
    ]);
    await body(url, () => stderr);
    server.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    expect(code, stderr).toBe(0);
  } finally {
    server.kill("SIGKILL");
  }
}

/** Publish, lease and ack one message over HTTP; the queue is empty afterwards. */
async function roundTrip(url: string): Promise<void> {
  expect((await json(url, "GET", "/health/ready")).status).toBe(200);
  const published = await json(url, "POST", "/v1/queues/jobs/messages", { body: { hello: "pg" } });
  expect(published.status).toBe(201);
  const leased = await json(url, "POST", "/v1/queues/jobs/lease", { max: 1, waitMs: 5_000 });
  expect(leased.status).toBe(200);
  expect(leased.body.messages).toHaveLength(1);
  const [message] = leased.body.messages as Array<{ id: string; leaseToken: string; body: unknown }>;
  expect(message.id).toBe(published.body.id);
  expect(message.body).toEqual({ hello: "pg" });
  expect((await json(url, "POST", `/v1/messages/${message.id}/ack`, { leaseToken: message.leaseToken })).status).toBe(204);
  expect((await json(url, "GET", `/v1/messages/${message.id}`)).body.state).toBe("completed");
}

describe("spool serve on PostgreSQL", () => {
  it("--store postgres://… --schema: publish, lease and ack over HTTP; the start-up line names the store", async () => {
    const schema = freshSchema();
    await withServe(["--store", TEST_PG_URL, "--schema", schema], {}, async (url, stderr) => {
      expect(stderr()).toContain(`(store ${TEST_PG_URL}, schema ${schema})`);
      await roundTrip(url);
    });
  }, 60_000);

  it("SPOOL_STORE and SPOOL_SCHEMA: the same; a password in the URL is never printed", async () => {
    const schema = freshSchema();
    const withPassword = new URL(TEST_PG_URL);
    withPassword.password = "not-needed-with-trust";
    await withServe([], { env: { SPOOL_STORE: withPassword.toString(), SPOOL_SCHEMA: schema } }, async (url, stderr) => {
      expect(stderr()).toContain("postgres://postgres:***@");
      expect(stderr()).not.toContain("not-needed-with-trust");
      await roundTrip(url);
    });
  }, 60_000);

  it("postgres.migrate false on a schema that is behind: refuses to start, naming spool migrate; after spool migrate it starts", async () => {
    const schema = freshSchema();
    const config = join(dir, "spool.config.json");
    await writeFile(config, JSON.stringify({ store: TEST_PG_URL, postgres: { schema, migrate: false, poolSize: 3, statementTimeoutMs: 5_000, connectTimeoutMs: 5_000 } }));
    const refused = await runCli(["serve", "--port", "0", "--log-level", "warn"], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`schema "${schema}" is at version 0`);
    expect(refused.stderr).toContain("spool migrate");
    expect(refused.stderr).toMatch(/\(unavailable\)\n$/);

    const migrated = await runCli(["migrate"], { cwd: dir });
    expect(migrated.stderr).toBe("");
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toBe(`schema "${schema}" migrated to version ${LATEST} (applied ${VERSIONS.join(", ")})\n`);
    await withServe([], {}, async (url) => roundTrip(url));
  }, 60_000);

  it("a bad store setting exits 1 naming the option", async () => {
    const bad = await runCli(["serve", "--port", "0"], { cwd: dir, env: { SPOOL_STORE: "mysql://db/app" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^spool: SPOOL_STORE: expected a string matching .*, got "mysql:\/\/db\/app" \(validation_failed\)\n$/);
    await writeFile(join(dir, "spool.config.json"), JSON.stringify({ store: TEST_PG_URL, postgres: { poolSize: 0 } }));
    const small = await runCli(["serve", "--port", "0"], { cwd: dir });
    expect(small.code).toBe(1);
    expect(small.stderr).toBe("spool: spool.config.json: /postgres/poolSize expected an integer from 1 to 1000, got 0 (validation_failed)\n");
  }, 30_000);
});

describe("spool migrate", () => {
  it("creates a fresh schema and prints its version; a second run has nothing to do", async () => {
    const schema = freshSchema();
    const first = await runCli(["migrate", "--store", TEST_PG_URL, "--schema", schema]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`schema "${schema}" migrated to version ${LATEST} (applied ${VERSIONS.join(", ")})\n`);
    const second = await runCli(["migrate", "--json"], { env: { SPOOL_STORE: TEST_PG_URL, SPOOL_SCHEMA: schema } });
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ schema, version: LATEST, applied: [] });
    const third = await runCli(["migrate", "--store", TEST_PG_URL, "--schema", schema]);
    expect(third.stdout).toBe(`schema "${schema}" is at version ${LATEST}: nothing to do\n`);
  }, 30_000);

  it("two at once on a fresh schema: both succeed, and the migration is applied once", async () => {
    const schema = freshSchema();
    const runs = await Promise.all([0, 1].map(() => runCli(["migrate", "--json", "--store", TEST_PG_URL, "--schema", schema])));
    for (const run of runs) {
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
    }
    const results = runs.map((run) => JSON.parse(run.stdout) as { version: number; applied: number[] });
    expect(results.map((r) => r.version)).toEqual([LATEST, LATEST]);
    expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual(VERSIONS);
  }, 30_000);

  it("without a PostgreSQL store, or with an unreachable one, exits 1 with the reason", async () => {
    const none = await runCli(["migrate"], { cwd: dir });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^spool: no PostgreSQL store named: .*\(validation_failed\)\n$/);
    const unreachable = await runCli(["migrate", "--store", "postgres://postgres@127.0.0.1:1/test"], { cwd: dir });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/is unavailable: .*\(unavailable\)\n$/);
  }, 30_000);
});
