/**
 * pg-boss 10 on PostgreSQL. Publish: `insert` (one statement per batch); consume: `work()` with
 * `batchSize` = concurrency (pg-boss 10's unit of concurrency) at the shortest polling interval
 * it allows (0.5 s). A run gets its own schema, dropped in teardown. The database is
 * BENCH_PG_URL, or the first of the local defaults that accepts a connection.
 */
import type PgBossType from "pg-boss";
import type { BenchBody } from "../lib/body.js";
import { makeBodies } from "../lib/body.js";
import { Counter } from "../lib/counter.js";
import { packageVersion } from "../lib/package-version.js";
import { candidatePgUrls } from "../lib/pg.js";
import { describeError, redactUrl } from "../lib/text.js";
import { pollUntil, sleep, withTimeout } from "../lib/stats.js";
import { uniqueName, type BenchQueue, type BenchSystem, type ConsumeOptions, type Consumer, type ReadyMemory, type Sizes, type SystemEntry } from "./system.js";
import { PEER_BACKLOG } from "./sizes.js";

/** pg-boss polls: at c=1 it takes one job per 0.5 s, so the end-to-end runs are small. */
const SIZES: Sizes = { publishMany: 100_000, endToEnd: { 1: 10, 64: 1_000 }, readyMemory: 100_000, repeats: 1, backlog: PEER_BACKLOG };
const POLLING_INTERVAL_SECONDS = 0.5;

export function pgBossSystem(name = "pg-boss"): SystemEntry {
  return { name, kind: "peer", create: () => new PgBossSystem(name) };
}

type PgBoss = PgBossType;

class PgBossSystem implements BenchSystem {
  readonly kind = "peer";
  readonly sizes = SIZES;
  readonly notes: string[] = [];
  readonly #schema = `spool_bench_${process.pid}_${Date.now().toString(36)}`;
  #boss: PgBoss | undefined;
  readonly #queues = new Set<PgBossQueue>();

  constructor(readonly name: string) {}

  async setup(): Promise<void> {
    const { default: PgBossClass } = await import("pg-boss");
    const urls = candidatePgUrls();
    const failures: string[] = [];
    for (const url of urls) {
      const boss = new PgBossClass({ connectionString: url, schema: this.#schema, supervise: false, schedule: false, max: 10 });
      boss.on("error", () => {});
      try {
        await withTimeout(boss.start(), 20_000, `starting pg-boss on ${redactUrl(url)}`);
      } catch (error) {
        failures.push(`${describeError(error)} (${redactUrl(url)})`);
        await boss.stop({ graceful: false, close: true }).catch(() => undefined);
        continue;
      }
      this.#boss = boss;
      const db = boss.getDb();
      const show = async (setting: string) => String((await db.executeSql(`SHOW ${setting}`, [])).rows[0]?.[setting] ?? "?");
      const version = (await show("server_version")).split(" ")[0];
      this.notes.push(
        `${this.name}: pg-boss ${packageVersion("pg-boss")}, PostgreSQL ${version} at ${redactUrl(url)} (fsync ${await show("fsync")}, synchronous_commit ${await show("synchronous_commit")}), ` +
          `work() polls every ${POLLING_INTERVAL_SECONDS} s with batchSize = concurrency (latency: batchSize sized to the arrival rate)`,
      );
      return;
    }
    throw new Error(failures.join("; "));
  }

  async createQueue(): Promise<BenchQueue> {
    const boss = this.#requireBoss();
    const name = uniqueName();
    await boss.createQueue(name);
    const queue = new PgBossQueue(boss, this.#schema, name, () => this.#queues.delete(queue));
    this.#queues.add(queue);
    return queue;
  }

  async readyMemory(count: number): Promise<ReadyMemory> {
    const queue = await this.createQueue();
    try {
      const before = await this.#schemaBytes();
      for (let from = 0; from < count; from += 1_000) await queue.publishMany(makeBodies(Math.min(1_000, count - from), from));
      const after = await this.#schemaBytes();
      return { addedBytes: after - before, where: "PostgreSQL table + index size (disk)", comparable: false };
    } finally {
      await queue.delete();
    }
  }

  async #schemaBytes(): Promise<number> {
    const { rows } = await this.#requireBoss()
      .getDb()
      .executeSql(
        `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [this.#schema],
      );
    return Number((rows[0] as { bytes: string }).bytes);
  }

  #requireBoss(): PgBoss {
    if (!this.#boss) throw new Error("setup() first");
    return this.#boss;
  }

  async teardown(): Promise<void> {
    const boss = this.#boss;
    if (!boss) return;
    this.#boss = undefined;
    for (const queue of this.#queues) await queue.delete().catch(() => undefined);
    await boss.stop({ graceful: true, wait: true, close: false, timeout: 5_000 }).catch(() => undefined);
    const db = boss.getDb() as PgBossType.Db & { close?: () => Promise<void> };
    await db.executeSql(`DROP SCHEMA IF EXISTS ${this.#schema} CASCADE`, []).catch(() => undefined);
    await db.close?.().catch(() => undefined);
  }
}

class PgBossQueue implements BenchQueue {
  readonly #workers = new Set<string>();

  constructor(
    readonly boss: PgBoss,
    readonly schema: string,
    readonly name: string,
    readonly onDelete: () => void,
  ) {}

  async publishMany(bodies: readonly BenchBody[]): Promise<void> {
    const name = this.name;
    await this.boss.insert(bodies.map((data) => ({ name, data })));
  }

  async publish(body: BenchBody): Promise<void> {
    await this.boss.send(this.name, body);
  }

  async consume({ concurrency, ratePerSec, onHandle }: ConsumeOptions): Promise<Consumer> {
    const handled = new Counter();
    // A poll every interval must take what arrived since the last one, or the backlog grows.
    const batchSize = Math.max(concurrency, ratePerSec ? Math.ceil(ratePerSec * POLLING_INTERVAL_SECONDS * 2) : 0);
    const id = await this.boss.work<BenchBody>(this.name, { batchSize, pollingIntervalSeconds: POLLING_INTERVAL_SECONDS }, async (jobs) => {
      await Promise.all(jobs.map(async (job) => onHandle?.(job.data)));
      handled.increment(jobs.length);
    });
    this.#workers.add(id);
    return {
      handled,
      // pg-boss completes a batch after the handler returns, without an event: ask the database
      // (by count, since more jobs may still be waiting behind them: the backlog scenario).
      settled: async (count) => {
        await handled.reach(count);
        await pollUntil(async () => (await this.#completed()) >= count, "pg-boss completing every handled job");
      },
      close: async () => {
        this.#workers.delete(id);
        await this.boss.offWork({ id });
      },
    };
  }

  async #completed(): Promise<number> {
    const { rows } = await this.boss.getDb().executeSql(`SELECT count(*)::int AS n FROM ${this.schema}.job WHERE name = $1 AND state = 'completed'`, [this.name]);
    return (rows[0] as { n: number }).n;
  }

  async delete(): Promise<void> {
    for (const id of this.#workers) await this.boss.offWork({ id }).catch(() => undefined);
    this.#workers.clear();
    // deleteQueue refuses a queue that still holds jobs (completed ones included): empty it first.
    // A stopping worker may still be completing its last batch: on a deadlock, try again.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.boss.getDb().executeSql(`DELETE FROM ${this.schema}.job WHERE name = $1`, [this.name]);
        await this.boss.deleteQueue(this.name);
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== "40P01" || attempt === 5) throw error;
        await sleep(100 * attempt); // a deadlock with pg-boss's own maintenance: back off, then retry
      }
    }
    this.onDelete();
  }
}
