/**
 * The webhook channel: one signed HTTP POST per message.
 *
 *   body     JSON `{logId, batchId, recipientId, subject?, body}`
 *   headers  `X-Spool-Timestamp: <ms>`, `X-Spool-Signature: sha256=<hex HMAC-SHA256 of
 *            "<timestamp>.<raw body>">` (when a secret is configured), `X-Spool-Message-Id: <logId>`
 *   outcome  2xx → sent; 408, 429, 5xx, a timeout or a connection error → retryable (with the
 *            `Retry-After` pause when given, seconds or an HTTP date); any other status →
 *            permanent. Redirects are not followed (a 3xx is permanent: fix the URL).
 *   host     a retryable failure is a host fault for the host's circuit, except a 429 with a
 *            `Retry-After`: that is the host's own pacing (channel.ts, SendOutcome.host).
 */
import { createHmac } from "node:crypto";
import type { RenderedContent } from "../types.js";
import type { SendOutcome } from "./channel.js";

/** What one request carries: the job's ids and its message, rendered. */
export interface WebhookMessage {
  logId: string;
  batchId: string;
  recipientId: string;
  content: RenderedContent;
}

export interface WebhookRequest {
  url: string;
  secret?: string;
  timeoutMs: number;
}

/** Longest `Retry-After` honoured; a longer one is capped to this. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

function webhookPayload(message: WebhookMessage): string {
  const payload: Record<string, string> = { logId: message.logId, batchId: message.batchId, recipientId: message.recipientId };
  if (message.content.subject !== undefined) payload.subject = message.content.subject;
  payload.body = message.content.body;
  return JSON.stringify(payload);
}

/** `sha256=<hex>` over `"<timestamp>.<body>"`: what a receiver recomputes to check a request. */
function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** `Retry-After` as a pause in ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

export async function sendWebhook(message: WebhookMessage, request: WebhookRequest, signal?: AbortSignal): Promise<SendOutcome> {
  const body = webhookPayload(message);
  const timestamp = String(Date.now());
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-spool-timestamp": timestamp,
    "x-spool-message-id": message.logId,
  };
  if (request.secret !== undefined) headers["x-spool-signature"] = signWebhook(request.secret, timestamp, body);
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(request.url, { method: "POST", headers, body, signal: combined, redirect: "manual" });
    // The answer's body is not used; reading it frees the connection for the next request.
    await response.arrayBuffer().catch(() => undefined);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timeout.aborted) return { ok: false, retryable: true, host: "fault", error: `webhook ${request.url}: no answer within ${request.timeoutMs} ms` };
    return { ok: false, retryable: true, host: "fault", error: `webhook ${request.url}: ${describeNetworkError(error)}` };
  }
  const status = response.status;
  if (status >= 200 && status < 300) return { ok: true };
  const error = `webhook ${request.url}: HTTP ${status}`;
  if (status !== 408 && status !== 429 && status < 500) return { ok: false, retryable: false, error };
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
  if (retryAfterMs === undefined) return { ok: false, retryable: true, host: "fault", error };
  // A 429 that says when to come back is the host pacing us, not failing; a 5xx or 408 that does is still down.
  return { ok: false, retryable: true, host: status === 429 ? "pacing" : "fault", error, retryAfterMs };
}

function describeNetworkError(error: unknown): string {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return `${code} ${current.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
