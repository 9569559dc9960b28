/**
 * A real `spool serve` app on a free loopback port, for end-to-end tests over real HTTP.
 * `call` sends JSON (or raw text with a chosen content type) and returns status + parsed body.
 */
import type { FastifyInstance } from "fastify";
import { ApiKeyRing, type ApiKeyConfig } from "../../src/auth/api-keys.js";
import { DeliveryService, type DeliveryServiceOptions } from "../../src/delivery/delivery-service.js";
import { createApp, type AppOptions } from "../../src/server/app.js";
import { Spool, memoryStore, type Store } from "../../src/index.js";

export interface TestServer {
  url: string;
  spool: Spool;
  /** Batch delivery, when the server was started with `delivery`. */
  delivery: DeliveryService | undefined;
  app: FastifyInstance;
  shutdown: AbortController;
  call(method: string, path: string, body?: unknown, options?: CallOptions): Promise<HttpAnswer>;
  close(): Promise<void>;
}

export interface CallOptions {
  headers?: Record<string, string>;
  /** Send `body` as this exact text (with `headers["content-type"]`), not as JSON. */
  raw?: boolean;
  key?: string;
  signal?: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the route answered
  body: any;
  text: string;
}

export async function startTestServer(
  options: {
    store?: Store;
    keys?: ApiKeyConfig[];
    bodyLimitBytes?: number;
    maxBodyBytes?: number;
    metrics?: (spool: Spool) => AppOptions["metrics"];
    /** Batch delivery (in memory) with these options: its routes, and the real-time ones. */
    delivery?: Omit<DeliveryServiceOptions, "spool" | "dataDir">;
    /** Where the built dashboard is (default: this checkout's dist/dashboard). */
    dashboardDir?: string;
  } = {},
): Promise<TestServer> {
  const spool = await Spool.open({ store: options.store ?? memoryStore(), ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}) });
  const shutdown = new AbortController();
  const delivery = options.delivery ? await DeliveryService.open({ ...options.delivery, spool }) : undefined;
  const app = await createApp({
    spool,
    delivery,
    keys: options.keys ? new ApiKeyRing(options.keys) : undefined,
    bodyLimitBytes: options.bodyLimitBytes,
    metrics: options.metrics?.(spool),
    shutdownSignal: shutdown.signal,
    dashboardDir: options.dashboardDir,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address !== "object") throw new Error("test server did not bind a port");
  const url = `http://127.0.0.1:${address.port}`;

  async function call(method: string, path: string, body?: unknown, callOptions: CallOptions = {}): Promise<HttpAnswer> {
    const headers: Record<string, string> = { ...callOptions.headers };
    if (callOptions.key !== undefined) headers.authorization = `Bearer ${callOptions.key}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = callOptions.raw ? String(body) : JSON.stringify(body);
      headers["content-type"] ??= "application/json";
    }
    const response = await fetch(url + path, { method, headers, body: payload, signal: callOptions.signal });
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text.length > 0 && (response.headers.get("content-type") ?? "").includes("json")) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed, text };
  }

  return {
    url,
    spool,
    delivery,
    app,
    shutdown,
    call,
    async close() {
      shutdown.abort();
      await app.close();
      await delivery?.close();
      await spool.close();
    },
  };
}
