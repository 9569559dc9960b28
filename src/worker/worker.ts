/**
 * A worker runs a handler over one queue's messages, taken from a `WorkerSource`: the Spool in
 * this process (`queue.work`) or `spool serve` over HTTP (`client.queue(name).work`).
 *
 *   lease loop (pump): while capacity and the circuit allow, lease up to the free slots;
 *     it runs when a watch wake-up arrives (publish, delay due, lease expiry…), when a handler
 *     finishes, on scale(), and when the circuit half-opens. No polling interval. A long-poll
 *     source waits inside `lease` instead, so the loop re-issues it while slots are free.
 *     A source with `leasesInFlight` n > 1 (a database a round trip away) gets up to n loops at
 *     once, each asking for at most concurrency/n and reserving what it asked for until the
 *     answer comes, so leased + running never exceeds concurrency.
 *     Messages that arrive when they can no longer run (the circuit opened, scale() lowered
 *     concurrency while a long-poll waited) are released at once, without using an attempt.
 *   delivery: handler(message, ctx) raced against ctx.signal (timeout, lost lease, shutdown);
 *     success → ack; throw → nack with the error's classification (and its `retryAfterMs`, if
 *     any, as the nack's delayMs); a heartbeat extends the lease every leaseMs/3 while it runs.
 *   close(): stop leasing (a waiting long-poll is aborted) → wait for in-flight handlers up to
 *     closeTimeoutMs → abort the rest and release their leases (a nack that retries at once).
 *   failures of the source (a lease call, the queue's declaration) are reported as
 *     `worker:error` and retried after LEASE_RETRY_MS, never in a tight loop.
 */
import { EventEmitter } from "node:events";
import { defaults } from "../config/defaults.js";
import { resolveCircuitBreakerOptions } from "../config/resolve.js";
import type { WorkerOptions } from "../config/schemas.js";
import { SpoolError, TooLargeError } from "../core/errors.js";
import { tryEncodeBody } from "../core/body.js";
import { STORY_LIMITS } from "../core/story.js";
import { classifyError } from "../core/retry-policy.js";
import type { LeasedMessage } from "../message-types.js";
import type { NackOutcome } from "../core/operations.js";
import { settleWithin } from "../util/abort.js";
import type { TimerHandle } from "../util/clock.js";
import { withHandleSpan } from "../observability/tracing.js";
import { CircuitBreaker, type CircuitState } from "./circuit-breaker.js";
import { Handling, type HandlerContext } from "./handling.js";
import { InFlight } from "./in-flight.js";
import type { WorkerSource } from "./worker-source.js";
import { limits } from "../config/limits.js";

export type { HandlerContext } from "./handling.js";

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

/** `durationMs`: how long the handler ran (ms, on the source's clock), for metrics. */
export interface WorkerEvents {
  /** `leaseToAckMs`: from the delivery's start until its ack was durable. */
  "message:completed": [{ id: string; queue: string; attempt: number; durationMs: number; leaseToAckMs: number }];
  "message:failed": [{ id: string; queue: string; attempt: number; durationMs: number; error: unknown; outcome: NackOutcome | undefined }];
  "worker:circuit": [{ queue: string; state: CircuitState }];
  /** A background problem: a lease call failed (retried after a pause), or an ack/nack was refused (e.g. lease_lost). */
  "worker:error": [{ queue: string; error: unknown }];
}

const LEASE_RETRY_MS = 1000;
const MAX_SETTLING = 1024;
const RESOLVED: Promise<void> = Promise.resolve();

export class Worker<T = unknown> extends EventEmitter<WorkerEvents> {
  readonly queue: string;
  readonly #source: WorkerSource;
  readonly #handler: Handler<T>;
  readonly #options: WorkerOptions;
  readonly #inFlight = new InFlight();
  /** Acks and nacks of finished handlers that are not durable yet (close() waits for them). */
  readonly #settling = new Set<Promise<void>>();
  /** How many finished deliveries those settle (a group of acks is one promise). */
  #settlingCount = 0;
  /**
   * The acks waiting on the promise the source last returned for an ack. A source that makes
   * one write of a turn's acks (the journal's group commit) returns the same promise for all of
   * them: they share one callback, with no promise or closure per message.
   */
  #ackGroup: AckGroup | undefined;
  readonly #breaker: CircuitBreaker | undefined;
  #concurrency: number;
  #leaseMs = defaults.queue.leaseMs;
  /** The handler timeout: the worker's own, else its queue's (undefined: none). */
  #timeoutMs: number | undefined;
  /** Lease loops running, at most the source's leasesInFlight. */
  #leasing = 0;
  /** Slots asked for by lease calls in flight. */
  #reserved = 0;
  #pumpAgain = false;
  #pumpQueued = false;
  /** The running lease loops: close() lets a lease call already in flight land before it counts handlers. */
  readonly #loops = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;
  /** Aborts a lease call that is waiting (long-poll) when the worker closes. */
  readonly #stopLeasing = new AbortController();
  #unwatch: (() => void) | undefined;
  #heartbeat: TimerHandle | undefined;
  #retryTimer: TimerHandle | undefined;
  #keepAlive: NodeJS.Timeout | undefined;

  /** @internal Use `queue.work(handler, options)` or `client.queue(name).work(handler, options)`. */
  constructor(source: WorkerSource, queue: string, handler: Handler<T>, options: WorkerOptions) {
    super();
    this.queue = queue;
    this.#source = source;
    this.#handler = handler;
    this.#options = options;
    this.#concurrency = options.concurrency ?? defaults.worker.concurrency;
    source.registerWorker(this); // before any timer: a closed owner refuses new workers
    if (options.circuitBreaker !== undefined && options.circuitBreaker !== false) {
      this.#breaker = new CircuitBreaker(resolveCircuitBreakerOptions(options.circuitBreaker), source.clock, (state) => {
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
      const queueDefaults = await this.#source.queueDefaults(this.queue);
      this.#leaseMs = this.#options.leaseMs ?? queueDefaults.leaseMs;
      this.#timeoutMs = this.#options.timeoutMs ?? queueDefaults.timeoutMs;
    } catch (error) {
      if (this.#closing) return; // closed while asking: nobody is waiting for this worker now
      this.emit("worker:error", { queue: this.queue, error });
      // A source that cannot answer now (a server that is down) may later: try again.
      if (error instanceof SpoolError && error.code === "unavailable") this.#retryLater(() => void this.#start());
      return;
    }
    if (this.#closing) return;
    this.#unwatch = this.#source.watch(this.queue, () => this.#pump());
    this.#pump();
  }

  #retryLater(action: () => void): void {
    if (this.#closing) return;
    this.#retryTimer ??= this.#source.clock.setTimer(() => {
      this.#retryTimer = undefined;
      action();
    }, LEASE_RETRY_MS);
  }

  /** How many more deliveries may start now. */
  #capacity(): number {
    const allowance = this.#breaker ? this.#breaker.allowance() : Infinity;
    // Settlements still being written are bounded too (a slow disk slows leasing), but
    // generously: a no-op handler finishes many times per fdatasync.
    const settleRoom = Math.max(2 * this.#concurrency, MAX_SETTLING) - this.#settlingCount;
    const free = Math.min(this.#concurrency - this.#inFlight.size - this.#reserved, settleRoom - this.#reserved);
    return Math.min(free, allowance - this.#reserved, limits.maxLeaseBatch);
  }

  #pump(): void {
    if (this.#closing || this.#unwatch === undefined) return;
    // A lease call in flight may have been asked before what woke us: it looks again when it
    // answers. So does one whose slots were all reserved by calls in flight (a new loop would
    // find nothing to ask for, and the wake-up would be lost).
    if (this.#leasing >= Math.max(1, this.#source.leasesInFlight ?? 1) || (this.#leasing > 0 && this.#capacity() <= 0)) {
      this.#pumpAgain = true;
      return;
    }
    this.#leasing++;
    const loop = this.#leaseLoop();
    this.#loops.add(loop);
    void loop.finally(() => this.#loops.delete(loop));
  }

  async #leaseLoop(): Promise<void> {
    const source = this.#source;
    const loops = Math.max(1, source.leasesInFlight ?? 1);
    try {
      do {
        this.#pumpAgain = false;
        while (!this.#closing) {
          const want = loops > 1 ? Math.min(this.#capacity(), Math.ceil(this.#concurrency / loops)) : this.#capacity();
          if (want <= 0) break;
          this.#reserved += want;
          let leased: LeasedMessage<unknown>[];
          try {
            // Slots are left over: a sibling loop asks for them while this call is on its way.
            if (loops > 1 && this.#capacity() > 0) this.#pump();
            leased = await source.lease(this.queue, { max: want, leaseMs: this.#leaseMs, signal: this.#stopLeasing.signal });
          } finally {
            this.#reserved -= want;
          }
          this.#take(leased);
          if (leased.length < want && !source.longPoll) break;
        }
      } while (this.#pumpAgain && !this.#closing);
    } catch (error) {
      this.emit("worker:error", { queue: this.queue, error });
      this.#retryLater(() => this.#pump());
    } finally {
      this.#leasing--;
    }
  }

  /** Starts what may run now; gives the rest back (capacity can shrink while a lease waits). */
  #take(leased: LeasedMessage<unknown>[]): void {
    let room = this.#capacity();
    for (const message of leased) {
      if (room-- > 0) this.#deliver(message);
      else this.#release(message);
    }
  }

  #release(message: LeasedMessage<unknown>): void {
    const released: Promise<void> = this.#source
      .nack(message.id, message.leaseToken, { release: true })
      .then(
        () => {},
        (error: unknown) => void this.emit("worker:error", { queue: this.queue, error }),
      )
      .finally(() => {
        this.#settling.delete(released);
        this.#settlingCount--;
      });
    this.#settling.add(released);
    this.#settlingCount++;
  }

  #deliver(message: LeasedMessage<unknown>): void {
    const clock = this.#source.clock;
    const delivery = new Handling(this.#source, message, this.#leaseMs, clock.now());
    const timeoutMs = this.#timeoutMs;
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
  #run(delivery: Handling, trial: number): Promise<void> {
    let result: unknown;
    try {
      // A consumer span, child of the publisher's trace when the message carries a traceparent.
      result = delivery.race(withHandleSpan(delivery.message as LeasedMessage<T>, this.#handler, delivery));
    } catch (error) {
      this.#finish(delivery, false, error, trial);
      return RESOLVED;
    }
    if (result === null || typeof result !== "object" || typeof (result as PromiseLike<unknown>).then !== "function") {
      delivery.result = result;
      this.#finish(delivery, true, undefined, trial);
      return RESOLVED;
    }
    return Promise.resolve(result).then(
      (value: unknown) => {
        delivery.result = value;
        this.#finish(delivery, true, undefined, trial);
      },
      (error: unknown) => this.#finish(delivery, false, error, trial),
    );
  }

  #finish(delivery: Handling, succeeded: boolean, failure: unknown, trial: number): void {
    delivery.timeout?.cancel();
    const durationMs = this.#source.clock.now() - delivery.startedAt;
    this.#inFlight.remove(delivery);
    // The handler's slot frees now; the ack or nack becomes durable in the background (the
    // next group commit). Waiting for it here would make every slot idle for an fdatasync.
    if (succeeded && !(delivery.abortReason instanceof SpoolError && delivery.abortReason.code === "lease_lost")) {
      this.#ack(delivery, trial, durationMs);
    } else {
      const settled: Promise<void> = this.#settle(delivery, failure, trial, durationMs).finally(() => {
        this.#settling.delete(settled);
        this.#settlingCount--;
        this.#breaker?.finished(trial);
        this.#pumpSoon();
      });
      this.#settling.add(settled);
      this.#settlingCount++;
    }
    this.#pumpSoon();
  }

  /** Acks a handled message, in the group of acks that share the source's promise. */
  #ack(delivery: Handling, trial: number, durationMs: number): void {
    const message = delivery.message;
    let acked: Promise<void>;
    try {
      // The handler's return value is the message's result (kept with its completed status).
      let result: string | undefined;
      if (delivery.result !== undefined && delivery.result !== null) {
        result = tryEncodeBody(delivery.result, STORY_LIMITS.maxResultBytes);
        if (result === undefined) {
          // The work is done: the message completes, without a result it cannot keep.
          const refused = new TooLargeError(`queue "${this.queue}": message ${message.id}: the handler's result is not JSON or is over ${STORY_LIMITS.maxResultBytes} bytes as JSON; completed without it`);
          this.emit("worker:error", { queue: this.queue, error: refused });
        }
      }
      acked = result === undefined ? this.#source.ack(message.id, message.leaseToken) : this.#source.ack(message.id, message.leaseToken, result);
    } catch (error) {
      acked = Promise.reject(error);
    }
    let group = this.#ackGroup;
    if (group === undefined || group.acked !== acked) {
      const fresh: AckGroup = (group = { acked, deliveries: [], trials: [], durationsMs: [] });
      this.#ackGroup = fresh;
      const settled: Promise<void> = acked.then(
        () => this.#acksSettled(fresh, settled, undefined),
        (error: unknown) => this.#acksSettled(fresh, settled, error ?? new Error("ack failed")),
      );
      this.#settling.add(settled);
    }
    group.deliveries.push(delivery);
    group.trials.push(trial);
    group.durationsMs.push(durationMs);
    this.#settlingCount++;
  }

  /** A group's acks are durable (`error` undefined) or were refused. */
  #acksSettled(group: AckGroup, settled: Promise<void>, error: unknown): void {
    // Acks made from now on get a new group, even if the source returned this promise again.
    if (this.#ackGroup === group) this.#ackGroup = undefined;
    this.#settling.delete(settled);
    const { deliveries, trials, durationsMs } = group;
    const breaker = this.#breaker;
    const completed = error === undefined && this.listenerCount("message:completed") > 0;
    const now = completed ? this.#source.clock.now() : 0;
    for (let i = 0; i < deliveries.length; i++) {
      const message = deliveries[i].message;
      this.#settlingCount--;
      if (error === undefined) {
        breaker?.record(true, trials[i]);
        if (completed) {
          this.emit("message:completed", { id: message.id, queue: this.queue, attempt: message.attempt, durationMs: durationsMs[i], leaseToAckMs: now - deliveries[i].startedAt });
        }
      } else {
        this.emit("worker:error", { queue: this.queue, error });
      }
      breaker?.finished(trials[i]);
    }
    this.#pumpSoon();
  }

  /**
   * Pumps once the handlers finishing in this microtask run have all freed their slots, so a
   * batch that ends together is refilled by one lease for all its slots (over HTTP, one round
   * trip) rather than a lease of one followed by a lease of the rest.
   */
  #pumpSoon(): void {
    if (this.#pumpQueued) return;
    this.#pumpQueued = true;
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  /** Settles a failed (or released) delivery: acks go through `#ack`. */
  async #settle(delivery: Handling, failure: unknown, trial: number, durationMs: number): Promise<void> {
    const message = delivery.message;
    const reason = delivery.abortReason;
    if (reason instanceof SpoolError && reason.code === "lease_lost") {
      // Another consumer owns the message now: nothing of ours to settle.
      this.emit("worker:error", { queue: this.queue, error: reason });
      return;
    }
    try {
      if (reason instanceof WorkerClosedError) {
        await this.#source.nack(message.id, message.leaseToken, { release: true });
        return;
      }
      const error = reason instanceof HandlerTimeoutError ? reason : failure;
      this.#breaker?.record(false, trial);
      const retryAfterMs = retryAfterOf(error);
      const outcome = await this.#source.nack(message.id, message.leaseToken, retryAfterMs === undefined ? { error: toFailure(error) } : { error: toFailure(error), delayMs: retryAfterMs });
      this.emit("message:failed", { id: message.id, queue: this.queue, attempt: message.attempt, durationMs, error, outcome });
    } catch (error) {
      this.emit("worker:error", { queue: this.queue, error });
    }
  }

  /** One timer for all in-flight leases: extends each lease once a third of it has passed. */
  #armHeartbeat(): void {
    // Not stopped by closing: handlers still draining need their leases kept alive.
    if (this.#heartbeat) return;
    const clock = this.#source.clock;
    const everyMs = Math.max(1, Math.floor(this.#leaseMs / 3));
    this.#heartbeat = clock.setTimer(() => {
      this.#heartbeat = undefined;
      const now = clock.now();
      for (const delivery of this.#inFlight.toArray()) {
        if (now - delivery.extendedAt < delivery.leaseMs / 3 || delivery.aborted) continue;
        const { id, leaseToken } = delivery.message;
        delivery.extendedAt = now;
        this.#source.extend(id, leaseToken, delivery.leaseMs).catch((error: unknown) => {
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
    this.#stopLeasing.abort();
    this.#retryTimer?.cancel();
    const running = () => Promise.allSettled(this.#inFlight.toArray().map((d) => d.done));
    // A lease call in flight when close() began may still deliver messages: wait for it first.
    const drained = await settleWithin(Promise.all([...this.#loops]).then(running), timeoutMs);
    if (!drained) {
      for (const delivery of this.#inFlight.toArray()) delivery.abort(new WorkerClosedError());
      await running();
    }
    await Promise.allSettled([...this.#settling]);
    this.#heartbeat?.cancel();
    this.#heartbeat = undefined;
    this.#breaker?.dispose();
    clearInterval(this.#keepAlive);
  }
}

/** Acks issued while the source kept returning one promise, in parallel arrays. */
interface AckGroup {
  readonly acked: Promise<void>;
  readonly deliveries: Handling[];
  readonly trials: number[];
  readonly durationsMs: number[];
}

/** Longest retry delay a handler's error may ask for (what `nack` accepts). */
const MAX_RETRY_AFTER_MS = limits.maxDelayMs;

/**
 * The pause a thrown error asks for before the retry (`TransientError`'s `retryAfterMs`, or a
 * `retryAfterMs` property on any error), as a whole number of ms; undefined when it asks none
 * or the value is unusable (the backoff then applies).
 */
function retryAfterOf(error: unknown): number | undefined {
  if (error === null || typeof error !== "object") return undefined;
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return undefined;
  return Math.min(Math.ceil(value), MAX_RETRY_AFTER_MS);
}

function toFailure(error: unknown): { message: string; kind: "permanent" | "transient" | "error" } {
  const message = error instanceof Error ? error.message : String(error);
  return { message: message.slice(0, 2000), kind: classifyError(error) };
}
