/**
 * Spool in this process, on any store: `spoolSystem("spool-journal-always", ({ dataDir }) =>
 * journalStore({ dataDir, fsync: "always" }))` is all a new store needs.
 */
import { mkdirSync, mkdtempSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { JournalStore, Spool, type Queue, type Store, type Worker } from "../../src/index.js";
import type { BenchBody } from "../lib/body.js";
import { Counter } from "../lib/counter.js";
import { forkReadyMemory } from "../lib/ready-memory.js";
import { uniqueName, type BenchQueue, type BenchSystem, type ConsumeOptions, type Consumer, type ReadyMemory, type Reopen, type Sizes, type SystemEntry } from "./system.js";

export interface StoreContext {
  /** A fresh, empty directory for this Spool (under BENCH_DATA_DIR or <repo>/.bench-data); removed afterwards. */
  dataDir: string;
}

/** On the project's own disk (not a tmpfs), so fsync costs what it costs. */
export const BENCH_DATA_ROOT = process.env.BENCH_DATA_DIR ?? fileURLToPath(new URL("../../.bench-data/", import.meta.url));

export type StoreFactory = (context: StoreContext) => Store;

export const SPOOL_SIZES: Sizes = {
  publishMany: 100_000,
  endToEnd: { 1: 20_000, 64: 100_000 },
  readyMemory: 1_000_000,
  repeats: 3,
};

export interface SpoolSystemOptions {
  sizes?: Sizes;
  /** The `spool serve` flags that put the same store behind HTTP (the http scenario runs only with them). */
  serveFlags?: readonly string[];
}

export function spoolSystem(name: string, createStore: StoreFactory, { sizes = SPOOL_SIZES, serveFlags }: SpoolSystemOptions = {}): SystemEntry {
  return { name, kind: "spool", create: () => new SpoolSystem(name, createStore, sizes, serveFlags) };
}

class SpoolSystem implements BenchSystem {
  readonly kind = "spool";
  readonly notes: string[] = [];
  #spool: Spool | undefined;
  #dataDir: string | undefined;
  readonly #queues = new Set<SpoolQueue>();

  constructor(
    readonly name: string,
    readonly createStore: StoreFactory,
    readonly sizes: Sizes,
    readonly serveFlags: readonly string[] | undefined,
  ) {}

  async setup(): Promise<void> {
    mkdirSync(BENCH_DATA_ROOT, { recursive: true });
    this.#dataDir = mkdtempSync(join(BENCH_DATA_ROOT, `${this.name}-`));
    const store = this.createStore({ dataDir: this.#dataDir });
    this.#spool = await Spool.open({ store });
    if (store instanceof JournalStore) {
      this.snapshot = () => this.#snapshot();
      this.reopen = () => this.#reopen();
    }
    this.notes.push(`${this.name}: Spool in this process, store "${store.name}"${store.name === "memory" ? "" : `, data in ${BENCH_DATA_ROOT}`}`);
  }

  async createQueue(): Promise<BenchQueue> {
    if (!this.#spool) throw new Error("setup() first");
    const queue = new SpoolQueue(this.#spool.queue<BenchBody>(uniqueName()), () => this.#queues.delete(queue));
    this.#queues.add(queue);
    return queue;
  }

  readyMemory(count: number): Promise<ReadyMemory> {
    return forkReadyMemory(this.name, count);
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
    for (const queue of this.#queues) await queue.delete().catch(() => undefined);
    await this.#spool?.close().catch(() => undefined);
    this.#spool = undefined;
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
