/**
 * A real server for the real-time tests: Spool on the memory store, the real delivery service
 * (message log, expander), the websocket channel worker, the hub and the realtime routes, on a
 * free loopback port — and a WebSocket test client that waits for frames with promises.
 */
import type { FastifyInstance } from "fastify";
import WebSocket from "ws";
import { hashApiKey, type ApiKeyConfig } from "../../../src/auth/api-keys.js";
import { ApiKeyRing } from "../../../src/auth/api-keys.js";
import { startWebsocketWorker } from "../../../src/delivery/channels/websocket.js";
import { DeliveryService } from "../../../src/delivery/delivery-service.js";
import { ConnectionHub } from "../../../src/delivery/realtime/connection-hub.js";
import { RecipientTokens } from "../../../src/delivery/realtime/recipient-tokens.js";
import type { MessageLogEntry } from "../../../src/delivery/types.js";
import { Spool, memoryStore } from "../../../src/index.js";
import { createApp } from "../../../src/server/app.js";
import { pollUntil } from "../../helpers/poll-until.js";

export const SECRET = "realtime-test-secret-0123456789";
export const KEYS = { admin: "admin-key-0001", consume: "consume-key-0001", publish: "publish-key-0001" } as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- frames are whatever the server sent
export type Frame = any;

export interface RealtimeServer {
  url: string;
  wsUrl: string;
  app: FastifyInstance;
  spool: Spool;
  delivery: DeliveryService;
  hub: ConnectionHub;
  tokens: RecipientTokens;
  /** A batch on the websocket channel, one message per recipient id (repeats allowed); resolves with its log ids once expanded. */
  send(recipients: string[], body?: string): Promise<string[]>;
  /** Resolves once every delivery.websocket job has been handled. */
  drained(): Promise<void>;
  entry(logId: string): MessageLogEntry;
  waitForStatus(logId: string, status: string): Promise<void>;
  token(recipientId: string): string;
  connect(token: string, query?: string, headers?: Record<string, string>): Promise<TestClient>;
  refused(token: string | undefined, query?: string, headers?: Record<string, string>): Promise<{ status: number; body: Frame }>;
  call(method: string, path: string, key?: string, body?: unknown): Promise<{ status: number; body: Frame }>;
  close(): Promise<void>;
}

export async function startRealtimeServer(options: { ackTimeoutMs?: number } = {}): Promise<RealtimeServer> {
  const spool = await Spool.open({ store: memoryStore() });
  // This server runs its own hub (short grace) and websocket worker; the service's own stay off.
  const delivery = await DeliveryService.open({ spool, workers: false });
  const hub = new ConnectionHub({ log: delivery.log, ackTimeoutMs: options.ackTimeoutMs ?? 60_000, closeGraceMs: 500 });
  const tokens = new RecipientTokens(SECRET);
  const worker = startWebsocketWorker(spool, { log: delivery.log, hub });
  const keys: ApiKeyConfig[] = [
    { name: "admin", hash: hashApiKey(KEYS.admin), scopes: ["admin"] },
    { name: "consume", hash: hashApiKey(KEYS.consume), scopes: ["consume"] },
    { name: "publish", hash: hashApiKey(KEYS.publish), scopes: ["publish"] },
  ];
  const app = await createApp({ spool, keys: new ApiKeyRing(keys), realtime: { hub, log: delivery.log, tokens } });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address !== "object") throw new Error("no port");
  const url = `http://127.0.0.1:${address.port}`;
  const wsUrl = `ws://127.0.0.1:${address.port}/v1/stream`;
  let batches = 0;
  const clients = new Set<TestClient>();

  const server: RealtimeServer = {
    url,
    wsUrl,
    app,
    spool,
    delivery,
    hub,
    tokens,
    async send(recipients, body = "hello {{name}}") {
      const accepted = await delivery.createBatch({
        template: { body },
        recipients: recipients.map((id) => ({ id, vars: { name: id } })),
        channel: "websocket",
        idempotencyKey: `b${++batches}-${Date.now()}`,
      });
      await delivery.expanded();
      return recipients.map((_, index) => `${accepted.batchId}_${index}`);
    },
    async drained() {
      await pollUntil(async () => {
        const stats = await spool.queue("delivery.websocket").stats();
        return stats.ready + stats.leased + stats.delayed === 0;
      }, { what: "delivery.websocket drained" });
    },
    entry(logId) {
      const entry = delivery.log.get(logId);
      if (!entry) throw new Error(`no entry ${logId}`);
      return entry;
    },
    async waitForStatus(logId, status) {
      await pollUntil(() => delivery.log.get(logId)?.status === status, { what: `${logId} ${status}` });
    },
    token: (recipientId) => tokens.issue(recipientId).token,
    async connect(token, query = "", headers = {}) {
      const client = await TestClient.open(`${wsUrl}?token=${encodeURIComponent(token)}${query}`, headers);
      clients.add(client);
      return client;
    },
    refused(token, query = "", headers = {}) {
      const target = token === undefined ? `${wsUrl}${query ? `?${query.slice(1)}` : ""}` : `${wsUrl}?token=${encodeURIComponent(token)}${query}`;
      return refusedUpgrade(target, headers);
    },
    async call(method, path, key, body) {
      const headers: Record<string, string> = {};
      if (key !== undefined) headers.authorization = `Bearer ${key}`;
      if (body !== undefined) headers["content-type"] = "application/json";
      const response = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    async close() {
      for (const client of clients) client.terminate();
      await app.close();
      await worker.close();
      await delivery.close();
      await spool.close();
    },
  };
  return server;
}

/** A `ws` client that records every frame and hands them out through promises. */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #waiters = new Set<{ test: (frames: Frame[]) => boolean; resolve: () => void }>();

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      this.frames.push(JSON.parse(data.toString()));
      for (const waiter of this.#waiters) {
        if (waiter.test(this.frames)) {
          this.#waiters.delete(waiter);
          waiter.resolve();
        }
      }
    });
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Opens and waits for the `ready` frame. */
  static async open(url: string, headers: Record<string, string>): Promise<TestClient> {
    const ws = new WebSocket(url, { headers });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    });
    await client.until((frames) => frames.some((f) => f.type === "ready"), "ready");
    return client;
  }

  messages(): Frame[] {
    return this.frames.filter((f) => f.type === "message");
  }

  /** Resolves once `test(frames)` holds; fails (not waits forever) after `timeoutMs`. */
  until(test: (frames: Frame[]) => boolean, what: string, timeoutMs = 5000): Promise<void> {
    if (test(this.frames)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`no ${what} within ${timeoutMs} ms; frames: ${JSON.stringify(this.frames)}`));
      }, timeoutMs);
      const waiter = {
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.add(waiter);
    });
  }

  /** Waits until `count` message frames (optionally for `id`) have arrived. */
  messagesArrived(count: number, id?: string): Promise<void> {
    return this.until((frames) => frames.filter((f) => f.type === "message" && (id === undefined || f.id === id)).length >= count, `${count} message(s)${id ? ` for ${id}` : ""}`);
  }

  send(frame: object): void {
    this.ws.send(JSON.stringify(frame));
  }

  ack(id: string): void {
    this.send({ type: "ack", id });
  }

  terminate(): void {
    this.ws.terminate();
  }

  async close(): Promise<void> {
    this.ws.close(1000);
    await this.closed;
  }
}

function refusedUpgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: Frame }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once("open", () => {
      ws.terminate();
      reject(new Error("the upgrade was accepted"));
    });
    ws.once("unexpected-response", (_request, response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => {
        ws.terminate();
        resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    ws.once("error", (error) => reject(error));
  });
}
