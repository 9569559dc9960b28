/**
 * The PostgreSQL store's publish path: many publishes become few statements (a group commit of
 * their own), and a publish inside the caller's transaction (the outbox) is one statement in it.
 * One statement publishes a whole batch through the `publish` SQL function, with its fields as
 * column arrays (`unnest`), so its cost barely grows with the batch.
 */
import type pg from "pg";
import { resolveQueueOptions } from "../../config/resolve.js";
import { limits } from "../../config/limits.js";
import { ValidationError } from "../../core/errors.js";
import { newId } from "../../core/ids.js";
import type { PublishInput, PublishOutcome } from "../../core/operations.js";
import type { StorePublishOptions } from "../store.js";

/** What the caller's transaction must look like: a node-postgres client (or pool-client) inside BEGIN. */
export interface Queryable {
  query: pg.ClientBase["query"];
}

/** Runs one statement on the store's pool (or `on`, the caller's transaction); `prepared` names a hot statement. */
export interface StatementRunner {
  run<R extends pg.QueryResultRow>(what: string, text: string, values?: unknown[], on?: Queryable, prepared?: string): Promise<pg.QueryResult<R>>;
}

/** Publish statements on the pool at once; the publishes that come meanwhile go together (publish()). */
const PUBLISHES_IN_FLIGHT = 4;

interface WaitingPublish {
  inputs: PublishInput[];
  resolve: (outcomes: PublishOutcome[]) => void;
  reject: (error: unknown) => void;
}

export class PgPublisher {
  readonly #schema: string;
  readonly #query: StatementRunner;
  readonly #wake: (queue: string) => void;
  readonly #now: () => number;
  #waitingPublishes: WaitingPublish[] = [];
  #publishesInFlight = 0;

  /** `wake`: tells this process's consumers of a queue that it got messages; `now`: the store's clock (for ids). */
  constructor(deps: { schema: string; query: StatementRunner; wake: (queue: string) => void; now: () => number }) {
    this.#schema = deps.schema;
    this.#query = deps.query;
    this.#wake = deps.wake;
    this.#now = deps.now;
  }

  /**
   * Publishes on the pool take turns as a group commit does: up to PUBLISHES_IN_FLIGHT statements
   * run at once, and the publishes that come meanwhile wait and go together as one statement (up
   * to maxPublishBatch messages), so many single publishes are few round trips and commits. Each
   * caller's batch stays atomic on its own: when a combined statement fails, every caller's batch
   * is run again alone, so one refused publish (a full queue) does not fail the others.
   */
  publish(inputs: PublishInput[], options?: StorePublishOptions): Promise<PublishOutcome[]> {
    if (options?.transaction !== undefined) return this.#publishNow(inputs, asTransaction(options.transaction));
    if (this.#publishesInFlight < PUBLISHES_IN_FLIGHT) return this.#publishAlone(inputs);
    return new Promise((resolve, reject) => {
      this.#waitingPublishes.push({ inputs, resolve, reject });
    });
  }

  async #publishAlone(inputs: PublishInput[]): Promise<PublishOutcome[]> {
    this.#publishesInFlight++;
    try {
      return await this.#publishNow(inputs);
    } finally {
      this.#publishesInFlight--;
      this.#nextPublishes();
    }
  }

  /** Sends the publishes that waited for a free turn, as one statement. */
  #nextPublishes(): void {
    if (this.#waitingPublishes.length === 0 || this.#publishesInFlight >= PUBLISHES_IN_FLIGHT) return;
    const group: WaitingPublish[] = [];
    let count = 0;
    while (this.#waitingPublishes.length > 0) {
      const next = this.#waitingPublishes[0];
      if (group.length > 0 && count + next.inputs.length > limits.maxPublishBatch) break;
      group.push(next);
      count += next.inputs.length;
      this.#waitingPublishes.shift();
    }
    this.#publishesInFlight++;
    this.#publishGroup(group).finally(() => {
      this.#publishesInFlight--;
      this.#nextPublishes();
    });
  }

  async #publishGroup(group: WaitingPublish[]): Promise<void> {
    if (group.length === 1) {
      await this.#publishNow(group[0].inputs).then(group[0].resolve, group[0].reject);
      return;
    }
    try {
      const outcomes = await this.#publishNow(group.flatMap((entry) => entry.inputs));
      let offset = 0;
      for (const entry of group) {
        entry.resolve(outcomes.slice(offset, offset + entry.inputs.length));
        offset += entry.inputs.length;
      }
    } catch {
      // Nothing of the combined statement was written: each batch alone, in the order they came.
      for (const entry of group) await this.#publishNow(entry.inputs).then(entry.resolve, entry.reject);
    }
  }

  async #publishNow(inputs: PublishInput[], transaction?: Queryable): Promise<PublishOutcome[]> {
    const n = inputs.length;
    const now = this.#now();
    const ids = new Array<string>(n);
    const queues = new Array<string>(n);
    const bodies = new Array<string>(n);
    const headers = new Array<string | null>(n);
    const priorities = new Array<number>(n);
    const availableAt = new Array<number | null>(n);
    const delayMs = new Array<number | null>(n);
    const ttlMs = new Array<number | null>(n);
    const maxAttempts = new Array<number | null>(n);
    const dedupKeys = new Array<string | null>(n);
    const idempotencyKeys = new Array<string | null>(n);
    const groupKeys = new Array<string | null>(n);
    const correlationIds = new Array<string | null>(n);
    const causationIds = new Array<string | null>(n);
    for (let i = 0; i < n; i++) {
      const input = inputs[i];
      ids[i] = newId(now);
      queues[i] = input.queue;
      bodies[i] = input.body;
      headers[i] = input.headers === undefined ? null : JSON.stringify(input.headers);
      priorities[i] = input.priority;
      availableAt[i] = input.availableAt ?? null;
      delayMs[i] = input.delayMs ?? null;
      ttlMs[i] = input.ttlMs ?? null;
      maxAttempts[i] = input.maxAttempts ?? null;
      dedupKeys[i] = input.dedupKey ?? null;
      idempotencyKeys[i] = input.idempotencyKey ?? null;
      groupKeys[i] = input.groupKey ?? null;
      correlationIds[i] = input.correlationId ?? null;
      causationIds[i] = input.causationId ?? null;
    }
    const { rows } = await this.#query.run<{ i: number; id: string; replaced: boolean }>(
      "publish",
      `SELECT i, id, replaced FROM ${this.#schema}.publish($1::jsonb, $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int[], $7::bigint[],
         $8::bigint[], $9::bigint[], $10::int[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])`,
      [
        JSON.stringify(resolveQueueOptions()), ids, queues, bodies, headers, priorities, availableAt,
        delayMs, ttlMs, maxAttempts, dedupKeys, idempotencyKeys, groupKeys, correlationIds, causationIds,
      ],
      transaction,
      "publish",
    );
    const outcomes = new Array<PublishOutcome>(n);
    for (let i = 0; i < n; i++) outcomes[i] = { id: ids[i], queue: queues[i], replaced: false, duplicate: false };
    for (const row of rows) {
      const outcome = outcomes[row.i - 1];
      outcome.id = row.id;
      if (row.replaced) outcome.replaced = true;
      else outcome.duplicate = true;
    }
    // In the caller's transaction nothing is visible until it commits; NOTIFY wakes everyone then.
    if (!transaction) for (const queue of new Set(queues)) this.#wake(queue);
    return outcomes;
  }
}

function asTransaction(transaction: unknown): Queryable {
  if (transaction !== null && typeof transaction === "object" && typeof (transaction as Queryable).query === "function") return transaction as Queryable;
  throw new ValidationError("publish: transaction must be a node-postgres client inside the caller's open transaction (BEGIN)", [
    { path: "/transaction", message: "not a pg client" },
  ]);
}
