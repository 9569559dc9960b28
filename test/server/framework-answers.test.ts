/**
 * What the whole `spool serve` (batch and real-time delivery included) answers where the
 * framework, Node's HTTP server or the WebSocket handshake would otherwise answer by itself:
 * JSON nested too deep on every route that reads a body (NDJSON lines included), headers over
 * the size limit, malformed requests, `Expect` headers, bad upgrades, and `HEAD` on every GET
 * route, the event stream included. Every error carries the envelope; nothing answers 500.
 */
import net from "node:net";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server/serve.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { call, startDeliveryServer } from "../delivery/delivery-server.js";

/** Deepest nesting of arrays and objects a JSON request body may have (docs/http-api.md). */
const MAX_JSON_DEPTH = 128;
const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

let dir: string;
let server: RunningServer;
let port: number;

beforeAll(async () => {
  dir = await makeTempDir("spool-framework-");
  server = await startDeliveryServer(dir);
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server?.close();
  await removeTempDir(dir);
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `text` as it is over a fresh connection and reads until the server closes it: each
 * request asks for `Connection: close` (or is one the server must close), so a response that
 * never ends shows up as a test timeout, not as a pass.
 */
function rawRequest(text: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1", () => socket.write(text));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => undefined); // a reset after the answer: what arrived is what counts
    socket.on("close", () => {
      const received = Buffer.concat(chunks).toString("utf8");
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) return reject(new Error(`no complete answer: ${JSON.stringify(received.slice(0, 200))}`));
      const [statusLine, ...lines] = received.slice(0, end).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: received.slice(end + 4) });
    });
  });
}

/** The error envelope and nothing else, as JSON. */
function expectEnvelope(answer: RawAnswer, status: number, code: string, message: RegExp): void {
  expect(answer.status, answer.body).toBe(status);
  expect(answer.headers["content-type"]).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as { error: { code: string; message: string } };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(message);
}

const tooDeep = new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`);

describe("JSON nested too deep, on the delivery routes", () => {
  const routes: Array<[string, string]> = [
    ["PUT", "/v1/templates/welcome"],
    ["POST", "/v1/batches"],
    ["POST", "/v1/recipients/alice/token"],
    ["POST", "/v1/messages/01ZZZZZZZZZZZZZZZZZZZZZZZZ/delivered"],
    ["POST", "/v1/messages/01ZZZZZZZZZZZZZZZZZZZZZZZZ/read"],
  ];
  it.each(routes)("%s %s: 400 naming the limit, for one level over it and for 20,000", async (method, path) => {
    for (const text of [nested(MAX_JSON_DEPTH + 1), `{"a":${nested(20_000)}}`]) {
      const answer = await call(server.url, method, path, text);
      expect(answer.status, JSON.stringify(answer.body)).toBe(400);
      expect(answer.body.error.code).toBe("validation_failed");
      expect(answer.body.error.message).toMatch(tooDeep);
    }
  });

  it("POST /v1/messages/:id/read with a recipient token: the same 400", async () => {
    const { body: token } = await call(server.url, "POST", "/v1/recipients/alice/token", {});
    const answer = await call(server.url, "POST", "/v1/messages/01ZZZZZZZZZZZZZZZZZZZZZZZZ/read", `{"a":${nested(20_000)}}`, { authorization: `Bearer ${token.token}` });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(tooDeep);
  });

  it("an NDJSON batch: a header line or a recipient line nested too deep is a 400, and no batch is created", async () => {
    const header = JSON.stringify({ channel: "mock", template: { body: "Hi {{name}}" } });
    const deepHeader = `{"channel":"mock","template":{"body":"x"},"mock":${nested(20_000)}}`;
    const refusedHeader = await call(server.url, "POST", "/v1/batches", `${deepHeader}\n{"id":"a"}\n`, { "content-type": "application/x-ndjson" });
    expect(refusedHeader.status, JSON.stringify(refusedHeader.body)).toBe(400);
    expect(refusedHeader.body.error.message).toMatch(tooDeep);

    const deepRecipient = `{"id":"b","vars":{"name":${nested(20_000)}}}`;
    const refusedLine = await call(server.url, "POST", "/v1/batches", `${header}\n{"id":"a","vars":{"name":"A"}}\n${deepRecipient}\n`, { "content-type": "application/x-ndjson" });
    expect(refusedLine.status, JSON.stringify(refusedLine.body)).toBe(400);
    expect(refusedLine.body.error.details).toEqual([{ path: "/recipients/1", message: expect.stringMatching(tooDeep) }]);

    const stats = await call(server.url, "GET", "/v1/stats/messages");
    expect(stats.body.batches).toEqual([]);
  });
});

describe("answers Node's HTTP server would write by itself carry the envelope", () => {
  it("headers over the size limit: 431 too_large", async () => {
    const answer = await rawRequest(`GET /v1/queues HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(17 * 1024)}\r\n\r\n`);
    expectEnvelope(answer, 431, "too_large", /header/);
  });

  it("a URL over the header size limit: 431 too_large", async () => {
    const answer = await rawRequest(`GET /v1/queues/${"q".repeat(17 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expectEnvelope(answer, 431, "too_large", /header/);
  });

  it("a malformed request line, version or chunked body: 400 validation_failed", async () => {
    for (const text of [
      "GARBAGE\r\n\r\n",
      "GET /v1/queues HTTP/9.9\r\nHost: x\r\n\r\n",
      "GET /v1/queues HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "POST /v1/queues/a/pause HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n",
    ]) {
      expectEnvelope(await rawRequest(text), 400, "validation_failed", /malformed HTTP request/);
    }
  });

  it("an HTTP/1.1 request without a Host header: 400 validation_failed", async () => {
    const answer = await rawRequest("GET /v1/queues HTTP/1.1\r\nConnection: close\r\n\r\n");
    expectEnvelope(answer, 400, "validation_failed", /Host/);
  });

  it("an Expect header other than 100-continue: 417", async () => {
    const answer = await rawRequest("GET /v1/queues HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nConnection: close\r\n\r\n");
    expectEnvelope(answer, 417, "validation_failed", /Expect/);
  });

  it("a request that did not arrive in time: 408", async () => {
    // Node raises this after its headersTimeout (a minute): hand the server the same event.
    const socket = new PassThrough();
    const written: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => written.push(chunk));
    const timeout = Object.assign(new Error("Request timeout"), { code: "ERR_HTTP_REQUEST_TIMEOUT" });
    server.app.server.emit("clientError", timeout, socket);
    const text = Buffer.concat(written).toString("utf8");
    const [head, body] = text.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 408 /);
    expect(head.toLowerCase()).toContain("content-type: application/json");
    expect(JSON.parse(body)).toEqual({ error: { code: "validation_failed", message: expect.stringMatching(/in time/) } });
    expect(socket.destroyed).toBe(true);
  });

  it("a WebSocket upgrade the handshake refuses: 400 validation_failed", async () => {
    const { body: token } = await call(server.url, "POST", "/v1/recipients/alice/token", {});
    const answer = await rawRequest(
      `GET /v1/stream?token=${token.token} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: not-a-key\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    expectEnvelope(answer, 400, "validation_failed", /Sec-WebSocket-Key/);
  });
});

describe("HEAD", () => {
  it.each(["/v1/events", "/v1/stats/stream"])("on the event stream %s: 200 with the stream's headers, no body, and the response ends", async (path) => {
    const answer = await rawRequest(`HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("text/event-stream");
    expect(answer.body).toBe("");
  });

  it("on every GET route: the GET's status and headers, no body, and the response ends", async () => {
    const openapi = await call(server.url, "GET", "/openapi.json");
    const paths = Object.entries(openapi.body.paths as Record<string, Record<string, unknown>>)
      // The event streams never end on a GET: their HEAD is the test above.
      .filter(([path, operations]) => "get" in operations && path !== "/v1/events" && path !== "/v1/stats/stream")
      .map(([path]) => path.replace("{q}", "delivery.mock").replace(/\{\w+\}/g, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"));
    expect(paths.length).toBeGreaterThan(10);
    for (const path of [...paths, "/openapi.json", "/docs", "/metrics", "/", "/assets/main.js", "/no/such/route"]) {
      const get = await rawRequest(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const head = await rawRequest(`HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect({ path, status: head.status, type: head.headers["content-type"], body: head.body }).toEqual({ path, status: get.status, type: get.headers["content-type"], body: "" });
    }
  });
});
