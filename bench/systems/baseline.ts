/**
 * The do-nothing baseline: an in-process FIFO with no store. Publishing encodes each body as
 * JSON and appends it; a consumer decodes, runs the handler and "acks" through one promise per
 * message, at most `concurrency` at a time. Its figures are the ceiling for one Node process
 * doing the least any queue must do, so they show how much of a system's cost is its own.
 */
import type { BenchBody } from "../lib/body.js";
import { Counter } from "../lib/counter.js";
import { forkReadyMemory } from "../lib/ready-memory.js";
import { SPOOL_SIZES } from "./spool.js";
import { uniqueName, type BenchQueue, type BenchSystem, type ConsumeOptions, type Consumer, type ReadyMemory, type SystemEntry } from "./system.js";

export function baselineSystem(name = "baseline"): SystemEntry {
  return { name, kind: "baseline", create: () => new BaselineSystem(name) };
}

class BaselineSystem implements BenchSystem {
  readonly kind = "baseline";
  readonly sizes = SPOOL_SIZES;
  readonly notes: string[] = [];

  constructor(readonly name: string) {}

  async setup(): Promise<void> {
    this.notes.push(`${this.name}: in-process FIFO, JSON encode/decode, one promise per message, no store`);
  }

  async createQueue(): Promise<BenchQueue> {
    return new BaselineQueue(uniqueName());
  }

  readyMemory(count: number): Promise<ReadyMemory> {
    return forkReadyMemory(this.name, count);
  }

  async teardown(): Promise<void> {}
}

/** A FIFO of encoded bodies in fixed-size chunks: O(1) push and shift, no array shifting. */
class ChunkedFifo {
  static readonly CHUNK = 4096;
  #head: string[] = [];
  #headIndex = 0;
  #chunks: string[][] = [this.#head];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: string): void {
    let tail = this.#chunks[this.#chunks.length - 1];
    if (tail.length === ChunkedFifo.CHUNK) this.#chunks.push((tail = []));
    tail.push(item);
    this.#size++;
  }

  shift(): string | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#head[this.#headIndex++];
    this.#size--;
    if (this.#headIndex === this.#head.length && this.#chunks.length > 1) {
      this.#chunks.shift(); // at most one per CHUNK items
      this.#head = this.#chunks[0];
      this.#headIndex = 0;
    }
    return item;
  }
}

class BaselineQueue implements BenchQueue {
  readonly #items = new ChunkedFifo();
  readonly #wakers = new Set<() => void>();

  constructor(readonly name: string) {}

  async publishMany(bodies: readonly BenchBody[]): Promise<void> {
    for (const body of bodies) this.#items.push(JSON.stringify(body));
    this.#wake();
  }

  async publish(body: BenchBody): Promise<void> {
    this.#items.push(JSON.stringify(body));
    this.#wake();
  }

  #wake(): void {
    for (const wake of this.#wakers) queueMicrotask(wake);
  }

  async consume({ concurrency, onHandle }: ConsumeOptions): Promise<Consumer> {
    const handled = new Counter();
    const items = this.#items;
    let running = 0;
    let closed = false;
    const handler = async (body: BenchBody) => onHandle?.(body);
    const pump = () => {
      while (!closed && running < concurrency && items.size > 0) {
        running++;
        const body = JSON.parse(items.shift() as string) as BenchBody;
        void handler(body).then(() => {
          running--;
          handled.increment();
          pump();
        });
      }
    };
    this.#wakers.add(pump);
    pump();
    return {
      handled,
      settled: (count) => handled.reach(count),
      close: async () => {
        closed = true;
        this.#wakers.delete(pump);
      },
    };
  }

  async delete(): Promise<void> {
    this.#wakers.clear();
  }
}
