/**
 * The event streams of one route (GET /v1/events, GET /v1/stats/stream): at most `max` open at
 * once (one more is 503: each costs the server work every second or every event, so a careless
 * client may not open thousands), and all ended when the server begins to shut down, by one
 * listener on the shutdown signal (one per stream would trip Node's leak warning past 10).
 */
import type { FastifyInstance } from "fastify";
import { UnavailableError } from "../core/errors.js";
import type { EventStream } from "./event-stream.js";

export class OpenStreams {
  readonly #open = new Set<EventStream>();
  readonly #max: number;
  readonly #what: string;

  constructor(app: FastifyInstance, shutdown: AbortSignal, max: number, what: string) {
    this.#max = max;
    this.#what = what;
    const endAll = () => {
      for (const stream of [...this.#open]) stream.end();
    };
    // Fastify's close waits for in-flight requests: end the streams first.
    app.addHook("preClose", async () => endAll());
    if (!shutdown.aborted) shutdown.addEventListener("abort", endAll, { once: true });
  }

  /** Throws `unavailable` (503) when `max` streams are open. */
  checkRoom(): void {
    if (this.#open.size >= this.#max) {
      throw new UnavailableError(`this server has ${this.#max} ${this.#what} open, its limit: close one, or try again later`);
    }
  }

  /** Keeps `stream` until it ends. */
  add(stream: EventStream): void {
    this.#open.add(stream);
    stream.onEnd(() => this.#open.delete(stream));
  }
}
