/**
 * A worker runs a handler over one queue's messages.
 *
 *   lease loop (pump): while capacity and the circuit allow, lease up to the free slots;
 *     it runs when a watch wake-up arrives (publish, delay due, lease expiry…), when a handler
 *     finishes, on scale(), and when the circuit half-opens. No polling interval.
 *   delivery: handler(message, ctx) raced against ctx.signal (timeout, lost lease, shutdown);
 *     success → ack; throw → nack with the error's classification; a heartbeat extends the
 *     lease every leaseMs/3 while it runs.
 *   close(): stop leasing → wait for in-flight handlers up to closeTimeoutMs → abort the rest
 *     and release their leases (a nack that retries at once).
 */
import { EventEmitter } from "node:events";
import { defaults } from "../config/defaults.js";
import { resolveCircuitBreakerOptions } from "../config/resolve.js";
import type { WorkerOptions } from "../config/schemas.js";
import { SpoolError } from "../core/errors.js";
import type { LeasedStoredMessage } from "../core/message.js";
import { classifyError } from "../core/retry-policy.js";
import { decodeLeased, type LeasedMessage } from "../message-types.js";
import type { SpoolRuntime } from "../runtime.js";
import type { NackOutcome, QueueInfo } from "../store/store.js";
import { settleWithin } from "../util/abort.js";
import type { TimerHandle } from "../util/clock.js";
import { CircuitBreaker, type CircuitState } from "./circuit-breaker.js";
import { Delivery, type HandlerContext } from "./delivery.js";
import { InFlight } from "./in-flight.js";

export type { HandlerContext } from "./delivery.js";

export type Handler<T> = (message: LeasedMessage<T>, ctx: HandlerContext) => unknown;

export class HandlerTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`handler timed out after ${timeoutMs} ms`);
    this.name = "HandlerTimeoutError";
  }
}

export class WorkerClosedError extends Error {
  constructor() {
    super("the worker closed before the handler finished");
    this.name = "WorkerClosedError";
  }
}

export interface WorkerEvents {
  "message:completed": [{ id: string; queue: string; attempt: number }];
  "message:failed": [{ id: string; queue: string; attempt: number; error: unknown; outcome: NackOutcome | undefined }];
  "worker:circuit": [{ queue: string; state: CircuitState }];
  /** A background problem: a lease call failed, or an ack/nack was refused (e.g. lease_lost). */
  "worker:error": [{ queue: string; error: unknown }];
}

const LEASE_RETRY_MS = 1000;
const RESOLVED: Promise<void> = Promise.resolve();
const MAX_SETTLING = 1024;

export class Worker<T = unknown> extends EventEmitter<WorkerEvents> {
  readonly queue: string;
  readonly #runtime: SpoolRuntime;
  readonly #handler: Handler<T>;
  readonly #options: WorkerOptions;
  readonly #declared: Promise<QueueInfo>;
  readonly #inFlight = new InFlight();
  /** Acks and nacks of finished handlers that are not durable yet (a count: close() waits for it to reach 0). */
  #settling = 0;
  #onSettled: (() => void) | undefined;
  readonly #breaker: CircuitBreaker | undefined;
  #concurrency: number;
  #leaseMs = defaults.queue.leaseMs;
  #pumping = false;
  #pumpAgain = false;
  /** The running lease loop: close() lets a lease call already in flight land before it counts handlers. */
  #loop: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #unwatch: (() => void) | undefined;
  #heartbeat: TimerHandle | undefined;
  #retryTimer: TimerHandle | undefined;
  #keepAlive: NodeJS.Timeout | undefined;

  /** @internal Use `queue.work(handler, options)`. */
  constructor(runtime: SpoolRuntime, queue: string, declared: Promise<QueueInfo>, handler: Handler<T>, options: WorkerOptions) {
    super();
    this.queue = queue;
    this.#runtime = runtime;
    this.#handler = handler;
    this.#options = options;
    this.#declared = declared;
    this.#concurrency = options.concurrency ?? defaults.worker.concurrency;
    if (options.circuitBreaker !== undefined && options.circuitBreaker !== false) {
      this.#breaker = new CircuitBreaker(resolveCircuitBreakerOptions(options.circuitBreaker), runtime.store.clock, (state) => {
        this.emit("worker:circuit", { queue, state });
        if (state === "half-open") this.#pump();
      });
    }
    // An open worker keeps the process alive, as a consumer connection would.
    this.#keepAlive = setInterval(() => {}, 1 << 30);
    void this.#start();
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  /** Handlers running now. */
  get running(): number {
    return this.#inFlight.size;
  }

  get circuitState(): CircuitState | undefined {
    return this.#breaker?.state;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Changes concurrency at run time; lowering it lets running handlers finish. */
  scale(concurrency: number): void {
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
      throw new SpoolError("validation_failed", `worker on "${this.queue}": scale needs an integer from 1 to 10000, got ${JSON.stringify(concurrency)}`);
    }
    this.#concurrency = concurrency;
    this.#pump();
  }

  async #start(): Promise<void> {
    try {
      const info = await this.#declared;
      this.#leaseMs = this.#options.leaseMs ?? info.options.leaseMs;
    } catch (error) {
      this.emit("worker:error", { queue: this.queue, error });
      return;
    }
    if (this.#closing) return;
    this.#unwatch = this.#runtime.store.watch(this.queue, () => this.#pump());
    this.#pump();
  }

  #pump(): void {
    if (this.#closing || this.#unwatch === undefined) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    this.#loop = this.#leaseLoop();
  }

  async #leaseLoop(): Promise<void> {
    const store = this.#runtime.store;
    try {
      do {
        this.#pumpAgain = false;
        while (!this.#closing) {
          const allowance = this.#breaker ? this.#breaker.allowance() : Infinity;
          // Settlements still being written are bounded too (a slow disk slows leasing), but
          // generously: a no-op handler finishes many times per fdatasync.
          const settleRoom = Math.max(2 * this.#concurrency, MAX_SETTLING) - this.#settling;
          const free = Math.min(this.#concurrency - this.#inFlight.size, settleRoom);
          const want = Math.min(free, allowance, defaults.leaseBatchMax);
          if (want <= 0) break;
          const leased = await store.lease(this.queue, { max: want, leaseMs: this.#leaseMs });
          for (const message of leased) this.#deliver(message);
          if (leased.length < want) break;
        }
      } while (this.#pumpAgain && !this.#closing);
    } catch (error) {
      this.emit("worker:error", { queue: this.queue, error });
      this.#retryTimer ??= store.clock.setTimer(() => {
        this.#retryTimer = undefined;
        this.#pump();
      }, LEASE_RETRY_MS);
    } finally {
      this.#pumping = false;
    }
  }

  #deliver(stored: LeasedStoredMessage): void {
    const clock = this.#runtime.store.clock;
    const delivery = new Delivery(this.#runtime, decodeLeased<T>(stored), this.#leaseMs, clock.now());
    const timeoutMs = this.#options.timeoutMs;
    if (timeoutMs !== undefined) {
      delivery.timeout = clock.setTimer(() => delivery.abort(new HandlerTimeoutError(timeoutMs)), timeoutMs);
    }
    const trial = this.#breaker?.started() ?? 0;
    this.#inFlight.add(delivery);
    this.#armHeartbeat();
    delivery.done = this.#run(delivery, trial);
  }

  /**
   * Runs the handler. Not an async function: a handler that returns without a promise (or
   * throws) is finished at once, with no promise or suspended frame made for it.
   */
  #run(delivery: Delivery, trial: number): Promise<void> {
    let result: unknown;
    try {
      result = delivery.race(this.#handler(delivery.message as LeasedMessage<T>, delivery));
    } catch (error) {
      this.#finish(delivery, false, error, trial);
      return RESOLVED;
    }
    if (result === null || typeof result !== "object" || typeof (result as PromiseLike<unknown>).then !== "function") {
      this.#finish(delivery, true, undefined, trial);
      return RESOLVED;
    }
    return Promise.resolve(result).then(
      () => this.#finish(delivery, true, undefined, trial),
      (error: unknown) => this.#finish(delivery, false, error, trial),
    );
  }

  #finish(delivery: Delivery, succeeded: boolean, failure: unknown, trial: number): void {
    delivery.timeout?.cancel();
    // The handler's slot frees now; the ack or nack becomes durable in the background (the
    // next group commit). Waiting for it here would make every slot idle for an fdatasync.
    this.#settling++;
    const settled = () => {
      if (--this.#settling === 0) this.#onSettled?.();
      this.#breaker?.finished(trial);
      this.#pump();
    };
    this.#settle(delivery, succeeded, failure, trial).then(settled, settled);
    this.#inFlight.remove(delivery);
    this.#pump();
  }

  async #settle(delivery: Delivery, succeeded: boolean, failure: unknown, trial: number): Promise<void> {
    const message = delivery.message;
    const reason = delivery.abortReason;
    if (reason instanceof SpoolError && reason.code === "lease_lost") {
      // Another consumer owns the message now: nothing of ours to settle.
      this.emit("worker:error", { queue: this.queue, error: reason });
      return;
    }
    try {
      if (succeeded) {
        await this.#runtime.ack(message.id, message.leaseToken);
        this.#breaker?.record(true, trial);
        if (this.listenerCount("message:completed") > 0) {
          this.emit("message:completed", { id: message.id, queue: this.queue, attempt: message.attempt });
        }
        return;
      }
      if (reason instanceof WorkerClosedError) {
        await this.#runtime.nack(message.id, message.leaseToken, { release: true });
        return;
      }
      const error = reason instanceof HandlerTimeoutError ? reason : failure;
      this.#breaker?.record(false, trial);
      const outcome = await this.#runtime.nack(message.id, message.leaseToken, { error: toFailure(error) });
      this.emit("message:failed", { id: message.id, queue: this.queue, attempt: message.attempt, error, outcome });
    } catch (error) {
      this.emit("worker:error", { queue: this.queue, error });
    }
  }

  /** One timer for all in-flight leases: extends each lease once a third of it has passed. */
  #armHeartbeat(): void {
    // Not stopped by closing: handlers still draining need their leases kept alive.
    if (this.#heartbeat) return;
    const clock = this.#runtime.store.clock;
    const everyMs = Math.max(1, Math.floor(this.#leaseMs / 3));
    this.#heartbeat = clock.setTimer(() => {
      this.#heartbeat = undefined;
      const now = clock.now();
      for (const delivery of this.#inFlight.toArray()) {
        if (now - delivery.extendedAt < delivery.leaseMs / 3 || delivery.aborted) continue;
        const { id, leaseToken } = delivery.message;
        delivery.extendedAt = now;
        this.#runtime.extend(id, leaseToken, delivery.leaseMs).catch((error: unknown) => {
          // A lease we cannot extend is lost: tell the handler to stop.
          if (error instanceof SpoolError && error.code === "lease_lost") delivery.abort(error);
          else this.emit("worker:error", { queue: this.queue, error });
        });
      }
      if (this.#inFlight.size > 0) this.#armHeartbeat();
    }, everyMs);
  }

  /**
   * Stops leasing, waits up to `timeoutMs` (default: the worker's closeTimeoutMs) for running
   * handlers, then aborts the rest and releases their messages. Idempotent.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeoutMs ?? this.#options.closeTimeoutMs ?? defaults.worker.closeTimeoutMs);
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#unwatch?.();
    this.#retryTimer?.cancel();
    const running = () => Promise.allSettled(this.#inFlight.toArray().map((d) => d.done));
    // A lease call in flight when close() began may still deliver messages: wait for it first.
    const drained = await settleWithin(this.#loop.then(running), timeoutMs);
    if (!drained) {
      for (const delivery of this.#inFlight.toArray()) delivery.abort(new WorkerClosedError());
      await running();
    }
    if (this.#settling > 0) await new Promise<void>((resolve) => (this.#onSettled = resolve));
    this.#heartbeat?.cancel();
    this.#heartbeat = undefined;
    this.#breaker?.dispose();
    clearInterval(this.#keepAlive);
  }
}

function toFailure(error: unknown): { message: string; kind: "permanent" | "transient" | "error" } {
  const message = error instanceof Error ? error.message : String(error);
  return { message: message.slice(0, 2000), kind: classifyError(error) };
}
