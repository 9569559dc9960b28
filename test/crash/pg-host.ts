/**
 * A library host on the PostgreSQL store, run as a child process (`node --import tsx`, through
 * spawn-host.ts) so a SIGKILL takes down only it. Messages to the parent are in pg-spec.ts.
 *
 *   work <url> <schema> <queue> <concurrency>
 *       runs `queue.work` over the queue and reports every handling: its start (id, attempt,
 *       lease token, leaseUntil), when its handler returned, and when its ack was accepted
 *       (`message:completed`); leases found lost (an extend or an ack refused) are counted. Reports go once per
 *       event-loop turn, so a kill loses at most the last turn's. `{t:"close"}` closes it.
 *   serve <url> <schema> <queue> <concurrency>
 *       the same, but the process is a `spool serve` on the schema (startServer, as the CLI runs
 *       it, on an ephemeral port) and the worker is a SpoolClient worker leasing and acking over
 *       its HTTP API: a server among the library processes.
 *   outbox <url> <schema> <queue> <orderId>
 *       in one transaction on its own pg client: inserts an order row and publishes its event
 *       with `{ transaction }`; once COMMIT has returned it reports the id and SIGKILLs itself,
 *       before its Spool does anything else (a crash between commit and delivery).
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadServerConfig } from "../../src/config/load-server-config.js";
import { postgresStore, Spool, SpoolClient, SpoolError, type Handler, type Worker, type WorkerOptions } from "../../src/index.js";
import { startServer } from "../../src/server/serve.js";
import { DRAIN, type Body, type Mark, type PgHostCommand, type PgHostMessage, type Start } from "./pg-spec.js";

function send(message: PgHostMessage, then: () => void = () => undefined): void {
  process.send?.(message, then);
}

/** Collects a turn's reports and sends them as one message at the end of the turn. */
class Reporter {
  starts: Start[] = [];
  ends: Mark[] = [];
  done: Mark[] = [];
  refused = 0;
  #scheduled = false;

  note(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
    if (this.starts.length + this.ends.length + this.done.length + this.refused === 0) return;
    send({ t: "handlings", starts: this.starts, ends: this.ends, done: this.done, refused: this.refused });
    this.starts = [];
    this.ends = [];
    this.done = [];
    this.refused = 0;
  }
}

/** What `work` and `serve` run their worker on: a library queue or a SpoolClient's. */
interface WorkSource {
  work(handler: Handler<Body>, options: WorkerOptions): Worker<Body>;
}

async function work(url: string, schema: string, queueName: string, concurrency: number): Promise<void> {
  const spool = await Spool.open({ store: postgresStore({ connectionString: url, schema, poolSize: 4 }) });
  const queue = spool.queue<Body>(queueName);
  await queue.info();
  runWorker(queue, concurrency, () => spool.close());
}

async function serve(url: string, schema: string, queueName: string, concurrency: number): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "spool-pg-serve-")); // batch delivery's files
  const env = { SPOOL_STORE: url, SPOOL_SCHEMA: schema, SPOOL_HOST: "127.0.0.1", SPOOL_PORT: "0", SPOOL_DATA_DIR: dataDir, SPOOL_LOG_LEVEL: "warn" };
  const server = await startServer(loadServerConfig({ env, flags: {}, cwd: process.cwd() }), { metrics: false });
  const client = new SpoolClient({ url: server.url });
  runWorker(client.queue<Body>(queueName), concurrency, async () => {
    await client.close();
    await server.close();
  });
}

function runWorker(source: WorkSource, concurrency: number, closeAll: () => Promise<void>): void {
  const report = new Reporter();
  const worker = source.work(
    async (msg) => {
      report.starts.push([msg.id, msg.attempt, msg.leaseToken, msg.leaseUntil, Date.now()]);
      report.note();
      // A little work of uneven length, so a kill finds handlers at every stage (DRAIN.slowEvery).
      const ms = msg.body.seq % DRAIN.slowEvery === 0 ? DRAIN.slowMs : Math.floor(Math.random() * 16);
      await new Promise((resolve) => setTimeout(resolve, ms));
      report.ends.push([msg.id, msg.attempt, Date.now()]);
      report.note();
    },
    { concurrency },
  );
  worker.on("message:completed", ({ id, attempt }) => {
    report.done.push([id, attempt, Date.now()]);
    report.note();
  });
  worker.on("worker:error", ({ error }) => {
    if (error instanceof SpoolError && error.code === "lease_lost") {
      report.refused++;
      report.note();
    } else {
      send({ t: "error", message: String((error as Error)?.stack ?? error) });
    }
  });
  process.on("message", (command: PgHostCommand) => {
    if (command.t !== "close") return;
    void (async () => {
      await worker.close();
      await closeAll();
      report.flush();
      send({ t: "closed" }, () => process.exit(0));
    })();
  });
  send({ t: "ready", pid: process.pid });
}

async function outbox(url: string, schema: string, queueName: string, orderId: number): Promise<void> {
  const spool = await Spool.open({ store: postgresStore({ connectionString: url, schema, poolSize: 2 }) });
  const events = spool.queue<{ orderId: number }>(queueName);
  await events.info();
  send({ t: "ready", pid: process.pid });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("BEGIN");
  await client.query(`INSERT INTO "${schema}".orders (id, total) VALUES ($1, $2)`, [orderId, 42]);
  const { id } = await events.publish({ orderId }, { transaction: client });
  await client.query("COMMIT");
  // Committed: die now, before this process's Spool can do anything more with the message.
  send({ t: "committed", id, orderId }, () => process.kill(process.pid, "SIGKILL"));
}

process.on("disconnect", () => process.exit(0)); // never outlive the observer

const [mode, url, schema, queue, arg] = process.argv.slice(2);
const modes: Record<string, () => Promise<void>> = {
  work: () => work(url, schema, queue, Number(arg)),
  serve: () => serve(url, schema, queue, Number(arg)),
  outbox: () => outbox(url, schema, queue, Number(arg)),
};
const main = modes[mode]?.() ?? Promise.reject(new Error(`unknown mode ${mode}`));
main.catch((error: unknown) => {
  const message: PgHostMessage = { t: "error", message: String((error as Error)?.stack ?? error) };
  if (process.send) process.send(message, () => process.exit(1));
  else process.exit(1);
});
