/**
 * The PostgreSQL store: many Spool processes share one database. Messages are rows; leasing takes
 * rows with `FOR UPDATE SKIP LOCKED`; idle consumers wait on LISTEN/NOTIFY (wakeups.ts); every
 * operation that must be atomic is one SQL function (migrations/001-queues.ts), so it is one round
 * trip and one transaction, and an outbox publish is one more statement in the caller's.
 *
 *   time:    the database's clock is the only "now" (store.ts, "Time has one owner"); this
 *            process's timers only decide when to ask. What falls due is applied by `tick()`:
 *            inside every lease (for its queue), before status and stats reads, at the next due
 *            time this process knows of (its own work and other processes' `d:` hints), and every
 *            `sweepIntervalMs` (which also catches the leases of a process that died).
 *   acks:    the acks of one event-loop turn are one `ack_many` statement.
 *   faults:  a lost connection is `unavailable` to the caller and sets `writeFault` until a
 *            statement succeeds again; the pool and the LISTEN connection reconnect by themselves.
 */
import pg from "pg";
import { resolveQueueOptions } from "../../config/resolve.js";
import { defaults } from "../../config/defaults.js";
import { PostgresStoreOptionsSchema, type QueueInfo, type QueueOptions, type ResolvedQueueOptions } from "../../config/schemas.js";
import { validate } from "../../config/validate.js";
import { ConflictError, LeaseLostError, NotFoundError, UnavailableError, ValidationError } from "../../core/errors.js";
import { decideRelease } from "../../core/lifecycle.js";
import type { BrowsedMessage, BrowseState, DeadReason, LeasedStoredMessage, MessageContent, MessageStatus, QueueStats } from "../../core/message.js";
import type { AckItem, AckOutcome, DeadLetterPage, LeaseRequest, NackOutcome, NackRequest, PublishInput, PublishOutcome, ReplaySelection } from "../../core/operations.js";
import { completedStatusVisible } from "../../core/retention.js";
import { decideFailure } from "../../core/retry-policy.js";
import type { ProgressReport } from "../../core/operations.js";
import { boundLogLine, STORY_LIMITS, type MessageLogEntry } from "../../core/story.js";
import type { ExchangeInfo, ExchangeType } from "../../routing/route.js";
import type { TimerHandle } from "../../util/clock.js";
import type { Store, StoreCapabilities, StorePublishOptions } from "../store.js";
import { migrate, MIGRATIONS, schemaNames, schemaVersion } from "./migrations.js";
import { DatabaseClock } from "./pg-clock.js";
import { isConnectionFailure, isRetryable, toSpoolError } from "./pg-errors.js";
import { completedStatus, messageStatus, STATE, toDeadLetter, toLeased, type CompletedRow, type MessageRow } from "./rows.js";
import { inTransaction } from "./transaction.js";
import { Wakeups } from "./wakeups.js";
import { PgEventFeed } from "./event-feed.js";
import { PgPublisher, type Queryable } from "./publisher.js";
import type { QueueEventSink } from "../../core/queue-events.js";
import { PgSchedules } from "./schedules.js";
import type { FireResult, ScheduleDefinition, ScheduleRecord } from "../../core/schedule.js";

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/database`. */
  connectionString: string;
  /** The schema holding Spool's tables (default `spool`). */
  schema?: string;
  /** Most connections in the pool (default 10), besides one for LISTEN. */
  poolSize?: number;
  /** A statement running longer is cancelled and reported `unavailable` (default 30 s). */
  statementTimeoutMs?: number;
  /** Longest wait for a new connection (default 10 s). */
  connectTimeoutMs?: number;
  /** Create or upgrade the schema at open (default true); false: it must already be current (`spool migrate`). */
  migrate?: boolean;
  /** How often each process applies what fell due and forgets what retention lets go (default 1 s). */
  sweepIntervalMs?: number;
  /** Source of backoff jitter (tests make it deterministic). */
  random?: () => number;
}

/** The PostgreSQL store's capabilities: shared time and the caller's transaction; no manual clock, no snapshots. */
export const POSTGRES_CAPABILITIES: Readonly<StoreCapabilities> = Object.freeze({
  manualClock: false,
  snapshots: false,
  sharedClock: true,
  transactionalPublish: true,
  settleFromAnyProcess: true,
  deadLetterPaging: true,
  replaceInPlace: true,
  orderingGroups: true,
});

/** bigint columns as numbers: every one the store keeps (ms times, counts, seqs) fits a double exactly. */
const TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** One statement (or transaction) the store ran, for metrics (`observeQueries`). */
export interface QueryObservation {
  /** Which operation: a word from a fixed set (`lease`, `ack`, `publish`, `tick`…), never a queue name or an id. */
  operation: string;
  /** From the call to its answer, retries of a deadlock included, ms. */
  durationMs: number;
  ok: boolean;
}

/** The pool's connections now, for metrics (`poolStats`). */
export interface PoolStats {
  /** Connections open, idle and busy. */
  total: number;
  idle: number;
  /** Calls waiting for a connection (all `poolSize` are busy). */
  waiting: number;
}

const MAX_RETRIES = 5;
const SWEEP_EVERY_TICKS = 10;

export class PostgresStore implements Store {
  readonly name = "postgres";
  readonly capabilities: StoreCapabilities = POSTGRES_CAPABILITIES;
  readonly clock = new DatabaseClock();
  /** A lease is a round trip: a worker keeps a second one on its way while it handles the first's batch. */
  readonly leasesInFlight = 2;
  readonly schema: string;
  readonly #s: string;
  readonly #channel: string;
  readonly #settings: Required<Omit<PostgresStoreOptions, "random">>;
  readonly #random: () => number;
  readonly #pool: pg.Pool;
  readonly #wakeups: Wakeups;
  readonly #events: PgEventFeed;
  readonly #publisher: PgPublisher;
  #opened = false;
  #closed = false;
  #writeFault: Error | undefined;

  #pendingAcks: Array<{ item: AckItem; resolve: () => void; reject: (error: unknown) => void }> = [];
  #ackFlushScheduled = false;

  #tickTimer: TimerHandle | undefined;
  #tickAt = Infinity;
  #ticking = false;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeps = 0;
  #rateTimers = new Map<string, TimerHandle>();
  readonly #schedules = new PgSchedules({
    schema: () => this.#s,
    query: (what, text, values) => this.#query(what, text, values),
    transaction: (what, body) => this.#transaction(what, body),
    publish: (inputs, client) => this.publish(inputs, { transaction: client }),
  });
  readonly #queryObservers = new Set<(observation: QueryObservation) => void>();

  constructor(options: PostgresStoreOptions) {
    const { random, ...settings } = options;
    validate(PostgresStoreOptionsSchema, settings, "postgres store options");
    this.#settings = { ...defaults.postgres, ...settings };
    this.#random = random ?? Math.random;
    this.schema = this.#settings.schema;
    const names = schemaNames(this.schema);
    this.#s = names.quoted;
    this.#channel = names.channel;
    const connection = {
      connectionString: this.#settings.connectionString,
      connectionTimeoutMillis: this.#settings.connectTimeoutMs,
      statement_timeout: this.#settings.statementTimeoutMs,
      types: TYPES,
      application_name: "spool",
    };
    this.#pool = new pg.Pool({ ...connection, max: this.#settings.poolSize });
    // An idle connection that dies (a server restart) must not crash the process: the next query reconnects.
    this.#pool.on("error", (error) => this.#noteFault(error));
    // A connection lost while checked out between two statements (a transaction's) emits 'error'
    // on its client, which with no listener would crash the process: noted, and the next
    // statement on it fails as unavailable.
    this.#pool.on("connect", (client) => client.on("error", (error) => this.#noteFault(error)));
    this.#wakeups = new Wakeups({
      connect: () => new pg.Client(connection),
      channel: this.#channel,
      onDue: (at) => this.#armTick(at),
      onReconnect: () => {
        // Notifications sent while the connection was down are lost: wake everyone and look again.
        this.#wakeups.wakeAll();
        this.#events.reconnected();
        if (this.#opened) this.#runTick();
      },
      onLost: (error) => this.#noteFault(error),
      onEvents: (json) => this.#events.receive(json),
    });
    // On the wake-up connection, not the pool: statements inside a transaction wait for the first
    // renewal while holding a pooled connection, which may be the pool's last (it stalled for good).
    this.#events = new PgEventFeed(this.#s, (text) => this.#wakeups.query(text));
    this.#publisher = new PgPublisher({
      schema: this.#s,
      query: { run: (what, text, values, on, prepared) => this.#query(what, text, values, on, prepared) },
      wake: (queue) => this.#wakeups.wake(queue),
      now: () => this.clock.now(),
    });
  }

  get writeFault(): Error | undefined {
    return this.#writeFault;
  }

  /** The pool, for metrics (pool sizes) and tests. */
  get pool(): pg.Pool {
    return this.#pool;
  }

  async open(): Promise<void> {
    if (this.#closed) throw new UnavailableError("the store is closed");
    try {
      const client = await this.#pool.connect();
      try {
        if (this.#settings.migrate) {
          await migrate(client, this.schema);
        } else {
          const version = await schemaVersion(client, this.schema);
          const latest = MIGRATIONS[MIGRATIONS.length - 1].version;
          if (version < latest) {
            throw new UnavailableError(`schema "${this.schema}" is at version ${version}, Spool needs ${latest}: run \`spool migrate\` (or open with migrate: true)`);
          }
        }
        await this.clock.measure(async () => (await client.query<{ now: number }>(`SELECT ${this.#s}.now_ms() AS now`)).rows[0].now);
      } finally {
        client.release();
      }
      await this.#wakeups.start();
    } catch (error) {
      // Nothing is left holding the process open (an idle pooled connection would, for seconds).
      await this.close();
      throw toSpoolError(error, "open");
    }
    this.#opened = true;
    this.#runTick();
    this.#sweepTimer = setInterval(() => this.#sweep(), this.#settings.sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  // ── queries ─────────────────────────────────────────────────────────────────────────────

  /**
   * Runs one statement on the pool (or the caller's transaction), retrying deadlocks; maps failures
   * to SpoolErrors. `prepared`: a name for the hot statements (lease, ack, publish), so each pooled
   * connection parses and plans them once (node-postgres named statements); never on the caller's
   * connection, which is not ours to fill with statements.
   */
  async #query<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[] = [], on?: Queryable, prepared?: string): Promise<pg.QueryResult<R>> {
    this.#checkOpen();
    if (this.#events.opening !== undefined) await this.#events.opening;
    const started = this.#queryObservers.size > 0 ? performance.now() : -1;
    const query: pg.QueryConfig = on || prepared === undefined ? { text, values } : { name: `${this.schema}:${prepared}`, text, values };
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await (on ?? this.#pool).query<R>(query);
        this.#writeFault = undefined;
        if (started >= 0) this.#observe(what, started, true);
        return result;
      } catch (error) {
        // In the caller's transaction a failed statement aborts it: only the caller can retry.
        if (!on && isRetryable(error) && attempt < MAX_RETRIES) continue;
        if (isConnectionFailure(error)) this.#noteFault(error);
        if (started >= 0) this.#observe(what, started, false);
        throw toSpoolError(error, what);
      }
    }
  }

  /** Runs `body` in a transaction on one pooled connection, retrying it whole on a deadlock. */
  async #transaction<T>(what: string, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    this.#checkOpen();
    if (this.#events.opening !== undefined) await this.#events.opening;
    const started = this.#queryObservers.size > 0 ? performance.now() : -1;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await inTransaction(this.#pool, body);
        this.#writeFault = undefined;
        if (started >= 0) this.#observe(what, started, true);
        return result;
      } catch (error) {
        if (isRetryable(error) && attempt < MAX_RETRIES) continue;
        if (isConnectionFailure(error)) this.#noteFault(error);
        if (started >= 0) this.#observe(what, started, false);
        throw toSpoolError(error, what);
      }
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new UnavailableError("the store is closed");
    if (!this.#opened) throw new UnavailableError("the store is not open yet");
  }

  #noteFault(error: unknown): void {
    this.#writeFault = error instanceof Error ? error : new Error(String(error));
  }

  // ── operations: readiness and metrics (docs/operations.md) ──────────────────────────────

  /**
   * Readiness: one `SELECT 1` on the wake-up connection, which has a connection of its own, so a
   * busy pool does not make a healthy database look down. `unavailable` while that connection is
   * being re-made (the database is unreachable or restarting) or the server does not answer
   * within `timeoutMs`.
   */
  async ping(timeoutMs: number): Promise<void> {
    this.#checkOpen();
    try {
      await this.#wakeups.ping(timeoutMs);
    } catch (error) {
      throw new UnavailableError(`the PostgreSQL store is unavailable: ${(error as Error).message}`, error);
    }
  }

  /**
   * Calls `observer` after every statement (or transaction) the store runs, with its operation,
   * duration and outcome; the metrics layer feeds its histogram from it. Returns an unsubscribe.
   * With no observer nothing is timed.
   */
  observeQueries(observer: (observation: QueryObservation) => void): () => void {
    this.#queryObservers.add(observer);
    return () => void this.#queryObservers.delete(observer);
  }

  /** The pool's connections now: open, idle, and calls waiting for one. */
  poolStats(): PoolStats {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount };
  }

  #observe(what: string, started: number, ok: boolean): void {
    const observation: QueryObservation = { operation: operationOf(what), durationMs: performance.now() - started, ok };
    for (const observer of this.#queryObservers) observer(observation);
  }

  // ── queues ──────────────────────────────────────────────────────────────────────────────

  async ensureQueue(name: string, options?: QueueOptions): Promise<QueueInfo> {
    const s = this.#s;
    if (!options) {
      const { rows } = await this.#query<QueueRow>(
        "ensureQueue",
        `WITH made AS (INSERT INTO ${s}.queues (name, options, created_at) VALUES ($1, $2, ${s}.now_ms()) ON CONFLICT (name) DO NOTHING RETURNING name, options, paused)
         SELECT name, options, paused FROM made UNION ALL SELECT name, options, paused FROM ${s}.queues WHERE name = $1`,
        [name, JSON.stringify(resolveQueueOptions())],
      );
      return queueInfo(rows[0]);
    }
    return this.#transaction("ensureQueue", async (client) => {
      await client.query(`INSERT INTO ${s}.queues (name, options, created_at) VALUES ($1, $2, ${s}.now_ms()) ON CONFLICT (name) DO NOTHING`, [
        name,
        JSON.stringify(resolveQueueOptions()),
      ]);
      const current = await client.query<QueueRow>(`SELECT name, options, paused FROM ${s}.queues WHERE name = $1 FOR UPDATE`, [name]);
      const resolved = resolveQueueOptions(options, current.rows[0].options);
      await client.query(`UPDATE ${s}.queues SET options = $2 WHERE name = $1`, [name, JSON.stringify(resolved)]);
      // A dead-letter queue is declared with the option, as a bind declares its queue.
      if (resolved.deadLetter !== undefined && "queue" in resolved.deadLetter) {
        await client.query(`INSERT INTO ${s}.queues (name, options, created_at) VALUES ($1, $2, ${s}.now_ms()) ON CONFLICT (name) DO NOTHING`, [
          resolved.deadLetter.queue,
          JSON.stringify(resolveQueueOptions()),
        ]);
      }
      this.#wakeups.wake(name);
      return { name, options: resolved, paused: current.rows[0].paused };
    });
  }

  async getQueue(name: string): Promise<QueueInfo | undefined> {
    const { rows } = await this.#query<QueueRow>("getQueue", `SELECT name, options, paused FROM ${this.#s}.queues WHERE name = $1`, [name]);
    return rows.length === 0 ? undefined : queueInfo(rows[0]);
  }

  async listQueues(): Promise<QueueInfo[]> {
    const { rows } = await this.#query<QueueRow>("listQueues", `SELECT name, options, paused FROM ${this.#s}.queues ORDER BY created_seq`);
    return rows.map(queueInfo);
  }

  async deleteQueue(name: string): Promise<boolean> {
    const s = this.#s;
    return this.#transaction(`delete queue "${name}"`, async (client) => {
      const gone = await client.query(`DELETE FROM ${s}.queues WHERE name = $1`, [name]);
      if (gone.rowCount === 0) return false;
      for (const table of ["messages", "completed", "idempotency", "queue_totals", "rate_stamps", "bindings"]) {
        await client.query(`DELETE FROM ${s}.${table} WHERE queue = $1`, [name]);
      }
      return true;
    });
  }

  async setPaused(name: string, paused: boolean): Promise<void> {
    const { rowCount } = await this.#query(`pause "${name}"`, `UPDATE ${this.#s}.queues SET paused = $2 WHERE name = $1`, [name, paused]);
    if (rowCount === 0) throw queueNotFound(name);
    if (!paused) {
      await this.#query("wake", `SELECT ${this.#s}.wake($1)`, [name]);
      this.#wakeups.wake(name);
    }
  }

  async purgeQueue(name: string): Promise<number> {
    await this.#requireQueue(name);
    const { rows } = await this.#query<{ n: number }>(`purge "${name}"`, `SELECT ${this.#s}.purge($1) AS n`, [name]);
    return rows[0].n;
  }

  async stats(name: string): Promise<QueueStats> {
    const s = this.#s;
    await this.#tick(name);
    const { rows } = await this.#query<StatsRow>(
      `stats of "${name}"`,
      `SELECT q.paused, ${s}.now_ms() AS now,
         (SELECT array_agg(coalesce(c.n, 0)::int ORDER BY p.level) FROM generate_series(0, 9) AS p(level)
            LEFT JOIN (SELECT priority, count(*) AS n FROM ${s}.messages WHERE queue = $1 AND state = 0 GROUP BY priority) c ON c.priority = p.level) AS by_priority,
         (SELECT count(*) FROM ${s}.messages WHERE queue = $1 AND state = 3) AS group_waiting,
         (SELECT count(*) FROM ${s}.messages WHERE queue = $1 AND state = 1) AS delayed,
         (SELECT count(*) FROM ${s}.messages WHERE queue = $1 AND state = 2) AS leased,
         (SELECT count(*) FROM ${s}.messages WHERE queue = $1 AND state = 4) AS dead,
         (SELECT available_at FROM ${s}.oldest_ready($1)) AS oldest,
         t.published, t.completed, t.retried, t.dead AS dead_total
       FROM ${s}.queues q,
         LATERAL (SELECT coalesce(sum(published), 0)::bigint AS published, coalesce(sum(completed), 0)::bigint AS completed,
                         coalesce(sum(retried), 0)::bigint AS retried, coalesce(sum(dead), 0)::bigint AS dead
                  FROM ${s}.queue_totals WHERE queue = $1) t
       WHERE q.name = $1`,
      [name],
    );
    if (rows.length === 0) throw queueNotFound(name);
    const row = rows[0];
    return {
      name,
      paused: row.paused,
      ready: row.by_priority.reduce((sum, n) => sum + n, 0) + row.group_waiting,
      delayed: row.delayed,
      leased: row.leased,
      dead: row.dead,
      totals: { published: row.published, completed: row.completed, retried: row.retried, dead: row.dead_total },
      oldestReadyAgeMs: row.oldest === null ? 0 : Math.max(0, row.now - row.oldest),
      readyByPriority: row.by_priority,
    };
  }

  // ── publish (publisher.ts) ──────────────────────────────────────────────────────────────

  publish(inputs: PublishInput[], options?: StorePublishOptions): Promise<PublishOutcome[]> {
    try {
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#publisher.publish(inputs, options);
  }

  // ── schedules (schedules.ts) ────────────────────────────────────────────────────────────

  putSchedule(definition: ScheduleDefinition): Promise<ScheduleRecord> {
    return this.#schedules.put(definition);
  }
  getSchedule(name: string): Promise<ScheduleRecord | undefined> {
    return this.#schedules.get(name);
  }
  listSchedules(): Promise<ScheduleRecord[]> {
    return this.#schedules.list();
  }
  setSchedulePaused(name: string, paused: boolean): Promise<ScheduleRecord> {
    return this.#schedules.setPaused(name, paused);
  }
  removeSchedule(name: string): Promise<boolean> {
    return this.#schedules.remove(name);
  }
  fireDueSchedules(): Promise<FireResult> {
    return this.#schedules.fireDue();
  }

  // ── lease / ack / nack / extend ─────────────────────────────────────────────────────────

  async lease(queue: string, request: LeaseRequest): Promise<LeasedStoredMessage[]> {
    const leaseMs = request.leaseMs ?? null; // null: the queue's leaseMs
    const { rows } = await this.#query<MessageRow>(`lease from "${queue}"`, `SELECT * FROM ${this.#s}.lease($1, $2, $3)`, [queue, request.max, leaseMs], undefined, "lease");
    const out: LeasedStoredMessage[] = [];
    let firstEnd = Infinity;
    for (const row of rows) {
      if (row.id === null) {
        this.#wakeWhenWindowReopens(queue, row.lease_until as number);
        continue;
      }
      out.push(toLeased(row));
      if ((row.lease_until as number) < firstEnd) firstEnd = row.lease_until as number;
    }
    // A lease that runs out in this live process is redelivered at its end, not at the next sweep.
    if (firstEnd !== Infinity) this.#armTick(firstEnd);
    return out;
  }

  #wakeWhenWindowReopens(queue: string, at: number): void {
    if (this.#rateTimers.has(queue)) return;
    const timer = this.clock.setTimer(() => {
      this.#rateTimers.delete(queue);
      this.#wakeups.wake(queue);
    }, at - this.clock.now());
    this.#rateTimers.set(queue, timer);
  }

  ack(id: string, leaseToken: string, result?: string): Promise<void> {
    if (result !== undefined) return this.#ackWithResult(id, leaseToken, result);
    return new Promise<void>((resolve, reject) => {
      this.#pendingAcks.push({ item: { id, leaseToken }, resolve, reject });
      if (this.#ackFlushScheduled) return;
      this.#ackFlushScheduled = true;
      setImmediate(() => this.#flushAcks());
    });
  }

  /** The single acks of one event-loop turn, as one `ack_many`. */
  #flushAcks(): void {
    this.#ackFlushScheduled = false;
    const batch = this.#pendingAcks;
    this.#pendingAcks = [];
    this.ackMany(batch.map((entry) => entry.item)).then(
      (outcomes) => {
        for (let i = 0; i < batch.length; i++) {
          if (outcomes[i].ok) batch[i].resolve();
          else batch[i].reject(new LeaseLostError(batch[i].item.id));
        }
      },
      (error: unknown) => {
        for (const entry of batch) entry.reject(error);
      },
    );
  }

  /** An ack that keeps a result: `ack_results`, apart from the batched plain acks. */
  async #ackWithResult(id: string, leaseToken: string, result: string): Promise<void> {
    const [outcome] = await this.ackMany([{ id, leaseToken, result }]);
    if (!outcome.ok) throw new LeaseLostError(id);
  }

  /** Progress and log lines on a leased message (`report` in SQL; the story is its own table). */
  async report(id: string, leaseToken: string, report: ProgressReport): Promise<void> {
    const { rows } = await this.#query<{ ok: boolean }>(`report ${id}`, `SELECT ${this.#s}.report($1, $2, $3::jsonb, $4::text[], $5) AS ok`, [
      id,
      leaseToken,
      report.progress ?? null,
      report.log === undefined || report.log.length === 0 ? null : report.log.map(boundLogLine),
      STORY_LIMITS.maxLogLines,
    ]);
    if (rows[0]?.ok !== true) throw new LeaseLostError(id);
  }

  async ackMany(items: AckItem[]): Promise<AckOutcome[]> {
    if (items.length === 0) return [];
    if (items.some((item) => item.result !== undefined)) {
      const { rows } = await this.#query<{ id: string }>("ack", `SELECT ${this.#s}.ack_results($1::text[], $2::text[], $3::jsonb[]) AS id`, [
        items.map((item) => item.id),
        items.map((item) => item.leaseToken),
        items.map((item) => item.result ?? null),
      ]);
      const done = new Set(rows.map((row) => row.id));
      return items.map(({ id }) => (done.delete(id) ? { id, ok: true } : { id, ok: false, code: "lease_lost" as const }));
    }
    const { rows } = await this.#query<{ id: string }>(
      "ack",
      `SELECT ${this.#s}.ack_many($1::text[], $2::text[]) AS id`,
      [items.map((item) => item.id), items.map((item) => item.leaseToken)],
      undefined,
      "ack_many",
    );
    const acked = new Set(rows.map((row) => row.id));
    // An id acked twice in one batch completes once: the second item is the stale one.
    return items.map(({ id }) => (acked.delete(id) ? { id, ok: true } : { id, ok: false, code: "lease_lost" as const }));
  }

  async nack(id: string, leaseToken: string, request: NackRequest): Promise<NackOutcome> {
    const s = this.#s;
    return this.#transaction(`nack ${id}`, async (client) => {
      const { rows } = await client.query<{ attempt: number; max_attempts: number; available_at: number; backoff: ResolvedQueueOptions["backoff"]; now: number }>(
        `SELECT m.attempt, m.max_attempts, m.available_at, q.options->'backoff' AS backoff, ${s}.now_ms() AS now
         FROM ${s}.messages m JOIN ${s}.queues q ON q.name = m.queue
         WHERE m.id = $1 AND m.lease_token = $2 AND m.state = 2 AND m.lease_until > ${s}.now_ms() FOR UPDATE OF m`,
        [id, leaseToken],
      );
      if (rows.length === 0) throw new LeaseLostError(id);
      const row = rows[0];
      const apply = async (action: string, at: number | null, reason: string | null, error: unknown, attempt: number | null) => {
        const result = await client.query<{ state: number }>(`SELECT ${s}.apply_nack($1, $2, $3, $4, $5, $6, $7) AS state`, [
          id, action, at, reason, error === null ? null : JSON.stringify(error), attempt, row.now,
        ]);
        return result.rows[0].state;
      };
      if (request.release) {
        const released = decideRelease(row.attempt, request.delayMs, row.now);
        const state = await apply("release", released.availableAt, null, null, released.attempt);
        return nackOutcome(state, released.availableAt);
      }
      const error = request.error ?? (request.reject ? { message: "rejected", kind: "permanent" as const } : { message: "nacked", kind: "error" as const });
      const decision = decideFailure(
        { attempt: row.attempt, maxAttempts: row.max_attempts, kind: error.kind, delayMs: request.delayMs, backoff: { ...defaults.queue.backoff, ...row.backoff }, reject: request.reject },
        this.#random,
      );
      if (decision.action === "dead") {
        await apply("dead", null, decision.reason, error, null);
        return { state: "dead", availableAt: row.available_at, deadReason: decision.reason };
      }
      const at = row.now + decision.delayMs;
      return nackOutcome(await apply("retry", at, null, error, null), at);
    });
  }

  async extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }> {
    const s = this.#s;
    const { rows } = await this.#query<{ lease_until: number }>(
      `extend ${id}`,
      `WITH now AS (SELECT ${s}.now_ms() AS ms)
       UPDATE ${s}.messages m SET lease_until = now.ms + $3 FROM now
       WHERE m.id = $1 AND m.lease_token = $2 AND m.state = 2 AND m.lease_until > now.ms RETURNING m.lease_until`,
      [id, leaseToken, leaseMs],
    );
    if (rows.length === 0) throw new LeaseLostError(id);
    return { leaseUntil: rows[0].lease_until };
  }

  async status(id: string): Promise<MessageStatus | undefined> {
    const s = this.#s;
    const read = () =>
      this.#query<MessageRow & StoryColumns & { now: number }>(
        "status",
        `SELECT m.*, ${s}.now_ms() AS now, st.progress AS story_progress, st.log AS story_log, st.result AS story_result
         FROM ${s}.messages m LEFT JOIN ${s}.stories st ON st.id = m.id WHERE m.id = $1`,
        [id],
      );
    let { rows } = await read();
    // What fell due for this message is applied before it is reported (a delay passed, a lease or TTL ran out).
    if (rows.length > 0 && isDue(rows[0], rows[0].now)) {
      await this.#tick(rows[0].queue);
      ({ rows } = await read());
    }
    if (rows.length > 0) return withStory(messageStatus(rows[0]), rows[0]);
    return this.#completedStatus(id);
  }

  async browse(queue: string, request: { state: BrowseState; limit: number; offset: number }): Promise<BrowsedMessage[]> {
    const s = this.#s;
    const found = await this.#query<{ options: ResolvedQueueOptions }>("browse", `SELECT options FROM ${s}.queues WHERE name = $1`, [queue]);
    if (found.rows.length === 0) throw queueNotFound(queue);
    await this.#tick(queue); // what fell due is applied first, as status() does
    const story = `st.progress AS story_progress, st.log AS story_log, st.result AS story_result`;
    if (request.state === "completed") {
      const { rows } = await this.#query<CompletedRow & StoryColumns & { now: number }>(
        "browse",
        `SELECT c.*, ${s}.now_ms() AS now, ${story} FROM ${s}.completed c LEFT JOIN ${s}.stories st ON st.id = c.id
         WHERE c.queue = $1 ORDER BY c.n DESC LIMIT $2 OFFSET $3`,
        [queue, request.limit, request.offset],
      );
      const options = found.rows[0].options;
      return rows
        .filter((row) => completedStatusVisible(row.completed_at, row.now, options))
        .map((row) => ({ ...withStory(completedStatus(row), row), body: undefined, headers: undefined }));
    }
    const order = { ready: "m.priority DESC, m.ready_at, m.seq", delayed: "m.available_at, m.seq", leased: "m.lease_until, m.seq" }[request.state];
    const { rows } = await this.#query<MessageRow & StoryColumns>(
      "browse",
      `SELECT m.*, ${story} FROM ${s}.messages m LEFT JOIN ${s}.stories st ON st.id = m.id
       WHERE m.queue = $1 AND m.state = $2 ORDER BY ${order} LIMIT $3 OFFSET $4`,
      [queue, STATE[request.state], request.limit, request.offset],
    );
    return rows.map((row) => ({ ...withStory(messageStatus(row), row), body: row.body, headers: row.headers ?? undefined }));
  }

  async content(id: string): Promise<MessageContent | undefined> {
    const { rows } = await this.#query<{ queue: string; body: string; headers: Record<string, string> | null }>(
      "content",
      `SELECT queue, body, headers FROM ${this.#s}.messages WHERE id = $1`,
      [id],
    );
    if (rows.length === 0) return undefined;
    return { id, queue: rows[0].queue, body: rows[0].body, headers: rows[0].headers ?? undefined };
  }

  /**
   * A completed message's status while its queue's retention keeps it: by age here; by count
   * where the rows are (`trim_completed` at each ack for a count up to 1,000, the sweep beyond).
   */
  async #completedStatus(id: string): Promise<MessageStatus | undefined> {
    const s = this.#s;
    const { rows } = await this.#query<CompletedRow & StoryColumns & { now: number; options: ResolvedQueueOptions }>(
      "status",
      `SELECT c.*, q.options, ${s}.now_ms() AS now,
         (SELECT progress FROM ${s}.stories WHERE id = c.id) AS story_progress, (SELECT log FROM ${s}.stories WHERE id = c.id) AS story_log,
         (SELECT result FROM ${s}.stories WHERE id = c.id) AS story_result
       FROM ${s}.completed c JOIN ${s}.queues q ON q.name = c.queue WHERE c.id = $1`,
      [id],
    );
    if (rows.length === 0) return undefined;
    const row = rows[0];
    if (!completedStatusVisible(row.completed_at, row.now, row.options)) return undefined;
    return withStory(completedStatus(row), row);
  }

  async idempotentId(queue: string, key: string): Promise<string | undefined> {
    const { rows } = await this.#query<{ id: string }>(
      "idempotentId",
      `SELECT id FROM ${this.#s}.idempotency WHERE queue = $1 AND key = $2 AND expires_at > ${this.#s}.now_ms()`,
      [queue, key],
    );
    return rows[0]?.id;
  }

  // ── dead letters ────────────────────────────────────────────────────────────────────────

  async listDead(queue: string, page: { cursor?: string; limit: number; reason?: DeadReason }): Promise<DeadLetterPage> {
    let after = 0;
    if (page.cursor !== undefined) {
      if (!/^\d{1,15}$/.test(page.cursor)) {
        throw new ValidationError(`dead letters of "${queue}": cursor must come from a previous page, got "${page.cursor}"`, [{ path: "/cursor", message: "not a cursor" }]);
      }
      after = Number(page.cursor);
    }
    await this.#requireQueue(queue);
    const { rows } = await this.#query<MessageRow>(
      `dead letters of "${queue}"`,
      `SELECT * FROM ${this.#s}.messages WHERE queue = $1 AND state = 4 AND dead_seq > $2 AND ($4::text IS NULL OR dead_reason = $4)
       ORDER BY dead_seq LIMIT $3`,
      [queue, after, page.limit + 1, page.reason ?? null],
    );
    const more = rows.length > page.limit;
    const items = (more ? rows.slice(0, page.limit) : rows).map(toDeadLetter);
    const result: DeadLetterPage = { items };
    if (more && items.length > 0) result.nextCursor = String(rows[page.limit - 1].dead_seq);
    return result;
  }

  async replayDead(queue: string, selection: ReplaySelection): Promise<number> {
    await this.#requireQueue(queue);
    const ids = "all" in selection ? null : selection.ids;
    const { rows } = await this.#query<{ n: number }>(`replay dead letters of "${queue}"`, `SELECT ${this.#s}.replay($1, $2::text[]) AS n`, [queue, ids]);
    if (rows[0].n > 0) this.#wakeups.wake(queue);
    return rows[0].n;
  }

  async deleteDead(queue: string, id: string): Promise<boolean> {
    await this.#requireQueue(queue);
    const { rowCount } = await this.#query("deleteDead", `DELETE FROM ${this.#s}.messages WHERE id = $1 AND queue = $2 AND state = 4`, [id, queue]);
    return (rowCount ?? 0) > 0;
  }

  async purgeDead(queue: string): Promise<number> {
    await this.#requireQueue(queue);
    const { rowCount } = await this.#query("purgeDead", `DELETE FROM ${this.#s}.messages WHERE queue = $1 AND state = 4`, [queue]);
    return rowCount ?? 0;
  }

  // ── exchanges ───────────────────────────────────────────────────────────────────────────

  async declareExchange(name: string, type: ExchangeType): Promise<void> {
    const s = this.#s;
    const { rows } = await this.#query<{ type: string }>(
      "declareExchange",
      `WITH made AS (INSERT INTO ${s}.exchanges (name, type) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING type)
       SELECT type FROM made UNION ALL SELECT type FROM ${s}.exchanges WHERE name = $1`,
      [name, type],
    );
    if (rows[0].type !== type) throw new ConflictError(`exchange "${name}" already exists with type "${rows[0].type}", not "${type}"`);
  }

  async deleteExchange(name: string): Promise<boolean> {
    const { rowCount } = await this.#query("deleteExchange", `DELETE FROM ${this.#s}.exchanges WHERE name = $1`, [name]);
    return (rowCount ?? 0) > 0;
  }

  async bind(exchange: string, queue: string, bindingKey: string): Promise<void> {
    const s = this.#s;
    const { rows } = await this.#query<{ found: boolean }>(
      "bind",
      `WITH ex AS (SELECT name FROM ${s}.exchanges WHERE name = $1 FOR SHARE),
         made AS (INSERT INTO ${s}.queues (name, options, created_at) SELECT $2, $4, ${s}.now_ms() FROM ex ON CONFLICT (name) DO NOTHING),
         bound AS (INSERT INTO ${s}.bindings (exchange, queue, binding_key) SELECT name, $2, $3 FROM ex ON CONFLICT DO NOTHING)
       SELECT EXISTS (SELECT 1 FROM ex) AS found`,
      [exchange, queue, bindingKey, JSON.stringify(resolveQueueOptions())],
    );
    if (!rows[0].found) throw new NotFoundError(`exchange "${exchange}" does not exist`);
  }

  async unbind(exchange: string, queue: string, bindingKey: string): Promise<boolean> {
    const s = this.#s;
    const { rows } = await this.#query<{ found: boolean; removed: boolean }>(
      "unbind",
      `WITH gone AS (DELETE FROM ${s}.bindings WHERE exchange = $1 AND queue = $2 AND binding_key = $3 RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM ${s}.exchanges WHERE name = $1) AS found, EXISTS (SELECT 1 FROM gone) AS removed`,
      [exchange, queue, bindingKey],
    );
    if (!rows[0].found) throw new NotFoundError(`exchange "${exchange}" does not exist`);
    return rows[0].removed;
  }

  async getExchange(name: string): Promise<ExchangeInfo | undefined> {
    return (await this.#exchanges(name))[0];
  }

  async listExchanges(): Promise<ExchangeInfo[]> {
    return this.#exchanges(null);
  }

  async #exchanges(name: string | null): Promise<ExchangeInfo[]> {
    const s = this.#s;
    const { rows } = await this.#query<{ name: string; type: ExchangeType; bindings: Array<{ queue: string; bindingKey: string }> }>(
      "exchanges",
      `SELECT e.name, e.type, coalesce((SELECT json_agg(json_build_object('queue', b.queue, 'bindingKey', b.binding_key) ORDER BY b.created_seq)
                                         FROM ${s}.bindings b WHERE b.exchange = e.name), '[]') AS bindings
       FROM ${s}.exchanges e WHERE $1::text IS NULL OR e.name = $1 ORDER BY e.created_seq`,
      [name],
    );
    return rows.map((row) => ({ name: row.name, type: row.type, bindings: row.bindings }));
  }

  // ── wake-ups and time ───────────────────────────────────────────────────────────────────

  watch(queue: string, listener: () => void): () => void {
    this.#checkOpen();
    return this.#wakeups.watch(queue, listener);
  }

  onEvents(sink: QueueEventSink): () => void {
    this.#checkOpen();
    return this.#events.subscribe(sink);
  }

  /**
   * Applies what fell due on `queue` (waiting for another process applying it too, so a read
   * after it is up to date) or, in the background, on all queues (null); arms the timer for what
   * falls due next.
   */
  async #tick(queue: string | null): Promise<void> {
    const { rows } = await this.#query<{ next: number | null }>("tick", `SELECT ${this.#s}.tick($1, $2) AS next`, [queue, queue !== null]);
    if (rows[0].next !== null) this.#armTick(rows[0].next);
  }

  #armTick(at: number): void {
    if (this.#closed || at >= this.#tickAt) return;
    this.#tickTimer?.cancel();
    this.#tickAt = at;
    this.#tickTimer = this.clock.setTimer(() => {
      this.#tickTimer = undefined;
      this.#tickAt = Infinity;
      this.#runTick();
    }, at - this.clock.now());
  }

  /** A tick in the background: its failure (the database is away) is the sweep's to retry. */
  #runTick(): void {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    this.#tick(null)
      .catch(() => {})
      .finally(() => (this.#ticking = false));
  }

  #sweep(): void {
    this.#runTick();
    if (++this.#sweeps % SWEEP_EVERY_TICKS !== 0 || this.#closed) return;
    this.#query("sweep", `SELECT ${this.#s}.sweep()`).catch(() => {});
    // The offset to the database's clock drifts as the machines' clocks do.
    this.clock.measure(() => this.#databaseNow()).catch(() => {});
  }

  async #databaseNow(): Promise<number> {
    return (await this.#query<{ now: number }>("clock", `SELECT ${this.#s}.now_ms() AS now`)).rows[0].now;
  }

  async #requireQueue(name: string): Promise<void> {
    const { rowCount } = await this.#query("queue", `SELECT 1 FROM ${this.#s}.queues WHERE name = $1`, [name]);
    if (rowCount === 0) throw queueNotFound(name);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#pendingAcks.length > 0) this.#flushAcks();
    this.#closed = true;
    this.#tickTimer?.cancel();
    clearInterval(this.#sweepTimer);
    this.#events.close();
    for (const timer of this.#rateTimers.values()) timer.cancel();
    this.#rateTimers.clear();
    await this.#wakeups.close();
    await this.#pool.end().catch(() => {});
  }
}

interface QueueRow {
  name: string;
  options: ResolvedQueueOptions;
  paused: boolean;
}

interface StatsRow {
  paused: boolean;
  now: number;
  by_priority: number[];
  group_waiting: number;
  delayed: number;
  leased: number;
  dead: number;
  oldest: number | null;
  published: number;
  completed: number;
  retried: number;
  dead_total: number;
}

function queueInfo(row: QueueRow): QueueInfo {
  return { name: row.name, options: resolveQueueOptions({}, row.options), paused: row.paused };
}

/**
 * A bounded label for `what` (`lease from "emails"` → `lease`, `nack 01J…` → `nack`): its first
 * word, which is always a literal of this file, never a queue name or an id.
 */
function operationOf(what: string): string {
  return /^[A-Za-z]+/.exec(what)?.[0] ?? "query";
}

function queueNotFound(name: string): NotFoundError {
  return new NotFoundError(`queue "${name}" does not exist`);
}

function nackOutcome(state: number, availableAt: number): NackOutcome {
  if (state === STATE.dead) return { state: "dead", availableAt, deadReason: "expired" };
  return { state: state === STATE.delayed ? "delayed" : "ready", availableAt };
}

/** Whether time-driven work is due for this row: its delay passed, its lease or its TTL ran out. */
function isDue(row: MessageRow, now: number): boolean {
  if (row.state === STATE.delayed && row.available_at <= now) return true;
  if (row.state === STATE.leased && (row.lease_until as number) <= now) return true;
  return row.state !== STATE.leased && row.state !== STATE.dead && row.expires_at !== null && row.expires_at <= now;
}

/** A store on PostgreSQL shared by any number of processes (docs/postgres.md). */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(options);
}

/** A message's story as the status reads join it (the `stories` table). */
interface StoryColumns {
  story_progress: unknown;
  story_log: MessageLogEntry[] | null;
  story_result: unknown;
}

function withStory(status: MessageStatus, row: StoryColumns): MessageStatus {
  if (row.story_progress !== null && row.story_progress !== undefined) status.progress = row.story_progress;
  if (row.story_log !== null && row.story_log !== undefined && row.story_log.length > 0) status.log = row.story_log.map((entry) => ({ at: Number(entry.at), line: entry.line }));
  if (row.story_result !== null && row.story_result !== undefined && status.state === "completed") status.result = row.story_result;
  return status;
}
