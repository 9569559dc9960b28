/**
 * A real `spool serve` app (createApp) on a loopback port, around a library Spool the test also
 * holds. The HTTP layer can be stopped and started again on the same port while the Spool
 * stays open (a server that goes down and comes back), and every request is counted per route,
 * so a test can tell one bulk ack from a thousand single ones.
 */
import type { FastifyInstance } from "fastify";
import { ApiKeyRing, type ApiKeyConfig } from "../../src/auth/api-keys.js";
import { createApp } from "../../src/server/app.js";
import { Spool, SpoolClient, memoryStore, type SpoolClientOptions } from "../../src/index.js";

export interface RemoteServer {
  readonly spool: Spool;
  readonly url: string;
  /** Requests answered, by `METHOD route` (e.g. `POST /v1/acks`), since start. */
  readonly requests: Map<string, number>;
  count(route: string): number;
  /** A client of this server; closed by `close()`. */
  client(options?: Omit<SpoolClientOptions, "url">): SpoolClient;
  /** Stops the HTTP layer (long-polls end, the port closes); the Spool stays open. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  /** Closes the clients made here, the HTTP layer and the Spool. */
  close(): Promise<void>;
}

export async function startRemoteServer(options: { keys?: ApiKeyConfig[] } = {}): Promise<RemoteServer> {
  const spool = await Spool.open({ store: memoryStore() });
  const requests = new Map<string, number>();
  const clients: SpoolClient[] = [];
  let port = 0;
  let running: { app: FastifyInstance; shutdown: AbortController } | undefined;

  async function listen(): Promise<void> {
    const shutdown = new AbortController();
    const app = await createApp({
      spool,
      keys: options.keys ? new ApiKeyRing(options.keys) : undefined,
      shutdownSignal: shutdown.signal,
      metrics: {
        contentType: "text/plain",
        render: async () => "",
        httpRequest(method, route) {
          const key = `${method} ${route}`;
          requests.set(key, (requests.get(key) ?? 0) + 1);
        },
      },
    });
    await app.listen({ host: "127.0.0.1", port });
    const address = app.server.address();
    if (address === null || typeof address !== "object") throw new Error("the test server did not bind a port");
    port = address.port;
    running = { app, shutdown };
  }

  async function stop(): Promise<void> {
    if (!running) return;
    const { app, shutdown } = running;
    running = undefined;
    shutdown.abort(); // long-polls answer at once, so close() need not wait for them
    await app.close();
  }

  await listen();
  const url = `http://127.0.0.1:${port}`;
  return {
    spool,
    url,
    requests,
    count: (route) => requests.get(route) ?? 0,
    client(clientOptions = {}) {
      const client = new SpoolClient({ url, ...clientOptions });
      clients.push(client);
      return client;
    },
    stop,
    restart: listen,
    async close() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await stop();
      await spool.close();
    },
  };
}
