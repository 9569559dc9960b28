/**
 * Batch delivery's storage on the PostgreSQL store (DeliveryStorage, delivery-storage.ts), for
 * many processes on one database (tables: store/postgres/migrations/002-delivery.ts).
 *
 *   state     the records the journal keeps (template, batch, expanded, change, forget) are rows
 *             of `delivery_records`, numbered in one order (`seq` = commit order, no gaps). Every
 *             process keeps the state in memory, built by applying every record in that order
 *             with the same `DeliveryState.apply`, so every process answers every read alike and
 *             the status rules decide the same everywhere (a move another process made first is
 *             refused here too). Reads stay synchronous and in memory, as on the journal.
 *   write     records written in the same event-loop turn (and while the previous append runs)
 *             are one `delivery_append` statement; the call resolves once its record is committed
 *             AND applied here, with what applying it changed.
 *   catch-up  `r:<seq>` notifications (sent by every append at commit) pull the new records;
 *             `sync()` pulls before a read that must see another process's writes, and a pull
 *             runs every `syncEveryMs` anyway (a notification lost with a dropped connection).
 *   expand    one expander per batch: a lease row in `delivery_expansions` (owner, expiry,
 *             renewed every third of `expansionLeaseMs`). A chunk's publish, its `expanded` record
 *             and the row's `expanded_up_to` move in ONE transaction, fenced on the owner and on
 *             where the chunk starts: a chunk is published exactly once, whoever expands it and
 *             however a process dies. A batch whose expander died is claimed by another process
 *             once the lease has run out.
 *   hand-off  `h:<logId>` notifications: the process that ran a websocket job tells the others,
 *             and whichever holds the recipient's connection pushes the message.
 *   recipients  `delivery_recipients` rows (one per recipient, by index) until the batch is
 *             expanded; `delivery_uploads` marks an upload in progress (a request that died
 *             before its batch was recorded is removed after an hour).
 *
 * compaction  after `snapshotEveryRecords` records (or as many as the state holds recipients, if
 *             more) one process (an advisory lock) writes the state as a snapshot at its `seq`
 *             and deletes the records the PREVIOUS snapshot covers: a process that lags behind
 *             has a whole snapshot interval to catch up, and one that lags further (it finds a
 *             gap in the seqs) rebuilds its state from the newest snapshot.
 */
import { hostname } from "node:os";
import { defaults } from "../../config/defaults.js";
import pg from "pg";
import type { Logger } from "pino";
import { UnavailableError } from "../../core/errors.js";
import { newId } from "../../core/ids.js";
import { schemaNames } from "../../store/postgres/migrations.js";
import { deliveryChannelOf } from "../../store/postgres/migrations/002-delivery.js";
import { inTransaction } from "../../store/postgres/transaction.js";
import { toSpoolError } from "../../store/postgres/pg-errors.js";
import type { PostgresStore } from "../../store/postgres/postgres-store.js";
import { DeliveryState, RECORD_TYPES, type DeliveryRecord, type SnapshotData } from "../delivery-state.js";
import { generateSecret } from "../realtime/recipient-tokens.js";
import type { RecipientFiles, RecipientSink, StoredRecipient } from "../recipient-files.js";
import type { DeliveryStorage, ExpansionClaim, ExpansionCoordinator, HandOffRelay } from "./delivery-storage.js";

export interface PostgresDeliveryStorageOptions {
  /** An expander that has not renewed its claim for this long loses it to another process (default 10 s). */
  expansionLeaseMs?: number;
  /** How often a process looks for batches no one is expanding (default 1 s). */
  expansionCheckMs?: number;
  /** A pull of new records at least this often, whatever the notifications (default 1 s). */
  syncEveryMs?: number;
  /** Connections of the storage's own pool (default 4), besides one for LISTEN. */
  poolSize?: number;
  /** Snapshot after this many records (default 200,000), or as many as the state holds recipients if more. */
  snapshotEveryRecords?: number;
  logger?: Pick<Logger, "warn">;
}

const KINDS = ["", "template", "batch", "expanded", "change", "forget"] as const;
const PAGE = 5_000;
const MAX_APPEND = 5_000;
const RECIPIENT_ROWS = 1_000;
const STALE_UPLOAD_MS = 3_600_000;

interface PendingWrite {
  record: DeliveryRecord;
  resolve: (changed: boolean) => void;
  reject: (error: unknown) => void;
}

export class PostgresDeliveryStorage implements DeliveryStorage {
  #state = new DeliveryState();
  readonly recipients: RecipientFiles;
  readonly expansions: ExpansionCoordinator;
  readonly relay: HandOffRelay;
  /** This process's name in expansion claims: host, pid and a random part. */
  readonly owner = `${hostname()}:${process.pid}:${newId()}`;
  readonly #pool: pg.Pool;
  readonly #poolOptions: pg.PoolConfig;
  readonly #s: string;
  readonly #channel: string;
  readonly #leaseMs: number;
  readonly #syncEveryMs: number;
  readonly #snapshotEvery: number;
  /** The seq of the newest snapshot this process knows of. */
  #snapshotAt = 0;
  #snapshotting: Promise<void> | undefined;
  readonly #logger: PostgresDeliveryStorageOptions["logger"];
  #listener: pg.Client | undefined;
  #listenRetry: NodeJS.Timeout | undefined;
  #syncTimer: NodeJS.Timeout | undefined;
  #applied = 0;
  #pulling: Promise<void> | undefined;
  #pullAgain = false;
  /** Apply results by seq, kept while appends of this process are in flight (their starting `#applied` here). */
  readonly #results = new Map<number, boolean>();
  readonly #tracked = new Set<{ from: number }>();
  #queue: PendingWrite[] = [];
  #flushing: Promise<void> | undefined;
  /** Set and cleared synchronously, so a write made as the last append resolves still finds a flush to join or starts one. */
  #flushRunning = false;
  /** Batches recorded by this process: their recipient ids are known here already. */
  readonly #localBatches = new Set<string>();
  readonly #handOffListeners = new Set<(logId: string) => void>();
  #opened = false;
  #closed = false;

  private constructor(store: PostgresStore, options: PostgresDeliveryStorageOptions) {
    const { quoted, channel } = schemaNames(store.schema);
    this.#s = quoted;
    this.#channel = deliveryChannelOf(channel);
    this.#leaseMs = options.expansionLeaseMs ?? 10_000;
    this.#syncEveryMs = options.syncEveryMs ?? 1_000;
    this.#snapshotEvery = options.snapshotEveryRecords ?? defaults.delivery.snapshotEveryRecords;
    this.#logger = options.logger;
    // The store's connection settings (types, statement timeout…), in a pool of our own: delivery
    // work never waits behind the queue's connections, nor they behind it.
    this.#poolOptions = { ...store.pool.options, max: options.poolSize ?? 4 };
    this.#pool = new pg.Pool(this.#poolOptions);
    this.#pool.on("error", () => undefined); // an idle connection that died: the next query reconnects
    // …and one lost while checked out between two statements: its next statement fails instead.
    this.#pool.on("connect", (client) => client.on("error", () => undefined));
    this.recipients = this.#recipientRows();
    const checkEveryMs = options.expansionCheckMs ?? 1_000;
    this.expansions = { claim: (batchId) => this.#claim(batchId), checkEveryMs };
    this.relay = {
      send: async (logId) => {
        await this.#query("hand-off", "SELECT pg_notify($1, $2)", [this.#channel, `h:${logId}`]);
      },
      onHandOff: (listener) => {
        this.#handOffListeners.add(listener);
        return () => this.#handOffListeners.delete(listener);
      },
    };
  }

  /** Opens the storage of `store`'s schema (migrated by the store): listens, then replays every record. */
  static async open(store: PostgresStore, options: PostgresDeliveryStorageOptions = {}): Promise<PostgresDeliveryStorage> {
    const storage = new PostgresDeliveryStorage(store, options);
    try {
      await storage.#listen();
      await storage.#load();
      await storage.#pull();
    } catch (error) {
      await storage.close().catch(() => undefined);
      throw toSpoolError(error, "opening the delivery storage");
    }
    storage.#opened = true;
    storage.#syncTimer = setInterval(() => void storage.sync().catch((error: unknown) => storage.#logger?.warn({ err: error }, "delivery storage: catching up failed")), storage.#syncEveryMs);
    storage.#syncTimer.unref();
    return storage;
  }

  /** The state; rebuilt from a snapshot (a new object) when this process fell behind the compaction. */
  get state(): DeliveryState {
    return this.#state;
  }

  get onStatus(): DeliveryState["onStatus"] {
    return this.#state.onStatus;
  }
  set onStatus(hook: DeliveryState["onStatus"]) {
    this.#state.onStatus = hook;
  }
  get onForget(): DeliveryState["onForget"] {
    return this.#state.onForget;
  }
  set onForget(hook: DeliveryState["onForget"]) {
    this.#state.onForget = hook;
  }

  /** Replaces the state with the newest snapshot's (none: an empty state at seq 0). */
  async #load(): Promise<void> {
    const { rows } = await this.#query<{ upto: number; data: string }>("reading the delivery snapshot", `SELECT upto, data FROM ${this.#s}.delivery_snapshots ORDER BY upto DESC LIMIT 1`);
    const state = rows.length === 0 ? new DeliveryState() : DeliveryState.import(JSON.parse(rows[0].data) as SnapshotData);
    state.onStatus = this.#state.onStatus;
    state.onForget = this.#state.onForget;
    this.#state = state;
    this.#applied = rows[0]?.upto ?? 0;
    this.#snapshotAt = this.#applied;
  }

  // ── writing ───────────────────────────────────────────────────────────────────────────

  write(record: DeliveryRecord): Promise<boolean> {
    if (this.#closed) return Promise.reject(new UnavailableError("the delivery storage is closed"));
    if (record.k === "batch") {
      this.#localBatches.add(record.batch.id);
      if (record.batch.idempotencyKey !== undefined) return this.#writeKeyedBatch(record, record.batch.idempotencyKey);
    }
    return new Promise<boolean>((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      if (!this.#flushRunning) {
        this.#flushRunning = true;
        this.#flushing = this.#flush();
      }
    });
  }

  /** One append at a time; what arrives meanwhile goes in the next one (group commit). */
  async #flush(): Promise<void> {
    await Promise.resolve(); // the rest of this turn's writes join the first append
    for (;;) {
      if (this.#queue.length === 0) {
        // Cleared in the same job that saw the queue empty: a writer resumed by the last batch's
        // resolution (a later microtask) starts the next flush itself.
        this.#flushRunning = false;
        return;
      }
      const batch = this.#queue.splice(0, MAX_APPEND);
      const track = this.#track();
      try {
        const { rows } = await this.#query<{ last: number }>("writing delivery records", `SELECT ${this.#s}.delivery_append($1::smallint[], $2::text[]) AS last`, columns(batch.map((w) => w.record)));
        const first = rows[0].last - batch.length + 1;
        await this.#until(rows[0].last);
        batch.forEach((w, i) => w.resolve(this.#results.get(first + i) ?? false));
      } catch (error) {
        for (const w of batch) w.reject(error);
      } finally {
        this.#untrack(track);
      }
    }
  }

  /** A batch with an idempotency key: recorded only with its key (false: another batch holds the key). */
  async #writeKeyedBatch(record: DeliveryRecord, key: string): Promise<boolean> {
    const s = this.#s;
    const batchId = (record as Extract<DeliveryRecord, { k: "batch" }>).batch.id;
    // Nothing is written when the key is taken, so that transaction commits as harmlessly as it would roll back.
    let last: number | undefined;
    try {
      last = await inTransaction(this.#pool, async (client) => {
        const reserved = await client.query(`INSERT INTO ${s}.delivery_batch_keys (key, batch_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [key, batchId]);
        if (reserved.rowCount === 0) return undefined;
        const appended = await client.query<{ last: number }>(`SELECT ${s}.delivery_append($1::smallint[], $2::text[]) AS last`, columns([record]));
        return appended.rows[0].last;
      });
    } catch (error) {
      throw toSpoolError(error, `recording batch ${batchId}`);
    }
    if (last === undefined) {
      this.#localBatches.delete(batchId);
      await this.sync(); // the batch that holds the key, for the caller to answer
      return false;
    }
    await this.#until(last);
    return true;
  }

  /** Starts keeping apply results (for an append about to run); its seqs are all above `#applied` now. */
  #track(): { from: number } {
    const track = { from: this.#applied };
    this.#tracked.add(track);
    return track;
  }

  #untrack(track: { from: number }): void {
    this.#tracked.delete(track);
    if (this.#tracked.size === 0) {
      this.#results.clear();
      return;
    }
    const floor = Math.min(...[...this.#tracked].map((t) => t.from));
    for (const seq of this.#results.keys()) {
      if (seq > floor) break; // insertion order is seq order
      this.#results.delete(seq);
    }
  }

  // ── reading other processes' records ─────────────────────────────────────────────────

  sync(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#pull();
  }

  /** Applies every committed record not applied yet; a call while a pull runs makes it pull once more. */
  #pull(): Promise<void> {
    if (this.#pulling) {
      this.#pullAgain = true;
      return this.#pulling;
    }
    this.#pulling = (async () => {
      do {
        this.#pullAgain = false;
        await this.#pullOnce();
      } while (this.#pullAgain && !this.#closed);
    })().finally(() => (this.#pulling = undefined));
    return this.#pulling;
  }

  async #pullOnce(): Promise<void> {
    for (;;) {
      const { rows } = await this.#query<{ seq: number; kind: number; payload: string }>(
        "reading delivery records",
        `SELECT seq, kind, payload FROM ${this.#s}.delivery_records WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`,
        [this.#applied],
      );
      if (rows.length > 0 && rows[0].seq !== this.#applied + 1) {
        // Records this process had not applied were compacted away: start again from the snapshot.
        this.#logger?.warn({ applied: this.#applied, next: rows[0].seq }, "delivery storage: fell behind the compaction; reloading the snapshot");
        await this.#load();
        await this.#fillAllIds();
        continue;
      }
      for (const row of rows) {
        const key = KINDS[row.kind];
        if (key === undefined || key === "") {
          this.#applied = row.seq; // a newer record type: skipped, not fatal
          continue;
        }
        const record = { k: key, ...(JSON.parse(row.payload) as object) } as DeliveryRecord;
        const changed = this.#state.apply(record);
        if (this.#tracked.size > 0) this.#results.set(row.seq, changed);
        this.#applied = row.seq;
        // Another process's batch: its pending entries show their recipients, as on the process that took it.
        if (record.k === "batch" && changed && !this.#localBatches.delete(record.batch.id) && this.#opened) await this.#fillIds(record.batch.id);
      }
      if (rows.length < PAGE) break;
    }
    if (this.#applied - this.#snapshotAt >= Math.max(this.#snapshotEvery, this.#recipientCount()) && this.#opened) {
      this.#snapshotting ??= this.#writeSnapshot()
        .catch((error: unknown) => this.#logger?.warn({ err: error }, "delivery storage: snapshot failed"))
        .finally(() => (this.#snapshotting = undefined));
    }
  }

  #recipientCount(): number {
    let recipients = 0;
    for (const batch of this.#state.batches.values()) recipients += batch.total;
    return recipients;
  }

  /** Recipient ids of the entries not expanded yet, for every batch (after a reload). */
  async #fillAllIds(): Promise<void> {
    for (const batch of this.#state.batches.values()) if (batch.expandedUpTo < batch.total) await this.#fillIds(batch.id);
  }

  /** Resolves once records up to `seq` are applied here. */
  async #until(seq: number): Promise<void> {
    while (this.#applied < seq && !this.#closed) await this.#pull();
  }

  async #fillIds(batchId: string): Promise<void> {
    const batch = this.#state.batches.get(batchId);
    if (!batch) return;
    let from = batch.expandedUpTo;
    for (;;) {
      const { rows } = await this.#query<{ idx: number; recipient_id: string }>(
        "reading recipient ids",
        `SELECT idx, recipient_id FROM ${this.#s}.delivery_recipients WHERE batch_id = $1 AND idx >= $2 ORDER BY idx LIMIT ${PAGE}`,
        [batchId, from],
      );
      for (const row of rows) batch.recipientIds.fill(row.idx, row.recipient_id);
      if (rows.length < PAGE) return;
      from = rows[rows.length - 1].idx + 1;
    }
  }

  // ── notifications ────────────────────────────────────────────────────────────────────

  async #listen(): Promise<void> {
    const client = new pg.Client(this.#poolOptions);
    client.on("notification", (message) => this.#onNotification(message.payload));
    const lost = () => {
      if (this.#listener !== client || this.#closed) return;
      this.#listener = undefined;
      client.end().catch(() => undefined);
      this.#relisten();
    };
    client.on("error", lost);
    client.on("end", lost);
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#channel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#listener = client;
  }

  #relisten(): void {
    if (this.#closed) return;
    this.#listenRetry = setTimeout(() => {
      this.#listen().then(
        // Notifications sent meanwhile are lost: pull what was written.
        () => void this.sync().catch(() => undefined),
        () => this.#relisten(),
      );
    }, 500);
    this.#listenRetry.unref();
  }

  #onNotification(payload: string | undefined): void {
    if (!payload || this.#closed) return;
    if (payload.startsWith("r:")) {
      if (Number(payload.slice(2)) > this.#applied) void this.sync().catch((error: unknown) => this.#logger?.warn({ err: error }, "delivery storage: catching up failed"));
    } else if (payload.startsWith("h:")) {
      const logId = payload.slice(2);
      this.sync().then(
        () => {
          for (const listener of this.#handOffListeners) listener(logId);
        },
        (error: unknown) => this.#logger?.warn({ err: error, logId }, "delivery storage: a hand-off could not be read"),
      );
    }
  }

  // ── expansion claims ─────────────────────────────────────────────────────────────────

  async #claim(batchId: string): Promise<ExpansionClaim | undefined> {
    const s = this.#s;
    const { rows } = await this.#query<{ expanded_up_to: number }>(
      "claiming a batch's expansion",
      `INSERT INTO ${s}.delivery_expansions AS e (batch_id, owner, lease_until) VALUES ($1, $2, ${s}.now_ms() + $3)
       ON CONFLICT (batch_id) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
         WHERE e.owner IS NULL OR e.owner = EXCLUDED.owner OR e.lease_until < ${s}.now_ms()
       RETURNING expanded_up_to`,
      [batchId, this.owner, this.#leaseMs],
    );
    if (rows.length === 0) return undefined;
    const from = rows[0].expanded_up_to;
    // What the previous expander published is recorded in the same transactions: have it applied.
    await this.sync();
    const lost = new AbortController();
    let renewedAt = Date.now();
    let released = false;
    const renew = setInterval(() => {
      if (Date.now() - renewedAt > this.#leaseMs) lost.abort(); // not renewed in time: another may hold it now
      this.#query("renewing a batch's expansion", `UPDATE ${s}.delivery_expansions SET lease_until = ${s}.now_ms() + $3 WHERE batch_id = $1 AND owner = $2`, [batchId, this.owner, this.#leaseMs]).then(
        (result) => {
          if (result.rowCount === 0) lost.abort();
          else renewedAt = Date.now();
        },
        (error: unknown) => this.#logger?.warn({ err: error, batchId }, "renewing a batch's expansion claim failed"),
      );
    }, Math.max(50, Math.floor(this.#leaseMs / 3)));
    renew.unref();
    return {
      from,
      signal: lost.signal,
      publishChunk: async (chunkFrom, count, publish, records) => {
        if (lost.signal.aborted) return false;
        const published = await this.#publishChunk(batchId, chunkFrom, count, publish, records);
        if (!published) lost.abort();
        else renewedAt = Date.now();
        return published;
      },
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        if (this.#closed) return;
        await this.#query("releasing a batch's expansion", `UPDATE ${s}.delivery_expansions SET owner = NULL, lease_until = 0 WHERE batch_id = $1 AND owner = $2`, [batchId, this.owner]);
      },
    };
  }

  async #publishChunk(batchId: string, from: number, count: number, publish: (transaction: unknown) => Promise<void>, records: DeliveryRecord[]): Promise<boolean> {
    if (this.#closed) throw new UnavailableError("the delivery storage is closed");
    const s = this.#s;
    // A lost claim writes nothing, so that transaction commits as harmlessly as it would roll back.
    let last: number | undefined;
    try {
      last = await inTransaction(this.#pool, async (client) => {
        const fenced = await client.query(
          `UPDATE ${s}.delivery_expansions SET expanded_up_to = $3 + $4, lease_until = ${s}.now_ms() + $5 WHERE batch_id = $1 AND owner = $2 AND expanded_up_to = $3`,
          [batchId, this.owner, from, count, this.#leaseMs],
        );
        if (fenced.rowCount === 0) return undefined;
        await publish(client);
        // Last, so the head row (which orders every append) is held only to the commit.
        const appended = await client.query<{ last: number }>(`SELECT ${s}.delivery_append($1::smallint[], $2::text[]) AS last`, columns(records));
        return appended.rows[0].last;
      });
    } catch (error) {
      throw toSpoolError(error, `publishing a chunk of batch ${batchId}`);
    }
    if (last === undefined) return false;
    await this.#until(last);
    return true;
  }

  // ── recipients ───────────────────────────────────────────────────────────────────────

  #recipientRows(): RecipientFiles {
    const s = this.#s;
    return {
      create: (batchId) => {
        let rows: StoredRecipient[] = [];
        let next = 0;
        let started = false;
        const flush = async () => {
          if (!started) {
            started = true;
            await this.#query("recording an upload", `INSERT INTO ${s}.delivery_uploads (batch_id, started_at) VALUES ($1, ${s}.now_ms()) ON CONFLICT DO NOTHING`, [batchId]);
          }
          if (rows.length === 0) return;
          const batch = rows;
          rows = [];
          const first = next;
          next += batch.length;
          await this.#query(
            "writing recipients",
            `INSERT INTO ${s}.delivery_recipients (batch_id, idx, recipient_id, data) SELECT $1, $2 + t.i - 1, t.id, t.data FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS t(id, data, i)`,
            [batchId, first, batch.map((r) => r.id), batch.map((r) => JSON.stringify(r))],
          );
        };
        const sink: RecipientSink = {
          write: (recipient) => {
            rows.push(recipient);
            if (rows.length >= RECIPIENT_ROWS) return flush();
          },
          commit: flush,
          abort: async () => {
            rows = [];
            await this.#removeRecipients(batchId).catch(() => undefined);
          },
        };
        return sink;
      },
      read: (batchId, from) => this.#readRecipients(batchId, from),
      remove: (batchId) => this.#removeRecipients(batchId),
      // Uploads no batch may still be waiting for: the caller removes those no batch record names.
      list: async () => {
        const { rows } = await this.#query<{ batch_id: string }>("listing uploads", `SELECT batch_id FROM ${s}.delivery_uploads WHERE started_at < ${s}.now_ms() - $1`, [STALE_UPLOAD_MS]);
        return rows.map((row) => row.batch_id);
      },
    };
  }

  async *#readRecipients(batchId: string, from: number): AsyncGenerator<StoredRecipient> {
    let index = from;
    for (;;) {
      const { rows } = await this.#query<{ idx: number; data: string }>(
        "reading recipients",
        `SELECT idx, data FROM ${this.#s}.delivery_recipients WHERE batch_id = $1 AND idx >= $2 ORDER BY idx LIMIT ${RECIPIENT_ROWS}`,
        [batchId, index],
      );
      for (const row of rows) {
        if (row.idx !== index) return; // a gap: the rows end here (the expander fails the rest)
        index++;
        yield JSON.parse(row.data) as StoredRecipient;
      }
      if (rows.length < RECIPIENT_ROWS) return;
    }
  }

  async #removeRecipients(batchId: string): Promise<void> {
    await this.#query("removing recipients", `DELETE FROM ${this.#s}.delivery_recipients WHERE batch_id = $1`, [batchId]);
    await this.#query("removing an upload", `DELETE FROM ${this.#s}.delivery_uploads WHERE batch_id = $1`, [batchId]);
  }

  // ── the rest ─────────────────────────────────────────────────────────────────────────

  /**
   * Writes the state as of the last record applied here as the newest snapshot, and deletes the
   * records (and snapshots) the previous snapshot covered. One process at a time; a process that
   * finds a newer snapshot than this state does nothing. One this process started in the
   * background is waited for first, so the caller's snapshot is not skipped for it.
   */
  async snapshot(): Promise<void> {
    await this.#snapshotting;
    await this.#writeSnapshot();
  }

  async #writeSnapshot(): Promise<void> {
    const s = this.#s;
    const upto = this.#applied;
    // Exported now, in this turn: the state is exactly the records up to `upto`.
    const data = JSON.stringify(this.#state.export());
    try {
      // Skipped (another process snapshots, or a newer snapshot exists): nothing written, the commit is harmless.
      this.#snapshotAt = await inTransaction(this.#pool, async (client) => {
        const locked = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok", [`spool-delivery-snapshot:${s}`]);
        const newest = await client.query<{ upto: number | null }>(`SELECT max(upto) AS upto FROM ${s}.delivery_snapshots`);
        const previous = newest.rows[0].upto ?? 0;
        if (!locked.rows[0].ok || previous >= upto) return Math.max(this.#snapshotAt, previous);
        await client.query(`INSERT INTO ${s}.delivery_snapshots (upto, data, made_at) VALUES ($1, $2, ${s}.now_ms())`, [upto, data]);
        await client.query(`DELETE FROM ${s}.delivery_snapshots WHERE upto < $1`, [previous]);
        await client.query(`DELETE FROM ${s}.delivery_records WHERE seq <= $1`, [previous]);
        return upto;
      });
    } catch (error) {
      throw toSpoolError(error, "writing a delivery snapshot");
    }
  }

  async tokenSecret(): Promise<string> {
    const s = this.#s;
    await this.#query("making the token secret", `INSERT INTO ${s}.delivery_secret (id, secret) VALUES (1, $1) ON CONFLICT DO NOTHING`, [generateSecret()]);
    const { rows } = await this.#query<{ secret: string }>("reading the token secret", `SELECT secret FROM ${s}.delivery_secret WHERE id = 1`);
    return rows[0].secret;
  }

  async #query<R extends pg.QueryResultRow>(what: string, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    if (this.#closed) throw new UnavailableError("the delivery storage is closed");
    try {
      return await this.#pool.query<R>(text, values);
    } catch (error) {
      throw toSpoolError(error, what);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#flushing?.catch(() => undefined);
    this.#closed = true;
    clearInterval(this.#syncTimer);
    clearTimeout(this.#listenRetry);
    await this.#pulling?.catch(() => undefined);
    await this.#snapshotting;
    const listener = this.#listener;
    this.#listener = undefined;
    await Promise.allSettled([listener?.end(), this.#pool.end()]);
  }
}

/** The kinds and payloads of `records`, as `delivery_append` takes them. */
function columns(records: DeliveryRecord[]): [number[], string[]] {
  const kinds: number[] = [];
  const payloads: string[] = [];
  for (const record of records) {
    const { k, ...payload } = record;
    kinds.push(RECORD_TYPES[k]);
    payloads.push(JSON.stringify(payload));
  }
  return [kinds, payloads];
}
