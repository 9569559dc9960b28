/**
 * Prometheus metrics of one Spool, in a registry of their own (never prom-client's global one,
 * so two Spools or two servers in one process do not collide).
 *
 * Nothing runs on the hot path for the per-queue figures: counts, totals and circuit states are
 * read from the store and the workers when Prometheus scrapes (prom-client `collect()`
 * callbacks; one snapshot of the store per scrape, shared by every metric). Only durations are
 * observed as they happen: handler durations from the events of observed workers, lease-to-ack
 * times, journal fdatasyncs and HTTP requests.
 *
 * | metric                                  | type      | labels                     |
 * |-----------------------------------------|-----------|----------------------------|
 * | spool_messages_published_total          | counter   | queue                      |
 * | spool_messages_completed_total          | counter   | queue                      |
 * | spool_messages_retried_total            | counter   | queue                      |
 * | spool_messages_dead_total               | counter   | queue                      |
 * | spool_queue_messages                    | gauge     | queue, state               |
 * | spool_queue_ready_by_priority           | gauge     | queue, priority            |
 * | spool_messages_in_flight                | gauge     | queue                      |
 * | spool_queue_oldest_ready_age_seconds    | gauge     | queue                      |
 * | spool_queue_paused                      | gauge     | queue                      |
 * | spool_circuit_state                     | gauge     | queue                      |
 * | spool_circuit_breakers                  | gauge     | queue, state               |
 * | spool_handler_duration_seconds          | histogram | queue, outcome             |
 * | spool_attempts_to_success               | histogram | queue                      |
 * | spool_circuit_transitions_total         | counter   | queue, state               |
 * | spool_publish_duplicates_total          | counter   | queue                      |
 * | spool_publish_replaced_total            | counter   | queue                      |
 * | spool_lease_to_ack_seconds              | histogram | queue                      |
 * | spool_journal_fsync_seconds             | histogram | –                          |
 * | spool_http_request_duration_seconds     | histogram | method, route, status_code |
 * | spool_metrics_scrape_errors_total       | counter   | –                          |
 * | spool_store_write_fault                 | gauge     | –                          |
 * | spool_postgres_pool_connections         | gauge     | state (idle, busy)         |
 * | spool_postgres_pool_waiting             | gauge     | –                          |
 * | spool_postgres_query_duration_seconds   | histogram | operation, outcome         |
 * plus prom-client's default process and Node.js metrics (`process_*`, `nodejs_*`). The
 * `spool_postgres_*` series exist only when the store is PostgreSQL. Given a Spool, every worker
 * it makes is observed (handler durations, attempts, circuit changes) and so is every publish
 * through it (duplicates, replacements): this process's view, summed across processes by PromQL.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { SpoolError } from "../core/errors.js";
import type { QueueStats } from "../core/message.js";
import type { PublishOutcome } from "../core/operations.js";
import type { Spool } from "../spool.js";
import type { CircuitState } from "../worker/circuit-breaker.js";
import type { Worker } from "../worker/worker.js";
import { LeaseAckTimer } from "./lease-ack-timer.js";

/** What the metrics read from a Spool; with its observe hooks, its workers and publishes are observed too. */
export type MetricsSource = Pick<Spool, "queues" | "store" | "circuitStates"> & Partial<Pick<Spool, "observeWorkers" | "observePublishes">>;

/** The worker events the metrics listen to: any `Worker<T>` fits (`never`: the handler's body type does not matter here). */
export type ObservableWorker = Pick<Worker<never>, "on" | "off">;

export interface SpoolMetricsOptions {
  /** Also expose prom-client's default process and Node.js metrics (default true). */
  defaultMetrics?: boolean;
  /** Labels added to every series, e.g. `{ instance: "spool-a" }`. */
  labels?: Record<string, string>;
  /** Most leases remembered for `leased` / `acked` (default 100,000). */
  maxTrackedLeases?: number;
}

/** Circuit states as numbers, worst last: closed 0, half-open 1, open 2. */
const CIRCUIT_STATE_VALUES: Readonly<Record<CircuitState, number>> = Object.freeze({ closed: 0, "half-open": 1, open: 2 });

const QUEUE_STATES = ["ready", "delayed", "leased", "dead"] as const;
/** From 0.5 ms to 5 min: handlers range from no-ops to slow remote calls. */
const HANDLER_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** From 50 µs (fdatasync on fast NVMe) to 1 s (a struggling disk). */
const FSYNC_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Deliveries a message took: the first try up to a hundred. */
const ATTEMPT_BUCKETS = [1, 2, 3, 4, 5, 7, 10, 15, 20, 30, 50, 100];
/** Up to 30 s: long-poll leases wait that long. */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface QueueSnapshot {
  stats: QueueStats;
  circuits: CircuitState[];
}

/** A store that reports its fdatasync durations (the journal does). */
interface FsyncObservable {
  observeFsync(observer: (seconds: number) => void): () => void;
}

/** A Spool's worker handle that is a Worker (an event emitter), as every worker the library makes is. */
function isObservableWorker(worker: unknown): worker is ObservableWorker {
  const candidate = worker as Partial<ObservableWorker>;
  return typeof candidate.on === "function" && typeof candidate.off === "function";
}

function observesFsync(store: unknown): store is FsyncObservable {
  return typeof (store as Partial<FsyncObservable>).observeFsync === "function";
}

/** A store with a connection pool that reports its statements (PostgreSQL): duck-typed, so this layer never loads `pg`. */
interface PoolObservable {
  poolStats(): { total: number; idle: number; waiting: number };
  observeQueries(observer: (observation: { operation: string; durationMs: number; ok: boolean }) => void): () => void;
}

function observesPool(store: unknown): store is PoolObservable {
  const candidate = store as Partial<PoolObservable>;
  return typeof candidate.poolStats === "function" && typeof candidate.observeQueries === "function";
}

/** From 0.1 ms (a cached lookup on a local server) to 30 s (the default statement timeout). */
const QUERY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What a worker's `message:completed` / `message:failed` events carry that the metrics use; samples without a field are skipped. */
interface HandlerEvent {
  queue: string;
  /** Deliveries so far, this one included. */
  attempt?: number;
  /** How long the handler ran. */
  durationMs?: number;
  /** From the lease to the ack being durable (completed events). */
  leaseToAckMs?: number;
}

type Observe = (value: number) => void;

export class SpoolMetrics {
  /** The registry holding every metric of this instance; merge it into another with `Registry.merge`. */
  readonly registry: Registry;
  readonly #source: MetricsSource;
  readonly #leases: LeaseAckTimer;
  readonly #handlerDuration: Histogram<"queue" | "outcome">;
  readonly #leaseToAck: Histogram<"queue">;
  readonly #fsync: Histogram;
  readonly #http: Histogram<"method" | "route" | "status_code">;
  readonly #scrapeErrors: Counter;
  readonly #attempts: Histogram<"queue">;
  readonly #circuitTransitions: Counter<"queue" | "state">;
  readonly #duplicates: Counter<"queue">;
  readonly #replaced: Counter<"queue">;
  readonly #unobserveSpool: Array<() => void> = [];
  /** Per-queue children of the histograms, made once per queue (no label object per observation on our side). */
  readonly #completedBy = new Map<string, Observe>();
  readonly #failedBy = new Map<string, Observe>();
  readonly #leaseToAckBy = new Map<string, Observe>();
  readonly #workers = new Map<ObservableWorker, () => void>();
  #snapshot: Promise<QueueSnapshot[]> | undefined;
  #unobserveFsync: (() => void) | undefined;
  #unobserveQueries: (() => void) | undefined;
  #closed = false;

  constructor(source: MetricsSource, options: SpoolMetricsOptions = {}) {
    this.#source = source;
    this.#leases = new LeaseAckTimer({ maxTracked: options.maxTrackedLeases });
    const registry = (this.registry = new Registry());
    if (options.labels !== undefined) registry.setDefaultLabels(options.labels);
    const registers = [registry];
    const scrape = () => this.#scrape();
    /** A per-queue series whose values are read from each scrape's snapshot. */
    const perQueue = (
      kind: "counter" | "gauge",
      name: string,
      help: string,
      read: (snapshot: QueueSnapshot) => number | undefined,
    ): void => {
      const collect = async (): Promise<void> => {
        const snapshots = await scrape();
        metric.reset();
        for (const snapshot of snapshots) {
          const value = read(snapshot);
          if (value === undefined) continue;
          if (metric instanceof Counter) metric.inc({ queue: snapshot.stats.name }, value);
          else metric.set({ queue: snapshot.stats.name }, value);
        }
      };
      const metric: Counter<"queue"> | Gauge<"queue"> =
        kind === "counter" ? new Counter({ name, help, labelNames: ["queue"], registers, collect }) : new Gauge({ name, help, labelNames: ["queue"], registers, collect });
    };

    perQueue("counter", "spool_messages_published_total", "Messages published to the queue (dedup replacements and idempotent duplicates not counted).", (q) => q.stats.totals.published);
    perQueue("counter", "spool_messages_completed_total", "Messages acked (completed).", (q) => q.stats.totals.completed);
    perQueue("counter", "spool_messages_retried_total", "Failed deliveries scheduled again.", (q) => q.stats.totals.retried);
    perQueue("counter", "spool_messages_dead_total", "Messages moved to the dead-letter store, for any reason.", (q) => q.stats.totals.dead);
    perQueue("gauge", "spool_messages_in_flight", "Messages leased and not yet acked or nacked.", (q) => q.stats.leased);
    perQueue("gauge", "spool_queue_oldest_ready_age_seconds", "Age of the oldest leasable message; 0 when none is ready.", (q) => q.stats.oldestReadyAgeMs / 1000);
    perQueue("gauge", "spool_queue_paused", "1 while the queue is paused, else 0.", (q) => (q.stats.paused ? 1 : 0));
    perQueue(
      "gauge",
      "spool_circuit_state",
      "The worst circuit-breaker state among this process's workers on the queue: 0 closed, 1 half-open, 2 open. Absent without a breaker.",
      (q) => (q.circuits.length === 0 ? undefined : Math.max(...q.circuits.map((state) => CIRCUIT_STATE_VALUES[state]))),
    );

    const depth: Gauge<"queue" | "state"> = new Gauge({
      name: "spool_queue_messages",
      help: "Messages in the queue by state: ready (incl. waiting behind their ordering group), delayed, leased, dead.",
      labelNames: ["queue", "state"],
      registers,
      collect: async () => {
        const snapshots = await scrape();
        depth.reset();
        for (const { stats } of snapshots) {
          for (const state of QUEUE_STATES) depth.set({ queue: stats.name, state }, stats[state]);
        }
      },
    });

    const byPriority: Gauge<"queue" | "priority"> = new Gauge({
      name: "spool_queue_ready_by_priority",
      help: "Leasable messages by priority (0–9; those waiting behind their ordering group are not counted). Levels holding none are left out.",
      labelNames: ["queue", "priority"],
      registers,
      collect: async () => {
        const snapshots = await scrape();
        byPriority.reset();
        for (const { stats } of snapshots) {
          stats.readyByPriority.forEach((count, priority) => {
            if (count > 0) byPriority.set({ queue: stats.name, priority: String(priority) }, count);
          });
        }
      },
    });

    const breakers: Gauge<"queue" | "state"> = new Gauge({
      name: "spool_circuit_breakers",
      help: "This process's workers on the queue with a circuit breaker, by breaker state.",
      labelNames: ["queue", "state"],
      registers,
      collect: async () => {
        const snapshots = await scrape();
        breakers.reset();
        for (const { stats, circuits } of snapshots) {
          if (circuits.length === 0) continue;
          for (const state of Object.keys(CIRCUIT_STATE_VALUES) as CircuitState[]) {
            breakers.set({ queue: stats.name, state }, circuits.filter((c) => c === state).length);
          }
        }
      },
    });

    this.#handlerDuration = new Histogram({
      name: "spool_handler_duration_seconds",
      help: "How long handlers of observed workers ran, by outcome (completed, failed).",
      labelNames: ["queue", "outcome"],
      buckets: HANDLER_BUCKETS,
      registers,
    });
    this.#leaseToAck = new Histogram({
      name: "spool_lease_to_ack_seconds",
      help: "From a message's lease to its ack.",
      labelNames: ["queue"],
      buckets: HANDLER_BUCKETS,
      registers,
    });
    this.#fsync = new Histogram({
      name: "spool_journal_fsync_seconds",
      help: "Duration of the journal's fdatasync calls (one per group commit, and one per segment rotation).",
      buckets: FSYNC_BUCKETS,
      registers,
    });
    this.#http = new Histogram({
      name: "spool_http_request_duration_seconds",
      help: "HTTP requests served, by method, route pattern and status code.",
      labelNames: ["method", "route", "status_code"],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.#scrapeErrors = new Counter({
      name: "spool_metrics_scrape_errors_total",
      help: "Scrapes that could not read the queue list, or a queue's stats, from the store (those series were left out).",
      registers,
    });

    const writeFault: Gauge = new Gauge({
      name: "spool_store_write_fault",
      help: "1 while the store knows writes fail (a journal disk fault, a lost database connection), else 0.",
      registers,
      collect: () => writeFault.set(source.store.writeFault === undefined ? 0 : 1),
    });
    this.#attempts = new Histogram({
      name: "spool_attempts_to_success",
      help: "Deliveries a message took to complete (1: the first try), for messages this process's observed workers completed.",
      labelNames: ["queue"],
      buckets: ATTEMPT_BUCKETS,
      registers,
    });
    this.#circuitTransitions = new Counter({
      name: "spool_circuit_transitions_total",
      help: "Circuit-breaker state changes of this process's observed workers, by the state entered (open, half-open, closed).",
      labelNames: ["queue", "state"],
      registers,
    });
    this.#duplicates = new Counter({
      name: "spool_publish_duplicates_total",
      help: "Publishes through this process answered as duplicates: their idempotencyKey was seen within the window, nothing was enqueued.",
      labelNames: ["queue"],
      registers,
    });
    this.#replaced = new Counter({
      name: "spool_publish_replaced_total",
      help: "Publishes through this process that replaced a waiting message with the same dedupKey in place.",
      labelNames: ["queue"],
      registers,
    });

    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
    if (source.observeWorkers) {
      this.#unobserveSpool.push(source.observeWorkers((worker) => isObservableWorker(worker) && this.observeWorker(worker)));
    }
    if (source.observePublishes) this.#unobserveSpool.push(source.observePublishes((outcomes) => this.#countPublishes(outcomes)));
    if (observesFsync(source.store)) this.#unobserveFsync = source.store.observeFsync(this.observeFsync);
    if (observesPool(source.store)) this.#unobserveQueries = this.#observePool(source.store, registers);
  }

  /** The PostgreSQL store's pool (read at scrape time) and the duration of every statement it runs. */
  #observePool(store: PoolObservable, registers: Registry[]): () => void {
    const connections: Gauge<"state"> = new Gauge({
      name: "spool_postgres_pool_connections",
      help: "Connections of the PostgreSQL store's pool, by state: idle, or busy running a statement (the LISTEN connection is not counted).",
      labelNames: ["state"],
      registers,
      collect: () => {
        const { total, idle } = store.poolStats();
        connections.set({ state: "idle" }, idle);
        connections.set({ state: "busy" }, total - idle);
      },
    });
    const waiting: Gauge = new Gauge({
      name: "spool_postgres_pool_waiting",
      help: "Statements waiting for a connection because every one of the pool's (poolSize) is busy.",
      registers,
      collect: () => waiting.set(store.poolStats().waiting),
    });
    const queries = new Histogram({
      name: "spool_postgres_query_duration_seconds",
      help: "Statements (and transactions) of the PostgreSQL store, by operation and outcome (ok, error); waiting for a connection included.",
      labelNames: ["operation", "outcome"],
      buckets: QUERY_BUCKETS,
      registers,
    });
    const observers = new Map<string, Observe>();
    return store.observeQueries(({ operation, durationMs, ok }) => {
      const key = ok ? operation : `${operation}\u0000error`;
      let observe = observers.get(key);
      if (observe === undefined) {
        observe = queries.labels({ operation, outcome: ok ? "ok" : "error" }).observe;
        observers.set(key, observe);
      }
      observe(durationMs / 1000);
    });
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The metrics in Prometheus text format (what `GET /metrics` answers). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  // ── durations ───────────────────────────────────────────────────────────────────────────

  /**
   * Feeds `spool_handler_duration_seconds` (and `spool_lease_to_ack_seconds`) from the worker's
   * `message:completed` / `message:failed` events, when they carry `durationMs` (`leaseToAckMs`).
   * Returns an unsubscribe; `close()` unsubscribes every worker. Observing the same worker twice
   * is a no-op.
   */
  observeWorker(worker: ObservableWorker): () => void {
    const existing = this.#workers.get(worker);
    if (existing) return existing;
    if (this.#closed) return () => {};
    const onCompleted = (event: HandlerEvent) => {
      if (event.durationMs !== undefined) this.observeHandler(event.queue, "completed", event.durationMs / 1000);
      if (event.leaseToAckMs !== undefined) this.observeLeaseToAck(event.queue, event.leaseToAckMs / 1000);
      if (event.attempt !== undefined) this.#attempts.observe({ queue: event.queue }, event.attempt);
    };
    const onFailed = (event: HandlerEvent) => {
      if (event.durationMs !== undefined) this.observeHandler(event.queue, "failed", event.durationMs / 1000);
    };
    const onCircuit = (event: { queue: string; state: string }) => this.#circuitTransitions.inc({ queue: event.queue, state: event.state });
    worker.on("message:completed", onCompleted);
    worker.on("message:failed", onFailed);
    worker.on("worker:circuit", onCircuit);
    const unobserve = () => {
      if (this.#workers.get(worker) !== unobserve) return;
      this.#workers.delete(worker);
      worker.off("message:completed", onCompleted);
      worker.off("message:failed", onFailed);
      worker.off("worker:circuit", onCircuit);
    };
    this.#workers.set(worker, unobserve);
    return unobserve;
  }

  /** One handler run of `seconds` on `queue`. */
  observeHandler(queue: string, outcome: "completed" | "failed", seconds: number): void {
    if (!(seconds >= 0) || seconds === Infinity) return;
    const children = outcome === "completed" ? this.#completedBy : this.#failedBy;
    let observe = children.get(queue);
    if (observe === undefined) {
      observe = this.#handlerDuration.labels({ queue, outcome }).observe;
      children.set(queue, observe);
    }
    observe(seconds);
  }

  /** One message acked `seconds` after it was leased. */
  observeLeaseToAck(queue: string, seconds: number): void {
    if (!(seconds >= 0) || seconds === Infinity) return;
    let observe = this.#leaseToAckBy.get(queue);
    if (observe === undefined) {
      observe = this.#leaseToAck.labels({ queue }).observe;
      this.#leaseToAckBy.set(queue, observe);
    }
    observe(seconds);
  }

  /**
   * For consumers that lease and ack in separate calls (the HTTP routes): call with what a lease
   * returned, then `acked` with each ack's id; the time between feeds `spool_lease_to_ack_seconds`.
   * Times come from the store's clock. At most `maxTrackedLeases` are remembered.
   */
  leased(messages: ReadonlyArray<{ id: string; queue: string }>): void {
    if (messages.length === 0 || this.#closed) return;
    this.#leases.leased(messages, this.#source.store.clock.now());
  }

  /** A successful ack of `id` (see `leased`). Unknown ids are ignored. */
  acked(id: string): void {
    const entry = this.#leases.settled(id, this.#source.store.clock.now());
    if (entry !== undefined) this.observeLeaseToAck(entry.queue, entry.ms / 1000);
  }

  /** A nack (or a lost lease) of `id`: stop tracking it without observing anything. */
  forgetLease(id: string): void {
    this.#leases.settled(id, 0);
  }

  /** One journal fdatasync of `seconds` (the journal store reports these itself). */
  readonly observeFsync = (seconds: number): void => {
    if (seconds >= 0 && seconds !== Infinity) this.#fsync.observe(seconds);
  };

  /**
   * One HTTP request: `route` is the route pattern (`/v1/queues/:q/messages`), never the raw
   * URL, so the number of series stays bounded.
   */
  observeHttp(method: string, route: string, status: number, seconds: number): void {
    if (!(seconds >= 0) || seconds === Infinity) return;
    this.#http.observe({ method, route, status_code: String(status) }, seconds);
  }

  /** `observeHttp` under the name the server's `ServerObserver` calls (src/server/server-context.ts). */
  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.observeHttp(method, route, status, seconds);
  }

  /** Stops observing workers and the journal, and empties the registry. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const unobserve of this.#unobserveSpool.splice(0)) unobserve();
    for (const unobserve of [...this.#workers.values()]) unobserve();
    this.#unobserveFsync?.();
    this.#unobserveFsync = undefined;
    this.#unobserveQueries?.();
    this.#unobserveQueries = undefined;
    this.#leases.clear();
    this.registry.clear();
  }

  /** Duplicates and replacements among one publish's outcomes. */
  #countPublishes(outcomes: readonly PublishOutcome[]): void {
    for (const outcome of outcomes) {
      if (outcome.duplicate) this.#duplicates.inc({ queue: outcome.queue });
      else if (outcome.replaced) this.#replaced.inc({ queue: outcome.queue });
    }
  }

  // ── scrape-time snapshot ────────────────────────────────────────────────────────────────

  /**
   * One read of every queue's stats per scrape: every collect() of a scrape starts before the
   * first one's read resolves (prom-client calls them all at once), so they share it.
   */
  #scrape(): Promise<QueueSnapshot[]> {
    this.#snapshot ??= this.#readQueues().finally(() => {
      this.#snapshot = undefined;
    });
    return this.#snapshot;
  }

  async #readQueues(): Promise<QueueSnapshot[]> {
    const source = this.#source;
    let names: string[];
    try {
      names = (await source.queues()).map((q) => q.name);
    } catch {
      // The store is unavailable (closing, failing disk): the rest of the page still renders.
      this.#scrapeErrors.inc();
      return [];
    }
    const stats = await Promise.allSettled(names.map((name) => source.store.stats(name)));
    const snapshots: QueueSnapshot[] = [];
    for (let i = 0; i < names.length; i++) {
      const result = stats[i];
      if (result.status === "fulfilled") snapshots.push({ stats: result.value, circuits: source.circuitStates(names[i]) });
      // not_found: the queue was deleted between the list and its stats; anything else is news.
      else if (!(result.reason instanceof SpoolError && result.reason.code === "not_found")) this.#scrapeErrors.inc();
    }
    return snapshots;
  }
}
