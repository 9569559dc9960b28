/**
 * Batch delivery's storage in the data directory (DeliveryStorage, delivery-storage.ts):
 * templates, batches, expander progress and every message-log change as an append-only record
 * log in `<dataDir>/delivery/`, built from the durable log's parts (log/) — the segment log
 * (group commit, CRC framing), `readLog` recovery (torn tail truncated, mid-log corruption
 * refused), atomic snapshots and the directory lock — plus the recipient files and the
 * recipient-token secret beside it. *
 *   open:   lock → newest valid snapshot → replay later records through `DeliveryState.apply`.
 *   write:  apply to the state at once (readers and the status rules see it immediately), append
 *           the record, resolve once durable under the fsync policy (like a publish).
 *   compact: after `snapshotEveryRecords` records (or as many as the state holds recipients, if
 *           more), export the state and seal the log in the same instant, write the snapshot,
 *           keep two, delete the segments neither needs.
 *   fault:  a refused append rejects its caller; the store then rebuilds its state from what is
 *           on disk (SegmentLog.recover) before the next write.
 */
import path from "node:path";
import { defaults } from "../../config/defaults.js";
import { UnavailableError } from "../../core/errors.js";
import { nodeJournalFs, type JournalFs } from "../../log/journal-fs.js";
import { acquireDirLock, type DirLock } from "../../log/lock-file.js";
import { readLog, type JournalWarning, type ReadLogResult } from "../../log/recovery.js";
import { SegmentLog, type FsyncPolicy } from "../../log/segment-log.js";
import { deleteCoveredSegments, pruneSnapshots, writeSnapshot } from "../../log/snapshot-file.js";
import { DeliveryState, RECORD_TYPES, type DeliveryRecord, type SnapshotData } from "../delivery-state.js";
import { loadOrCreateSecret } from "../realtime/recipient-tokens.js";
import { diskRecipientFiles, type RecipientFiles } from "../recipient-files.js";
import type { DeliveryStorage } from "./delivery-storage.js";

export interface JournalDeliveryStorageOptions {
  /** Default `always`. */
  fsync?: FsyncPolicy;
  /** Snapshot after this many records (default 200,000), or as many as the state holds recipients if more. */
  snapshotEveryRecords?: number;
  fs?: JournalFs;
  onWarning?: (warning: JournalWarning) => void;
  /** A background snapshot failed (the log keeps growing until one succeeds). */
  onFault?: (error: unknown) => void;
  /**
   * Where the recipient-token secret is kept (default: `recipient-token-secret` beside `dir`, since
   * `dir` itself is the log's and is locked and scanned as such).
   */
  secretFile?: string;
}

const TYPE_KEYS = ["", "template", "batch", "expanded", "change", "forget"] as const;

export class JournalDeliveryStorage implements DeliveryStorage {
  readonly recipients: RecipientFiles;
  readonly dir: string;
  #state = new DeliveryState();
  #hook: DeliveryState["onStatus"];
  #forgetHook: DeliveryState["onForget"];
  readonly #options: JournalDeliveryStorageOptions;
  readonly #fs: JournalFs;
  #log: SegmentLog | undefined;
  #lock: DirLock | undefined;
  #sinceSnapshot = 0;
  #snapshotting: Promise<void> | undefined;
  #recovering: Promise<void> | undefined;
  #closed = false;

  private constructor(dir: string, options: JournalDeliveryStorageOptions) {
    this.dir = dir;
    this.#options = options;
    this.#fs = options.fs ?? nodeJournalFs;
    this.recipients = diskRecipientFiles(path.join(dir, "batches"));
  }

  /** The durable storage in `dir` (created if missing). */
  static async open(dir: string, options: JournalDeliveryStorageOptions = {}): Promise<JournalDeliveryStorage> {
    const store = new JournalDeliveryStorage(dir, options);
    await store.#open(dir);
    return store;
  }

  get state(): DeliveryState {
    return this.#state;
  }

  get onStatus(): DeliveryState["onStatus"] {
    return this.#hook;
  }
  /** Called for every status move applied from now on (not for replayed ones). */
  set onStatus(hook: DeliveryState["onStatus"]) {
    this.#hook = hook;
    this.#state.onStatus = hook;
  }

  get onForget(): DeliveryState["onForget"] {
    return this.#forgetHook;
  }
  /** Called for every batch forgotten from now on (not for replayed ones). */
  set onForget(hook: DeliveryState["onForget"]) {
    this.#forgetHook = hook;
    this.#state.onForget = hook;
  }

  async #open(dir: string): Promise<void> {
    const fs = this.#fs;
    await fs.mkdir(dir);
    await fs.mkdir(path.join(dir, "batches"));
    this.#lock = await acquireDirLock(fs, dir);
    try {
      const result = await readLog(fs, dir);
      for (const warning of result.warnings) this.#options.onWarning?.(warning);
      this.#rebuild(result);
      this.#log = await SegmentLog.open({ fs, dir, end: result.end, fsync: this.#options.fsync });
    } catch (error) {
      await this.#lock.release();
      throw error;
    }
  }

  #rebuild(result: ReadLogResult): void {
    const state = result.snapshot ? DeliveryState.import(JSON.parse(result.snapshot.data.toString("utf8")) as SnapshotData) : new DeliveryState();
    for (const record of result.records) {
      const key = TYPE_KEYS[record.type];
      if (key === undefined || key === "") continue; // a newer record type: skipped, not fatal
      state.apply({ k: key, ...(JSON.parse(record.payload.toString("utf8")) as object) } as DeliveryRecord);
    }
    this.#sinceSnapshot = result.records.length;
    state.onStatus = this.#hook;
    state.onForget = this.#forgetHook;
    this.#state = state;
  }

  /** Applies `record` now; resolves once it is durable. Returns whether it changed anything. */
  async write(record: DeliveryRecord): Promise<boolean> {
    if (this.#closed) throw new UnavailableError("the delivery storage is closed");
    if (this.#recovering) await this.#recovering;
    const log = this.#log;
    if (log?.fault) throw log.fault;
    const changed = this.#state.apply(record);
    if (!changed || log === undefined) return changed; // log: undefined only until open completes
    const { k, ...payload } = record;
    try {
      await log.append(RECORD_TYPES[k], Buffer.from(JSON.stringify(payload), "utf8"));
    } catch (error) {
      this.#recoverSoon();
      throw error;
    }
    if (++this.#sinceSnapshot >= (this.#options.snapshotEveryRecords ?? defaults.delivery.snapshotEveryRecords) && this.#sinceSnapshot >= this.#recipients()) {
      void this.snapshot().catch((error: unknown) => this.#options.onFault?.(error));
    }
    return true;
  }

  /** Recipients in the state: a snapshot costs time in proportion, so it waits for as many records. */
  #recipients(): number {
    let recipients = 0;
    for (const batch of this.#state.batches.values()) recipients += batch.total;
    return recipients;
  }

  #recoverSoon(): void {
    const log = this.#log;
    if (!log || this.#recovering || this.#closed) return;
    this.#recovering = (async () => {
      try {
        this.#rebuild(await log.recover());
      } finally {
        this.#recovering = undefined;
      }
    })().catch(() => undefined);
  }

  /** Writes a snapshot now and deletes the segments it makes unnecessary. */
  snapshot(): Promise<void> {
    const log = this.#log;
    const dir = this.dir;
    if (!log) return Promise.resolve();
    this.#snapshotting ??= (async () => {
      try {
        if (log.fault || log.needsRecovery) return;
        const data = Buffer.from(JSON.stringify(this.#state.export()), "utf8");
        const position = log.seal();
        this.#sinceSnapshot = 0;
        await log.flush();
        await writeSnapshot(this.#fs, dir, position, data);
        const oldestKept = await pruneSnapshots(this.#fs, dir, 2);
        if (oldestKept) await deleteCoveredSegments(this.#fs, dir, oldestKept);
      } finally {
        this.#snapshotting = undefined;
      }
    })();
    return this.#snapshotting;
  }

  /** One process owns the directory (its lock): nothing to catch up with. */
  sync(): Promise<void> {
    return Promise.resolve();
  }

  tokenSecret(): Promise<string> {
    return loadOrCreateSecret(this.#options.secretFile ?? path.join(path.dirname(this.dir), "recipient-token-secret"));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#snapshotting?.catch(() => undefined);
    await this.#recovering;
    const results = await Promise.allSettled([this.#log?.close()]);
    await this.#lock?.release();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}
