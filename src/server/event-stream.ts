/**
 * One server-sent-events response: its headers, a comment every 15 s so proxies keep an idle
 * stream open, and a bound on what it sends. At most `perSecond` events a second (a burst of as
 * many); beyond that, and while the client reads slower than we write (over MAX_BUFFERED_BYTES
 * wait in the socket's buffer), events are dropped and counted, and once a second `event: dropped` says how many, so a
 * client knows to read the state afresh (GET /v1/queues, /v1/messages/:id). The stream ends when
 * the client goes away or the server begins to shut down.
 */
import type { ServerResponse } from "node:http";

const KEEPALIVE_MS = 15_000;
const MAX_BUFFERED_BYTES = 1 << 20;
export const STREAM_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" };

export class EventStream {
  readonly #raw: ServerResponse;
  readonly #perSecond: number;
  #tokens: number;
  #refilledAt = Date.now();
  #dropped = 0;
  #ended = false;
  readonly #timer: NodeJS.Timeout;
  readonly #onEnd = new Set<() => void>();
  #sinceKeepAlive = 0;

  constructor(raw: ServerResponse, perSecond: number) {
    this.#raw = raw;
    this.#perSecond = perSecond;
    this.#tokens = perSecond;
    raw.writeHead(200, { ...STREAM_HEADERS, connection: "keep-alive" });
    raw.write(": spool events\n\n");
    // One timer: the dropped notice each second, the keep-alive comment every 15.
    this.#timer = setInterval(() => this.#everySecond(), 1000);
    this.#timer.unref();
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Sends one event, unless over the rate or the client is behind (then it is counted as dropped). */
  send(event: string, data: unknown): void {
    if (this.#ended) return;
    if (this.#congested() || !this.#take()) {
      this.#dropped++;
      return;
    }
    this.#raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Calls `listener` once when the stream ends (for unsubscribing). */
  onEnd(listener: () => void): void {
    if (this.#ended) listener();
    else this.#onEnd.add(listener);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#timer);
    for (const listener of this.#onEnd) listener();
    this.#onEnd.clear();
    this.#raw.end();
  }

  #congested(): boolean {
    return this.#raw.writableLength > MAX_BUFFERED_BYTES;
  }

  #take(): boolean {
    const now = Date.now();
    if (now - this.#refilledAt >= 1000) {
      this.#tokens = this.#perSecond;
      this.#refilledAt = now;
    }
    if (this.#tokens === 0) return false;
    this.#tokens--;
    return true;
  }

  #everySecond(): void {
    if (this.#dropped > 0 && !this.#congested()) {
      this.#raw.write(`event: dropped\ndata: ${JSON.stringify({ count: this.#dropped })}\n\n`);
      this.#dropped = 0;
    }
    if (++this.#sinceKeepAlive * 1000 >= KEEPALIVE_MS) {
      this.#sinceKeepAlive = 0;
      this.#raw.write(": keep-alive\n\n");
    }
  }
}
