/**
 * BullMQ on Redis. Publish: `addBulk`; consume: a Worker with `concurrency`; completed jobs are
 * removed (`removeOnComplete: true`), as a production queue would. Every queue is obliterated
 * in teardown. Redis is reached at BENCH_REDIS_URL (default redis://127.0.0.1:6379).
 */
import type * as BullMQ from "bullmq";
import type { Queue as BullQueue, Worker as BullWorker } from "bullmq";
import type { Redis } from "ioredis";
import type { BenchBody } from "../lib/body.js";
import { makeBodies } from "../lib/body.js";
import { Counter } from "../lib/counter.js";
import { packageVersion } from "../lib/package-version.js";
import { withTimeout } from "../lib/stats.js";
import { describeError, redactUrl } from "../lib/text.js";
import { uniqueName, type BenchQueue, type BenchSystem, type ConsumeOptions, type Consumer, type ReadyMemory, type Sizes, type SystemEntry } from "./system.js";
import { PEER_BACKLOG } from "./sizes.js";

const SIZES: Sizes = { publishMany: 100_000, endToEnd: { 1: 5_000, 64: 20_000 }, readyMemory: 100_000, repeats: 1, backlog: PEER_BACKLOG };
const JOB_NAME = "bench";

export function bullmqSystem(name = "bullmq"): SystemEntry {
  return { name, kind: "peer", create: () => new BullmqSystem(name) };
}

interface Connection {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
}

function connectionFromUrl(text: string): Connection {
  const url = new URL(text);
  const connection: Connection = { host: url.hostname, port: Number(url.port || 6379) };
  if (url.username) connection.username = decodeURIComponent(url.username);
  if (url.password) connection.password = decodeURIComponent(url.password);
  if (url.pathname.length > 1) connection.db = Number(url.pathname.slice(1));
  return connection;
}

class BullmqSystem implements BenchSystem {
  readonly kind = "peer";
  readonly sizes = SIZES;
  readonly notes: string[] = [];
  readonly #url = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
  readonly #connection = connectionFromUrl(this.#url);
  #bullmq: typeof BullMQ | undefined;
  #probe: Redis | undefined;
  readonly #queues = new Set<BullmqQueue>();

  constructor(readonly name: string) {}

  async setup(): Promise<void> {
    const { Redis } = await import("ioredis");
    // A client that fails at once (no retries) tells us whether Redis is there at all.
    const probe = new Redis({ ...this.#connection, lazyConnect: true, connectTimeout: 2_000, retryStrategy: () => null, maxRetriesPerRequest: 1 });
    // connect() rejects with a bare "Connection is closed"; the cause arrives as an error event.
    let cause: unknown;
    probe.on("error", (error: unknown) => (cause ??= error));
    try {
      await withTimeout(probe.connect(), 5_000, `connecting to Redis at ${redactUrl(this.#url)}`);
    } catch (error) {
      probe.disconnect();
      throw new Error(`${describeError(cause ?? error)} (Redis at ${redactUrl(this.#url)})`);
    }
    this.#probe = probe;
    this.#bullmq = await import("bullmq");
    const info = await probe.info("server");
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? "?";
    let persistence = "";
    try {
      const [, appendonly] = (await probe.config("GET", "appendonly")) as string[];
      const [, appendfsync] = (await probe.config("GET", "appendfsync")) as string[];
      persistence = appendonly === "yes" ? `AOF on, appendfsync ${appendfsync}` : "AOF off (appendonly no): acked writes are not fsynced";
    } catch {
      persistence = "persistence settings unknown (CONFIG refused)";
    }
    this.notes.push(`${this.name}: bullmq ${packageVersion("bullmq")} + ioredis ${packageVersion("ioredis")}, Redis ${version} at ${redactUrl(this.#url)}, ${persistence}`);
  }

  async createQueue(): Promise<BenchQueue> {
    if (!this.#bullmq) throw new Error("setup() first");
    const name = uniqueName();
    const queue = new this.#bullmq.Queue(name, {
      connection: { ...this.#connection },
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
    queue.on("error", () => {});
    await queue.waitUntilReady();
    const benchQueue = new BullmqQueue(this.#bullmq, this.#connection, queue, () => this.#queues.delete(benchQueue));
    this.#queues.add(benchQueue);
    return benchQueue;
  }

  async readyMemory(count: number): Promise<ReadyMemory> {
    const probe = this.#probe;
    if (!probe) throw new Error("setup() first");
    const queue = await this.createQueue();
    try {
      const before = await usedMemory(probe);
      for (let from = 0; from < count; from += 1_000) await queue.publishMany(makeBodies(Math.min(1_000, count - from), from));
      const after = await usedMemory(probe);
      return { addedBytes: after - before, where: "Redis used_memory", comparable: true };
    } finally {
      await queue.delete();
    }
  }

  async teardown(): Promise<void> {
    for (const queue of this.#queues) await queue.delete().catch(() => undefined);
    this.#probe?.disconnect();
    this.#probe = undefined;
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

class BullmqQueue implements BenchQueue {
  readonly #workers = new Set<BullWorker>();

  constructor(
    readonly bullmq: typeof BullMQ,
    readonly connection: Connection,
    readonly queue: BullQueue,
    readonly onDelete: () => void,
  ) {}

  get name(): string {
    return this.queue.name;
  }

  async publishMany(bodies: readonly BenchBody[]): Promise<void> {
    await this.queue.addBulk(bodies.map((data) => ({ name: JOB_NAME, data })));
  }

  async publish(body: BenchBody): Promise<void> {
    await this.queue.add(JOB_NAME, body);
  }

  async consume({ concurrency, onHandle }: ConsumeOptions): Promise<Consumer> {
    const handled = new Counter();
    const worker = new this.bullmq.Worker<BenchBody>(
      this.queue.name,
      async (job) => {
        onHandle?.(job.data);
      },
      { connection: { ...this.connection, maxRetriesPerRequest: null }, concurrency },
    );
    worker.on("error", () => {});
    // "completed" fires after the job was moved to completed in Redis: the ack.
    worker.on("completed", () => handled.increment());
    await worker.waitUntilReady();
    this.#workers.add(worker);
    return {
      handled,
      settled: (count) => handled.reach(count),
      close: async () => {
        this.#workers.delete(worker);
        await worker.close();
      },
    };
  }

  async delete(): Promise<void> {
    for (const worker of this.#workers) await worker.close().catch(() => undefined);
    this.#workers.clear();
    // Close the publishing handle first, so a publish still in flight (an interrupted run)
    // cannot re-create keys after the obliterate; a fresh handle does the cleaning.
    await this.queue.close();
    const cleaner = new this.bullmq.Queue(this.queue.name, { connection: { ...this.connection } });
    cleaner.on("error", () => {});
    try {
      await cleaner.obliterate({ force: true });
    } finally {
      await cleaner.close();
      this.onDelete();
    }
  }
}
