/**
 * Spool in this process, on any store: `spoolSystem("spool-journal-always", ({ dataDir }) =>
 * journalStore({ dataDir, fsync: "always" }))` is all a new store needs. A store on PostgreSQL
 * says `{ postgres: true }` and gets `postgres: { url, schema }` in its context: a schema of its
 * own, dropped before and after the run, which child processes (the processes scenario) share.
 */
import { mkdirSync, mkdtempSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { JournalStore, Spool, type Queue, type Store, type Worker } from "../../src/index.js";
import type { BenchBody } from "../lib/body.js";
import { Counter } from "../lib/counter.js";
import { describePg, pgQuery, resolvePgUrl, schemaBytes } from "../lib/pg.js";
import { forkReadyMemory } from "../lib/ready-memory.js";
import { makeBodies } from "../lib/body.js";
import { SPOOL_BACKLOG } from "./sizes.js";
import { uniqueName, type BenchQueue, type BenchSystem, type ConsumeOptions, type Consumer, type ReadyMemory, type Reopen, type Sizes, type SystemEntry } from "./system.js";

export interface StoreContext {
  /** A fresh, empty directory for this Spool (under BENCH_DATA_DIR or <repo>/.bench-data); removed afterwards. */
  dataDir: string;
  /** Systems with `{ postgres: true }`: the server (bench/lib/pg.ts) and a schema of this run's own. */
  postgres?: { url: string; schema: string };
}

/** The environment variable that hands a child process the parent's StoreContext (sharedEnv). */
const SHARED_CONTEXT_ENV = "BENCH_SHARED_STORE_CONTEXT";

/** On the project's own disk (not a tmpfs), so fsync costs what it costs. */
export const BENCH_DATA_ROOT = process.env.BENCH_DATA_DIR ?? fileURLToPath(new URL("../../.bench-data/", import.meta.url));

export type StoreFactory = (context: StoreContext) => Store;

export const SPOOL_SIZES: Sizes = {
  publishMany: 100_000,
  endToEnd: { 1: 20_000, 64: 100_000 },
  readyMemory: 1_000_000,
  repeats: 3,
  backlog: SPOOL_BACKLOG,
};

export interface SpoolSystemOptions {
  sizes?: Sizes;
  /** The `spool serve` flags that put the same store behind HTTP (the http scenario runs only with them). */
  serveFlags?: readonly string[];
  /** The store lives in PostgreSQL: the context gets a server and a fresh schema, which other processes may share. */
  postgres?: boolean;
  targets?: SystemEntry["targets"];
  comparedWith?: SystemEntry["comparedWith"];
}

export function spoolSystem(name: string, createStore: StoreFactory, options: SpoolSystemOptions = {}): SystemEntry {
  const { sizes = SPOOL_SIZES, serveFlags, postgres = false, targets, comparedWith } = options;
  return { name, kind: "spool", targets, comparedWith, create: () => new SpoolSystem(name, createStore, sizes, serveFlags, postgres) };
}

class SpoolSystem implements BenchSystem {
  readonly kind = "spool";
  readonly notes: string[] = [];
  #spool: Spool | undefined;
  #dataDir: string | undefined;
  #context: StoreContext | undefined;
  /** A child process attached to its parent's data: it neither makes nor removes it. */
  #attached = false;
  readonly #queues = new Set<SpoolQueue>();
  sharedEnv?: Record<string, string>;

  constructor(
    readonly name: string,
    readonly createStore: StoreFactory,
    readonly sizes: Sizes,
    readonly serveFlags: readonly string[] | undefined,
    readonly postgres: boolean,
  ) {}

  async setup(): Promise<void> {
    const shared = process.env[SHARED_CONTEXT_ENV];
    if (shared !== undefined) {
      this.#attached = true;
      this.#context = JSON.parse(shared) as StoreContext;
    } else {
      mkdirSync(BENCH_DATA_ROOT, { recursive: true });
      this.#dataDir = mkdtempSync(join(BENCH_DATA_ROOT, `${this.name}-`));
      this.#context = { dataDir: this.#dataDir };
      if (this.postgres) {
        const url = await resolvePgUrl();
        const schema = `spool_bench_${process.pid}_${Date.now().toString(36)}`;
        await pgQuery(url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        this.#context.postgres = { url, schema };
        this.sharedEnv = { [SHARED_CONTEXT_ENV]: JSON.stringify(this.#context) };
        this.notes.push(`${this.name}: ${await describePg(url)}, schema ${schema} (dropped after the run)`);
      }
    }
    const store = this.createStore(this.#context);
    this.#spool = await Spool.open({ store });
    if (this.#attached || this.sharedEnv) this.attachQueue = (name) => Promise.resolve(this.#queueNamed(name));
    if (store instanceof JournalStore) {
      this.snapshot = () => this.#snapshot();
      this.reopen = () => this.#reopen();
    }
    this.notes.push(`${this.name}: Spool in this process, store "${store.name}"${store.name === "journal" ? `, data in ${BENCH_DATA_ROOT}` : ""}`);
  }

  attachQueue?: (name: string) => Promise<BenchQueue>;

  async createQueue(): Promise<BenchQueue> {
    return this.#queueNamed(uniqueName());
  }

  #queueNamed(name: string): SpoolQueue {
    if (!this.#spool) throw new Error("setup() first");
    const queue = new SpoolQueue(this.#spool.queue<BenchBody>(name), () => this.#queues.delete(queue));
    this.#queues.add(queue);
    return queue;
  }

  async readyMemory(count: number): Promise<ReadyMemory> {
    const postgres = this.#context?.postgres;
    if (!postgres) return forkReadyMemory(this.name, count);
    // The messages live in the database, not in this process: what its tables and indexes grow by.
    const queue = await this.createQueue();
    try {
      const before = await schemaBytes(postgres.url, postgres.schema);
      for (let from = 0; from < count; from += 10_000) await queue.publishMany(makeBodies(Math.min(10_000, count - from), from));
      const after = await schemaBytes(postgres.url, postgres.schema);
      return { addedBytes: after - before, where: "PostgreSQL table + index size (disk)", comparable: false };
    } finally {
      await queue.delete();
    }
  }

  /** Only a store that keeps its data on disk has snapshots to take and a directory to reopen. */
  snapshot?: () => Promise<void>;
  reopen?: () => Promise<Reopen>;

  async #snapshot(): Promise<void> {
    const store = this.#spool?.store;
    if (!(store instanceof JournalStore)) throw new Error("snapshot() needs the journal store");
    await store.snapshot();
  }

  async #reopen(): Promise<Reopen> {
    if (!this.#spool || !this.#dataDir) throw new Error("setup() first");
    let started = performance.now();
    await this.#spool.close();
    const closeMs = performance.now() - started;
    this.#queues.clear(); // they belong to the closed Spool
    started = performance.now();
    this.#spool = await Spool.open({ store: this.createStore({ dataDir: this.#dataDir }) });
    return { closeMs, reopenMs: performance.now() - started };
  }

  async teardown(): Promise<void> {
    if (!this.#attached) for (const queue of this.#queues) await queue.delete().catch(() => undefined);
    await this.#spool?.close().catch(() => undefined);
    this.#spool = undefined;
    const postgres = this.#attached ? undefined : this.#context?.postgres;
    if (postgres) await pgQuery(postgres.url, `DROP SCHEMA IF EXISTS "${postgres.schema}" CASCADE`).catch(() => undefined);
    if (this.#dataDir) rmSync(this.#dataDir, { recursive: true, force: true });
    this.#dataDir = undefined;
    try {
      rmdirSync(BENCH_DATA_ROOT); // only when empty: another run may be using it
    } catch {
      // not empty, or already gone
    }
  }
}

class SpoolQueue implements BenchQueue {
  readonly #workers = new Set<Worker<BenchBody>>();

  constructor(
    readonly queue: Queue<BenchBody>,
    readonly onDelete: () => void,
  ) {}

  get name(): string {
    return this.queue.name;
  }

  async publishMany(bodies: readonly BenchBody[]): Promise<void> {
    await this.queue.publishMany(bodies.map((body) => ({ body })));
  }

  async publish(body: BenchBody): Promise<void> {
    await this.queue.publish(body);
  }

  async consume({ concurrency, onHandle }: ConsumeOptions): Promise<Consumer> {
    const handled = new Counter();
    const handler = onHandle ? (message: { body: BenchBody }) => void onHandle(message.body) : () => {};
    const worker = this.queue.work(handler, { concurrency });
    // message:completed fires once the ack is taken by the store.
    worker.on("message:completed", () => handled.increment());
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
    for (const worker of this.#workers) await worker.close();
    this.#workers.clear();
    await this.queue.delete();
    this.onDelete();
  }
}
