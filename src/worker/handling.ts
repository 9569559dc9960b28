import type { PublishOptions } from "../config/schemas.js";
import type { LeasedMessage, PublishResult } from "../message-types.js";
import type { TimerHandle } from "../util/clock.js";
import type { WorkerSource } from "./worker-source.js";

export interface HandlerContext {
  /** Aborts when the handler times out, its lease is lost, or the worker shuts down. */
  readonly signal: AbortSignal;
  /** Extends this message's lease to now + `ms` (default: the worker's lease length). */
  extendLease(ms?: number): Promise<void>;
  /** Publishes a follow-up message: it inherits the correlationId and gets causationId = this message's id. */
  publish<U = unknown>(queue: string, body: U, options?: PublishOptions): Promise<PublishResult>;
  /**
   * Reports this message's progress (a number or a small JSON value), shown by `status(id)` and
   * `GET /v1/messages/:id` while it runs; each call replaces the last. Durable when it resolves;
   * awaiting it is optional (a refusal is then only lost, never thrown into the handler).
   */
  progress(value: unknown): Promise<void>;
  /** Adds lines to this message's log, shown with its status (bounded: the oldest lines are dropped). */
  log(...lines: string[]): Promise<void>;
}

const NOT_STARTED: Promise<void> = Promise.resolve();

/**
 * One message being handled, and the handler's `ctx`. Cheap on the hot path: the
 * AbortController is made only if the handler reads `ctx.signal`, and aborting a handler
 * that never looked at it just settles the race in `run`.
 */
export class Handling implements HandlerContext {
  readonly message: LeasedMessage<unknown>;
  /** When the handler was called, on the source's clock: `durationMs` in the worker's events. */
  readonly startedAt: number;
  leaseMs: number;
  extendedAt: number;
  timeout: TimerHandle | undefined = undefined;
  /** Links in the worker's in-flight list (`InFlight`). */
  inFlight = false;
  inFlightPrev: Handling | undefined = undefined;
  inFlightNext: Handling | undefined = undefined;
  /** Settles when the handler has finished (the worker sets it; one shared resolved promise until then). */
  done: Promise<void> = NOT_STARTED;
  /** What the handler returned: the message's result. */
  result: unknown = undefined;
  #abortReason: unknown = undefined;
  #controller: AbortController | undefined;
  #rejectRace: ((reason: unknown) => void) | undefined;
  readonly #source: WorkerSource;

  constructor(source: WorkerSource, message: LeasedMessage<unknown>, leaseMs: number, now: number) {
    this.#source = source;
    this.message = message;
    this.leaseMs = leaseMs;
    this.startedAt = now;
    this.extendedAt = now;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#abortReason !== undefined;
  }

  get abortReason(): unknown {
    return this.#abortReason;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    this.#rejectRace?.(reason);
  }

  /** Settles with the handler's result, or rejects with the abort reason as soon as aborted. */
  race(result: unknown): unknown {
    if (this.aborted) return Promise.reject(this.#abortReason);
    if (result === null || typeof result !== "object" || typeof (result as PromiseLike<unknown>).then !== "function") return result;
    return new Promise((resolve, reject) => {
      this.#rejectRace = reject;
      (result as PromiseLike<unknown>).then(resolve, reject);
    });
  }

  async extendLease(ms?: number): Promise<void> {
    const leaseMs = ms ?? this.leaseMs;
    await this.#source.extend(this.message.id, this.message.leaseToken, leaseMs);
    this.extendedAt = this.#source.clock.now();
    this.leaseMs = leaseMs;
  }

  progress(value: unknown): Promise<void> {
    return quiet(this.#source.report(this.message.id, this.message.leaseToken, { progress: value }));
  }

  log(...lines: string[]): Promise<void> {
    return quiet(this.#source.report(this.message.id, this.message.leaseToken, { log: lines }));
  }

  publish<U = unknown>(queue: string, body: U, options?: PublishOptions): Promise<PublishResult> {
    const message = this.message;
    return this.#source.publish(queue, body, {
      ...options,
      correlationId: options?.correlationId ?? message.correlationId ?? message.id,
      causationId: message.id,
    });
  }
}

/** The promise itself, with a handler attached: a handler that does not await it leaves no unhandled rejection. */
function quiet(promise: Promise<void>): Promise<void> {
  promise.catch(() => undefined);
  return promise;
}
