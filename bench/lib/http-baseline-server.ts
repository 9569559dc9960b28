/**
 * The do-nothing HTTP baseline for the http scenario: the four routes the load generator calls,
 * answered by bare node:http from an in-memory FIFO, with no framework, no validation, no store
 * and no auth. Like the in-process baseline, its figures are the ceiling for the client, HTTP and
 * JSON alone, so they show how much of `spool serve`'s cost is its own.
 *
 * Run as a child process (bench/lib/server-child.ts): listens on a free loopback port and prints
 * "listening on <url>" on stderr.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

interface Stored {
  id: string;
  body: unknown;
  publishedAt: number;
}

/** An array read from a moving head: O(1) take, compacted once drained. */
class Fifo {
  #items: Stored[] = [];
  #head = 0;

  push(item: Stored): void {
    this.#items.push(item);
  }

  take(max: number): Stored[] {
    const taken = this.#items.slice(this.#head, this.#head + max);
    this.#head += taken.length;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    return taken;
  }
}

const queues = new Map<string, Fifo>();
let nextId = 0;

function queue(name: string): Fifo {
  let fifo = queues.get(name);
  if (!fifo) queues.set(name, (fifo = new Fifo()));
  return fifo;
}

function send(response: ServerResponse, status: number, payload?: unknown): void {
  if (payload === undefined) {
    response.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(payload);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a baseline trusts its one client
function route(method: string, path: string, input: any, response: ServerResponse): void {
  let match: RegExpExecArray | null;
  if (method === "POST" && (match = /^\/v1\/queues\/([^/]+)\/messages\/batch$/.exec(path))) {
    const fifo = queue(decodeURIComponent(match[1]));
    const now = Date.now();
    const results = (input.messages as Array<{ body: unknown }>).map((item) => {
      const id = String(++nextId);
      fifo.push({ id, body: item.body, publishedAt: now });
      return { id, replaced: false, duplicate: false };
    });
    return send(response, 201, { results });
  }
  if (method === "POST" && (match = /^\/v1\/queues\/([^/]+)\/lease$/.exec(path))) {
    const name = decodeURIComponent(match[1]);
    const now = Date.now();
    const messages = queue(name)
      .take(input.max ?? 1)
      .map((m) => ({
        id: m.id, queue: name, body: m.body, headers: {}, priority: 0, attempt: 1, maxAttempts: 5,
        publishedAt: m.publishedAt, availableAt: m.publishedAt, leaseToken: `t${m.id}`, leaseUntil: now + 30_000,
      }));
    return send(response, 200, { messages });
  }
  if (method === "POST" && path === "/v1/acks") {
    return send(response, 200, { results: (input.acks as Array<{ id: string }>).map((ack) => ({ id: ack.id, ok: true })) });
  }
  if (method === "DELETE" && (match = /^\/v1\/queues\/([^/]+)$/.exec(path))) {
    queues.delete(decodeURIComponent(match[1]));
    return send(response, 204);
  }
  send(response, 404, { error: { code: "not_found", message: `${method} ${path}: not a baseline route` } });
}

const server = createServer((request: IncomingMessage, response: ServerResponse) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const text = Buffer.concat(chunks).toString("utf8");
    route(request.method ?? "GET", (request.url ?? "/").split("?")[0], text === "" ? {} : JSON.parse(text), response);
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as { port: number };
  process.stderr.write(`listening on http://127.0.0.1:${port}\n`);
});
process.once("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
