/**
 * Wake-ups across processes: one dedicated connection LISTENs on the schema's channel. A
 * notification `q:<queue>` wakes that queue's local watchers; `d:<ms>` says something falls due
 * then, and is passed to `onDue` (the store arms its tick timer); `e:[…]` carries queue events. The connection is re-made when
 * it drops; since notifications sent meanwhile are lost, every watched queue is woken then (a
 * spurious wake-up is allowed, a missed one is not).
 */
import type pg from "pg";

export interface WakeupsOptions {
  connect: () => pg.Client;
  channel: string;
  onDue: (at: number) => void;
  /** Called after a lost connection is back (and once it is first up). */
  onReconnect: () => void;
  /** Reports a lost connection (the store marks itself unavailable until it is back). */
  onLost: (error: Error) => void;
  /** A notification `e:<json>`: queue events the database's triggers sent (event-feed.ts). */
  onEvents: (json: string) => void;
}

export class Wakeups {
  readonly #options: WakeupsOptions;
  readonly #watchers = new Map<string, Set<() => void>>();
  #client: pg.Client | undefined;
  #closed = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs = 100;
  /** Why the connection is down, while it is. */
  #lostBecause: Error | undefined;
  /** The ping in flight: probes that come while it runs share it, so a stalled connection does not queue them up. */
  #ping: Promise<void> | undefined;

  constructor(options: WakeupsOptions) {
    this.#options = options;
  }

  /** Connects and listens; rejects if the first connection fails. */
  async start(): Promise<void> {
    await this.#connect();
  }

  watch(queue: string, listener: () => void): () => void {
    let listeners = this.#watchers.get(queue);
    if (!listeners) this.#watchers.set(queue, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      const current = this.#watchers.get(queue);
      if (!current) return;
      current.delete(listener);
      if (current.size === 0) this.#watchers.delete(queue);
    };
  }

  /** Wakes `queue`'s watchers in this process, in a microtask (a watcher may call back into the store). */
  wake(queue: string): void {
    const listeners = this.#watchers.get(queue);
    if (!listeners) return;
    queueMicrotask(() => {
      for (const listener of [...listeners]) listener();
    });
  }

  wakeAll(): void {
    for (const queue of this.#watchers.keys()) this.wake(queue);
  }

  /**
   * One round trip (`SELECT 1`) on the wake-up connection, for readiness: it has a connection of
   * its own, so the answer never waits behind a busy pool. Rejects while the connection is down
   * (it is being re-made), or when the server does not answer within `timeoutMs`.
   */
  ping(timeoutMs: number): Promise<void> {
    const client = this.#client;
    if (!client) return Promise.reject(new Error(`the connection is down (${this.#lostBecause?.message ?? "connecting"})`));
    this.#ping ??= client.query("SELECT 1").then(
      () => void (this.#ping = undefined),
      (error: unknown) => {
        this.#ping = undefined;
        throw error;
      },
    );
    const ping = this.#ping;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not answer within ${timeoutMs} ms`)), timeoutMs);
      ping.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  /** Runs one statement on the wake-up connection, which never waits behind a busy pool; rejects while it is down. */
  query(text: string): Promise<unknown> {
    const client = this.#client;
    if (!client) return Promise.reject(new Error(`the connection is down (${this.#lostBecause?.message ?? "connecting"})`));
    return client.query(text);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<void> {
    const client = this.#options.connect();
    client.on("notification", (message) => this.#onNotification(message.payload));
    client.on("error", (error) => this.#lost(client, error));
    client.on("end", () => this.#lost(client, new Error("the wake-up connection ended")));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#options.channel}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#lostBecause = undefined;
    this.#retryMs = 100;
    this.#options.onReconnect();
  }

  #onNotification(payload: string | undefined): void {
    if (!payload) return;
    if (payload.startsWith("q:")) this.wake(payload.slice(2));
    else if (payload.startsWith("d:")) this.#options.onDue(Number(payload.slice(2)));
    else if (payload.startsWith("e:")) this.#options.onEvents(payload.slice(2));
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    this.#lostBecause = error;
    client.end().catch(() => {});
    this.#options.onLost(error);
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#connect().catch(() => {
        this.#retryMs = Math.min(this.#retryMs * 2, 5_000);
        this.#scheduleRetry();
      });
    }, this.#retryMs);
    this.#retryTimer.unref();
  }
}
