/**
 * Queue events on PostgreSQL come from the database, so a process hears what other processes
 * do: here the listener only publishes, and a worker in a child process (pg-host.ts `work`)
 * leases and acks — the listener gets each message's active and completed, in order. Then the
 * worker is SIGKILLed holding a lease: the lease's end (applied by whichever process ticks) is
 * heard as a failed attempt (lease expired) and a retry.
 */
import { afterAll, expect, it } from "vitest";
import { postgresStore, Spool, type QueueEvent } from "../../src/index.js";
import { pollUntil } from "../helpers/poll-until.js";
import { dropSchemas, TEST_PG_URL, uniqueSchema } from "../helpers/postgres.js";
import { DRAIN, type Body, type PgHostMessage } from "./pg-spec.js";
import { spawnHost, type HostHandle } from "./spawn-host.js";

const PG_HOST = new URL("./pg-host.ts", import.meta.url).pathname;
const schema = uniqueSchema("spool_events");
const hosts: Array<HostHandle<PgHostMessage>> = [];
let spool: Spool | undefined;

afterAll(async () => {
  for (const host of hosts) if (host.child.exitCode === null && host.child.signalCode === null) host.child.kill("SIGKILL");
  await Promise.all(hosts.map((host) => host.ended));
  await spool?.close();
  await dropSchemas([schema]);
});

it("a listener hears another process's leases and acks, and the lease of a killed process running out", async () => {
  spool = await Spool.open({ store: postgresStore({ connectionString: TEST_PG_URL, schema, poolSize: 2 }) });
  const events: QueueEvent[] = [];
  spool.on("*", (event) => void events.push(event));
  const queue = spool.queue<Body>("events", { leaseMs: 2_000, maxAttempts: 5 });
  await queue.info();
  const of = (id: string) => events.filter((e) => e.id === id).map((e) => e.type);

  const host = spawnHost<PgHostMessage>(["work", TEST_PG_URL, schema, "events", "4"], () => undefined, PG_HOST);
  hosts.push(host);
  await host.waitFor((m) => m.t === "ready", "the worker process opened the store");

  const published = await queue.publishMany(Array.from({ length: 20 }, (_, i) => ({ body: { producer: "listener", seq: i + 1 } })));
  await pollUntil(() => published.every(({ id }) => of(id).includes("completed")), { timeoutMs: 15_000, what: "every message's completed event" });
  for (const { id } of published) expect(of(id)).toEqual(["published", "active", "completed"]);
  const leasedBy = events.filter((e) => e.type === "active").map((e) => e.id);
  expect(new Set(leasedBy)).toEqual(new Set(published.map((p) => p.id)));

  // A slow message (pg-spec.ts DRAIN.slowEvery): the worker holds its lease while it runs; kill it then.
  const slow = await queue.publish({ producer: "listener", seq: DRAIN.slowEvery });
  await host.waitFor((m) => m.t === "handlings" && m.starts.some(([id]) => id === slow.id), "the worker started the slow message");
  host.child.kill("SIGKILL");
  await host.ended;
  await pollUntil(() => of(slow.id).includes("retry"), { timeoutMs: 15_000, what: "the killed worker's lease running out" });
  expect(of(slow.id)).toEqual(["published", "active", "failed", "retry"]);
  const failed = events.find((e) => e.id === slow.id && e.type === "failed");
  expect(failed).toMatchObject({ attempt: 1, error: { message: expect.stringMatching(/lease expired/) } });
});
