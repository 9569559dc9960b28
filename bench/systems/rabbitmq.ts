/**
 * RabbitMQ through amqplib: durable classic queues, persistent messages, publisher confirms on a
 * confirm channel (publishMany waits for the batch's confirms), manual acks, prefetch =
 * concurrency. Every queue is deleted in teardown. The broker is BENCH_AMQP_URL (default
 * amqp://guest:guest@127.0.0.1:5672).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Channel, ChannelModel, ConfirmChannel } from "amqplib";
import type { BenchBody } from "../lib/body.js";
import { makeBodies } from "../lib/body.js";
import { Counter } from "../lib/counter.js";
import { packageVersion } from "../lib/package-version.js";
import { describeError, redactUrl } from "../lib/text.js";
import { withTimeout } from "../lib/stats.js";
import { uniqueName, type BenchQueue, type BenchSystem, type ConsumeOptions, type Consumer, type ReadyMemory, type Sizes, type SystemEntry } from "./system.js";
import { PEER_BACKLOG } from "./sizes.js";

const SIZES: Sizes = { publishMany: 100_000, endToEnd: { 1: 5_000, 64: 20_000 }, readyMemory: 100_000, repeats: 1, backlog: PEER_BACKLOG };
const PERSISTENT = { persistent: true } as const;

export function rabbitmqSystem(name = "rabbitmq"): SystemEntry {
  return { name, kind: "peer", create: () => new RabbitmqSystem(name) };
}

class RabbitmqSystem implements BenchSystem {
  readonly kind = "peer";
  readonly sizes = SIZES;
  readonly notes: string[] = [];
  readonly #url = process.env.BENCH_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
  #connection: ChannelModel | undefined;
  /** Consumers get their own connection, as RabbitMQ advises (flow control throttles publishers per connection). */
  #consumerConnection: ChannelModel | undefined;
  /** The publishing channel, shared by every queue (confirms are per channel). */
  #confirm: ConfirmChannel | undefined;
  readonly #queues = new Set<RabbitmqQueue>();
  /** A channel or connection error, if one happened: the next call reports it. */
  #failure: Error | undefined;

  constructor(readonly name: string) {}

  async setup(): Promise<void> {
    const amqp = await import("amqplib");
    const connection = await withTimeout(amqp.connect(this.#url, { timeout: 3_000 }), 5_000, `connecting to ${redactUrl(this.#url)}`).catch(
      (error: unknown) => {
        throw new Error(`${describeError(error)} (${redactUrl(this.#url)})`);
      },
    );
    connection.on("error", (error: Error) => (this.#failure = error));
    this.#connection = connection;
    this.#consumerConnection = await amqp.connect(this.#url, { timeout: 3_000 });
    this.#consumerConnection.on("error", (error: Error) => (this.#failure = error));
    this.#confirm = await connection.createConfirmChannel();
    this.#confirm.on("error", (error: Error) => (this.#failure = error));
    const server = connection.connection.serverProperties;
    this.notes.push(
      `${this.name}: amqplib ${packageVersion("amqplib")}, ${server.product ?? "broker"} ${server.version ?? "?"} at ${redactUrl(this.#url)}, ` +
        "durable classic queues, persistent messages, publisher confirms per batch, manual acks, prefetch = concurrency",
    );
  }

  async createQueue(): Promise<BenchQueue> {
    const connection = this.#consumerConnection;
    const confirm = this.#confirm;
    if (!connection || !confirm) throw new Error("setup() first");
    const name = uniqueName();
    await confirm.assertQueue(name, { durable: true });
    const queue = new RabbitmqQueue(connection, confirm, name, () => this.#failure, () => this.#queues.delete(queue));
    this.#queues.add(queue);
    return queue;
  }

  async readyMemory(count: number): Promise<ReadyMemory> {
    const queue = await this.createQueue();
    try {
      const before = await queueMemory(queue.name);
      for (let from = 0; from < count; from += 1_000) await queue.publishMany(makeBodies(Math.min(1_000, count - from), from));
      const after = await queueMemory(queue.name);
      return { addedBytes: after - before, where: "RabbitMQ queue process memory (rabbitmqctl)", comparable: true };
    } finally {
      await queue.delete();
    }
  }

  async teardown(): Promise<void> {
    for (const queue of this.#queues) await queue.delete().catch(() => undefined);
    await this.#consumerConnection?.close().catch(() => undefined);
    await this.#connection?.close().catch(() => undefined);
    this.#consumerConnection = undefined;
    this.#connection = undefined;
    this.#confirm = undefined;
  }
}

/** The memory of one queue's process, as `rabbitmqctl list_queues` reports it (local broker only). */
async function queueMemory(queue: string): Promise<number> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)("rabbitmqctl", ["list_queues", "-q", "--formatter", "json", "name", "memory"], { timeout: 30_000 }));
  } catch (error) {
    throw new Error(`rabbitmqctl list_queues failed (${describeError(error)}): queue memory needs the broker's CLI on this machine`);
  }
  const rows = JSON.parse(stdout) as Array<{ name: string; memory: number }>;
  const row = rows.find((r) => r.name === queue);
  if (!row) throw new Error(`rabbitmqctl did not list queue ${queue}`);
  return row.memory;
}

class RabbitmqQueue implements BenchQueue {
  readonly #consumers = new Set<Channel>();

  constructor(
    /** The consumers' connection. */
    readonly connection: ChannelModel,
    readonly confirm: ConfirmChannel,
    readonly name: string,
    readonly failure: () => Error | undefined,
    readonly onDelete: () => void,
  ) {}

  async publishMany(bodies: readonly BenchBody[]): Promise<void> {
    const channel = this.confirm;
    for (const body of bodies) {
      // false = the socket buffer is full: let it drain before writing more.
      if (!channel.sendToQueue(this.name, Buffer.from(JSON.stringify(body)), PERSISTENT)) {
        await new Promise((resolve) => channel.once("drain", resolve));
      }
    }
    await channel.waitForConfirms();
    this.#check();
  }

  publish(body: BenchBody): Promise<void> {
    return new Promise((resolve, reject) => {
      this.confirm.sendToQueue(this.name, Buffer.from(JSON.stringify(body)), PERSISTENT, (error: unknown) =>
        error ? reject(error instanceof Error ? error : new Error(`broker nacked the message: ${String(error)}`)) : resolve(),
      );
    });
  }

  async consume({ concurrency, onHandle }: ConsumeOptions): Promise<Consumer> {
    const handled = new Counter();
    const channel = await this.connection.createChannel();
    channel.on("error", () => {});
    await channel.prefetch(concurrency);
    const handler = async (body: BenchBody) => onHandle?.(body);
    const { consumerTag } = await channel.consume(
      this.name,
      (message) => {
        if (!message) return;
        void handler(JSON.parse(message.content.toString()) as BenchBody).then(() => {
          channel.ack(message);
          handled.increment();
        });
      },
      { noAck: false },
    );
    this.#consumers.add(channel);
    return {
      handled,
      // amqplib's ack is a frame with no reply: it is settled once sent.
      settled: (count) => handled.reach(count),
      close: async () => {
        this.#consumers.delete(channel);
        await channel.cancel(consumerTag).catch(() => undefined);
        await channel.close().catch(() => undefined);
      },
    };
  }

  #check(): void {
    const failure = this.failure();
    if (failure) throw failure;
  }

  async delete(): Promise<void> {
    for (const channel of this.#consumers) await channel.close().catch(() => undefined);
    this.#consumers.clear();
    await this.confirm.deleteQueue(this.name);
    this.onDelete();
  }
}
