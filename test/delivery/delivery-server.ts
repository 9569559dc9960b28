/**
 * Test helpers for batch delivery: `spool serve` (startServer, on the journal in a temp dir) with
 * fast retry settings, JSON calls, and a real local webhook target (node:http) whose answers each
 * test scripts per request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { serverDefaults, type ResolvedServerConfig } from "../../src/config/server-config.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import { pollUntil } from "../helpers/poll-until.js";

export const FAST_RETRIES = { backoff: { type: "fixed" as const, baseMs: 20, jitter: "none" as const }, maxAttempts: 3 };

export function serverConfig(dataDir: string, overrides: Partial<ResolvedServerConfig> = {}): ResolvedServerConfig {
  return {
    ...serverDefaults,
    port: 0,
    dataDir,
    logLevel: "silent",
    queues: { "delivery.webhook": FAST_RETRIES, "delivery.mock": FAST_RETRIES },
    ...overrides,
  };
}

export async function startDeliveryServer(dataDir: string, overrides: Partial<ResolvedServerConfig> = {}): Promise<RunningServer> {
  return startServer(serverConfig(dataDir, overrides));
}

export interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the route answered
  body: any;
}

export async function call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] ??= "application/json";
  }
  const response = await fetch(url + path, init);
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text) };
}

/** Polls GET /v1/batches/:id until the batch is complete; returns its summary. */
export async function waitForBatch(url: string, batchId: string, timeoutMs = 30_000): Promise<Answer["body"]> {
  return pollUntil(
    async () => {
      const answer = await call(url, "GET", `/v1/batches/${batchId}`);
      return answer.body?.completedAt !== undefined ? answer.body : undefined;
    },
    { timeoutMs, intervalMs: 10, what: `batch ${batchId} complete` },
  );
}

/** Every entry of a batch, following cursors. */
export async function allMessages(url: string, batchId: string, status?: string): Promise<Answer["body"][]> {
  const items = [];
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ limit: "1000" });
    if (cursor) query.set("cursor", cursor);
    if (status) query.set("status", status);
    const answer = await call(url, "GET", `/v1/batches/${batchId}/messages?${query}`);
    if (answer.status !== 200) throw new Error(`messages: ${answer.status} ${JSON.stringify(answer.body)}`);
    items.push(...answer.body.items);
    cursor = answer.body.nextCursor;
  } while (cursor);
  return items;
}

export interface TargetRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  json: { logId: string; batchId: string; recipientId: string; subject?: string; body: string };
  at: number;
}

export type Responder = (request: TargetRequest, res: ServerResponse) => void;

/** A webhook receiver on a free port; `respond` decides each answer (default 200). */
export interface WebhookTarget {
  url: string;
  host: string;
  requests: TargetRequest[];
  respond: Responder;
  close(): Promise<void>;
}

export async function startWebhookTarget(respond: Responder = (_req, res) => res.writeHead(200).end("ok")): Promise<WebhookTarget> {
  const target: Partial<WebhookTarget> & { requests: TargetRequest[]; respond: Responder } = { requests: [], respond };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const request: TargetRequest = { path: req.url ?? "/", headers: req.headers, body, json: JSON.parse(body) as TargetRequest["json"], at: Date.now() };
      target.requests.push(request);
      target.respond(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address !== "object") throw new Error("no port");
  target.url = `http://127.0.0.1:${address.port}`;
  target.host = `127.0.0.1:${address.port}`;
  target.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return target as WebhookTarget;
}
