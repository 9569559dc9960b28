/**
 * The frames of `GET /v1/stream` (docs/batch-delivery.md, "Real-time protocol"): JSON text
 * frames, one object each, told apart by `type`.
 *
 *   server → client  ready · message · error · pong
 *   client → server  ack · read · ping
 */
import type { ErrorCode } from "../../core/errors.js";
import type { RenderedContent } from "../types.js";

/** Largest client frame in bytes; the socket is closed (1009) above it. */
export const MAX_CLIENT_FRAME_BYTES = 4096;
const MAX_ID_LENGTH = 128;

export type ClientFrame = { type: "ack"; id: string } | { type: "read"; id: string } | { type: "ping" };

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; message: string; id?: string };

/** Reads one client frame; anything that is not one of the three is refused with a reason. */
export function parseClientFrame(data: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, message: "frame is not JSON: expected {\"type\":\"ack\"|\"read\",\"id\":...} or {\"type\":\"ping\"}" };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { ok: false, message: `expected a JSON object, got ${describe(value)}` };
  const { type, id } = value as { type?: unknown; id?: unknown };
  if (type === "ping") return { ok: true, frame: { type: "ping" } };
  if (type !== "ack" && type !== "read") return { ok: false, message: `unknown frame type ${JSON.stringify(type)}: expected "ack", "read" or "ping"` };
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) {
    return { ok: false, message: `${type}: id must be a message id (a string of 1 to ${MAX_ID_LENGTH} characters), got ${describe(id)}` };
  }
  return { ok: true, frame: { type, id } };
}

/** The first frame on every connection, sent before any message. */
export function readyFrame(recipientId: string, ackTimeoutMs: number): string {
  return JSON.stringify({ type: "ready", recipientId, ackTimeoutMs });
}

export function messageFrame(id: string, batchId: string, content: RenderedContent, attempt: number): string {
  return JSON.stringify({ type: "message", id, batchId, content, attempt });
}

export function errorFrame(code: ErrorCode, message: string, id?: string): string {
  return JSON.stringify(id === undefined ? { type: "error", code, message } : { type: "error", code, message, id });
}

export const PONG_FRAME = JSON.stringify({ type: "pong" });

/** WebSocket close codes the server uses. */
export const CLOSE_CODES = {
  /** The server is shutting down: reconnect later (nothing is lost). */
  goingAway: 1001,
} as const;

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
