/**
 * JSON over HTTP to `spool serve`, with Node's built-in fetch. Its pooled dispatcher keeps
 * connections alive between requests, so a busy worker reuses a few sockets instead of opening
 * one per call. Failures come back as the library's errors: the server's error envelope through
 * `errorFromResponse`, and a refused connection or a missed deadline as `unavailable`.
 */
import { UnavailableError, ValidationError } from "../core/errors.js";
import { errorFromResponse, unreachable } from "./remote-errors.js";

export interface RequestOptions {
  /** Sent as JSON. */
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** The caller's cancellation: the request rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Added to the client's timeout, for a request the server may hold (a long-poll's waitMs). */
  extraTimeoutMs?: number;
}

export class HttpTransport {
  readonly #base: string;
  readonly #timeoutMs: number;
  readonly #headers: Record<string, string>;
  readonly #jsonHeaders: Record<string, string>;
  #closed = false;

  constructor(url: string, apiKey: string | undefined, timeoutMs: number) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ValidationError(`SpoolClient: url must be an absolute http(s) URL, got ${JSON.stringify(url)}`, [{ path: "/url", message: "expected a URL" }]);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new ValidationError(`SpoolClient: url must use http or https, got ${JSON.stringify(parsed.protocol)}`, [{ path: "/url", message: "expected http(s)" }]);
    }
    this.#base = parsed.href.replace(/\/+$/, "");
    this.#timeoutMs = timeoutMs;
    this.#headers = { accept: "application/json" };
    if (apiKey !== undefined) this.#headers.authorization = `Bearer ${apiKey}`;
    this.#jsonHeaders = { ...this.#headers, "content-type": "application/json" };
  }

  get url(): string {
    return this.#base;
  }

  /** Later requests reject with `unavailable`; requests already sent finish. */
  close(): void {
    this.#closed = true;
  }

  /** Sends one request; resolves with the parsed JSON answer (undefined for 204). */
  async request<R>(method: string, path: string, options: RequestOptions = {}): Promise<R> {
    const what = `${method} ${path}`;
    if (this.#closed) throw new UnavailableError(`${what}: the client is closed`);
    const timeoutMs = this.#timeoutMs + (options.extraTimeoutMs ?? 0);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let status: number;
    let text: string;
    try {
      const response = await fetch(this.#base + path + queryString(options.query), {
        method,
        headers: options.body === undefined ? this.#headers : this.#jsonHeaders,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (timeout.aborted) throw new UnavailableError(`${what}: no answer within ${timeoutMs} ms`, error);
      throw unreachable(what, error);
    }
    const payload = parseJson(text);
    if (status >= 400) throw errorFromResponse(status, payload ?? text, what);
    if (payload === undefined && text !== "") throw new UnavailableError(`${what}: HTTP ${status} with a body that is not JSON`);
    return payload as R;
  }
}

function queryString(query: RequestOptions["query"]): string {
  if (query === undefined) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

/** The parsed answer; undefined for an empty body or one that is not JSON (a proxy's error page). */
function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
