/**
 * Errors Node's HTTP server, Fastify and `ws` would answer by themselves, before any route runs:
 * Node's parser refusing a request (malformed, headers over the size limit, too slow), an
 * `Expect` header other than 100-continue, an HTTP/1.1 request without `Host`, a WebSocket
 * handshake `ws` refuses. Left alone they answer with their own bodies (or none); here they get
 * the error envelope like every other error.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ConnectionError, FastifyInstance } from "fastify";
import type { WebSocketServer } from "ws";
import { ValidationError, type ErrorCode } from "../core/errors.js";
import { errorBody } from "./http-errors.js";

/** A complete HTTP/1.1 error response that closes the connection, as text. */
function responseText(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): string {
  const body = JSON.stringify(errorBody(code, message));
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}`, "Content-Type: application/json; charset=utf-8", `Content-Length: ${Buffer.byteLength(body)}`, "Connection: close"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

/** What the client is told for each refusal of Node's parser; anything else is a malformed request. */
function describeClientError(code: string): { status: number; code: ErrorCode; message: string } {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, code: "too_large", message: `the request's headers (the URL included) are over the server's limit of ${http.maxHeaderSize} bytes` };
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return { status: 413, code: "too_large", message: "the request's chunk extensions are over the server's limit" };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { status: 408, code: "validation_failed", message: "the request did not arrive in time: send it again" };
    default:
      return { status: 400, code: "validation_failed", message: `malformed HTTP request (${code})` };
  }
}

/** Fastify's `clientErrorHandler`: Node's `clientError` event, bound to the Fastify instance. */
export function handleClientError(this: FastifyInstance, error: ConnectionError, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  this.log.debug({ err: error }, "refused a malformed request");
  // A response already under way (the client stalled mid-body) cannot be followed by another.
  const current = (socket as { _httpMessage?: ServerResponse })._httpMessage;
  if (socket.writable && current?.headersSent !== true) {
    const { status, code, message } = describeClientError(error.code);
    socket.write(responseText(status, code, message));
  }
  socket.destroy();
}

/**
 * Node answers a request whose `Expect` is not `100-continue` with a bare 417, unless someone
 * listens for it; the request goes no further either way.
 */
export function answerUnmetExpectations(server: http.Server): void {
  server.on("checkExpectation", (request: IncomingMessage, response: ServerResponse) => {
    const expectation = JSON.stringify(request.headers.expect ?? "");
    const body = JSON.stringify(errorBody("validation_failed", `unsupported Expect header ${expectation}: only 100-continue is supported`));
    response.writeHead(417, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body), connection: "close" });
    response.end(body);
  });
}

/** The `ws` server's handshake refusals (a missing or malformed `Sec-WebSocket-Key`, version…). */
export function answerRefusedUpgrades(websocketServer: WebSocketServer): void {
  websocketServer.on("wsClientError", (error, socket) => {
    if (socket.writable) socket.write(responseText(400, "validation_failed", `WebSocket handshake refused: ${error.message}`, { "Sec-WebSocket-Version": "13, 8" }));
    socket.destroy();
  });
}

/**
 * HTTP/1.1 requires a `Host` header. Node checks it before Fastify sees the request and answers a
 * bare 400; the server turns that check off (`http: { requireHostHeader: false }`) for this one.
 */
export function requireHostHeader(app: FastifyInstance): void {
  app.addHook("onRequest", async (request) => {
    const { httpVersionMajor, httpVersionMinor } = request.raw;
    if (httpVersionMajor === 1 && httpVersionMinor >= 1 && !request.headers.host) {
      throw new ValidationError("missing Host header: HTTP/1.1 requests must name the host", [{ path: "/headers/host", message: "missing" }]);
    }
  });
}
