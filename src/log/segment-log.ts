/**
 * The append side of the journal: segmented, append-only files of CRC-framed records, with
 * group commit.
 *
 * Group commit. Appends are collected in memory and written by a "flight": one write of every
 * collected record, then (policy `always`) one fdatasync, then every waiter of that flight is
 * resolved. Only one flight runs at a time; appends that arrive while it runs wait for the NEXT
 * flight, because the running fdatasync may already have passed their bytes (R1). A flight is
 * started with `setImmediate`, not `queueMicrotask`: a microtask would run after the first I/O
 * callback of a loop turn, while `setImmediate` runs after ALL of that turn's I/O callbacks (say,
 * fifty HTTP requests that arrived together), so they share one write and one fdatasync. The
 * cost is one loop turn of latency, well under the fdatasync itself.
 *
 * When an append resolves (the durability contract, by `fsync` policy):
 *   always   after the fdatasync covering its record returned 0. Default.
 *   interval after its write() returned (it survives a crash of the process, not of the machine);
 *            an fdatasync runs at most `fsyncIntervalMs` after any unsynced write, so a power loss
 *            drops at most that window of acknowledged records (lost ≤ rate × interval).
 *   never    after its write() returned; the log syncs only on rotation, `flush()` and `close()`.
 * `flush()` resolves once everything appended before it is fdatasynced, under every policy.
 *
 * Faults. A failed or short write is rolled back by truncating the segment to where the flight
 * began (R2); that flight's appends, and those queued behind it, reject with `unavailable`; the
 * next flight may succeed, so writes resume without a restart once space returns (R8). A failed
 * fdatasync, or a failed rollback, rejects every waiter of the flight and POISONS the log (R3):
 * every later append rejects `unavailable` until `recover()` cuts away what was never
 * acknowledged, re-reads the disk (`readLog`) and hands the result to the owner, who rebuilds its
 * state from it.
 *
 * The owner's state and the log DIVERGE whenever an append is rejected (the owner applied a
 * change the log does not have). Until `recover()`, `flush()` rejects, so a snapshot cannot
 * persist a change whose append failed; `needsRecovery` tells the owner to rebuild.
 *
 * Segments. A flight that finds the current segment at or over `segmentMaxBytes` (or one that
 * `seal()` asked for) first fdatasyncs the old segment, then creates the next one and fsyncs the
 * directory (R4). A segment can therefore exceed the limit by one flight. Rotation happens only
 * between flights, so a flight writes one file.
 */
import { TooLargeError, UnavailableError } from "../core/errors.js";
import { systemClock, type Clock, type TimerHandle } from "../util/clock.js";
import { fsFailure } from "./errors.js";
import { errorCode, writeAll, type JournalFile, type JournalFs } from "./journal-fs.js";
import { comparePositions, formatPosition, segmentPath, segmentsIn, type LogPosition } from "./layout.js";
import { FRAME_HEADER_BYTES, MAX_PAYLOAD_BYTES, writeFrame } from "./record-codec.js";
import { readLog, type ReadLogOptions, type ReadLogResult } from "./recovery.js";
import { defaults } from "../config/defaults.js";

export type FsyncPolicy = "always" | "interval" | "never";

export interface SegmentLogOptions {
  fs: JournalFs;
  dir: string;
  /** Where the log continues: `readLog(...).end`. */
  end: LogPosition;
  /** Default `always`. */
  fsync?: FsyncPolicy;
  /** Policy `interval` only. Default 1000. */
  fsyncIntervalMs?: number;
  /** Default 64 MiB. */
  segmentMaxBytes?: number;
  /** Default `MAX_PAYLOAD_BYTES`. */
  maxPayloadBytes?: number;
  /** Runs the `interval` timer. Default `systemClock`. */
  clock?: Clock;
  /** Called once each time the log is poisoned, e.g. by a background (`interval`) fdatasync that failed with nobody waiting. */
  onFault?: (error: UnavailableError) => void;
  /** Observer of each fdatasync that returned 0 (see `SegmentLog.onFsync`). */
  onFsync?: (seconds: number) => void;
}

export interface SegmentLogStats {
  /** Records written (each counted once). */
  records: number;
  /** Flights that wrote records: one write() call each (chunked only past 16 MiB). */
  groups: number;
  /** fdatasyncs that returned 0, rotation syncs included. */
  fdatasyncs: number;
  /** Records made durable by those fdatasyncs. */
  syncedRecords: number;
  /** The group-commit factor: syncedRecords / fdatasyncs. */
  recordsPerFdatasync: number;
  bytesWritten: number;
  segment: number;
  poisoned: boolean;
  /** Flights whose appends were rejected (write, rotation or fdatasync failures). */
  failedGroups: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const EMPTY_FRAMES = Buffer.alloc(0);

/**
 * Appends collected together, framed as they arrive into one growing buffer (the caller's
 * payload is copied, so it may reuse its buffer at once). All appends of a batch share one
 * promise: they succeed or fail as one.
 */
class Batch {
  #frames = EMPTY_FRAMES;
  records = 0;
  bytes = 0;
  /** Resolves when the batch's records are acknowledged under the policy. */
  done: Deferred | undefined;
  /** Resolves when the batch's records are fdatasynced (`flush()` waits on it). */
  synced: Deferred | undefined;
  constructor(readonly sealBefore: boolean) {}

  add(type: number, payload: Uint8Array): void {
    const needed = this.bytes + FRAME_HEADER_BYTES + payload.length;
    if (needed > this.#frames.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.#frames.length * 2, 4096));
      this.#frames.copy(grown, 0, 0, this.bytes);
      this.#frames = grown;
    }
    this.bytes = writeFrame(this.#frames, this.bytes, type, payload);
    this.records++;
  }

  /** The framed records, ready to write. */
  get frames(): Buffer {
    return this.#frames.subarray(0, this.bytes);
  }

  fail(error: Error): void {
    this.done?.reject(error);
    this.synced?.reject(error);
  }
}


export class SegmentLog {
  readonly dir: string;
  readonly policy: FsyncPolicy;
  readonly #fs: JournalFs;
  readonly #intervalMs: number;
  readonly #segmentMaxBytes: number;
  readonly #maxPayloadBytes: number;
  readonly #clock: Clock;
  readonly #onFault: ((error: UnavailableError) => void) | undefined;
  /**
   * Called after each fdatasync that returned 0 (rotation syncs included) with how long it took,
   * in seconds. Settable at any time; while unset no clock is read. Must not throw (an exception
   * is reported as a process warning and otherwise ignored: the record is durable regardless).
   */
  onFsync: ((seconds: number) => void) | undefined;
  /**
   * Called just before a scheduled flight takes the pending batches: the owner's last chance to
   * append records it collects over a turn (the journal store's run of acks) into this flight.
   * Must not throw.
   */
  beforeFlight: (() => void) | undefined;

  #file: JournalFile | undefined;
  /** Bytes written (page cache) and not rolled back. */
  #end: LogPosition;
  /** Covered by an fdatasync that returned 0. */
  #synced: LogPosition;
  /** Every record before this has been acknowledged to its caller. */
  #acked: LogPosition;

  #pending: Batch[] = [];
  #sealNext = false;
  /** The end position of the running flight's records. */
  #flightEnd: LogPosition | undefined;
  #flying: Promise<void> | undefined;
  #scheduled = false;
  #syncDue = false;
  #timer: TimerHandle | undefined;
  #poisoned: UnavailableError | undefined;
  /** Set when any append was rejected since open / the last recover(). */
  #diverged: UnavailableError | undefined;
  #closed: Promise<void> | undefined;
  #recovering: Promise<ReadLogResult> | undefined;

  #records = 0;
  #groups = 0;
  #fdatasyncs = 0;
  #syncedRecords = 0;
  #unsyncedRecords = 0;
  #bytesWritten = 0;
  #failedGroups = 0;

  private constructor(options: SegmentLogOptions) {
    this.dir = options.dir;
    this.policy = options.fsync ?? defaults.journal.fsync;
    this.#fs = options.fs;
    this.#intervalMs = options.fsyncIntervalMs ?? defaults.journal.fsyncIntervalMs;
    this.#segmentMaxBytes = options.segmentMaxBytes ?? defaults.journal.segmentMaxBytes;
    this.#maxPayloadBytes = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    this.#clock = options.clock ?? systemClock;
    this.#onFault = options.onFault;
    this.onFsync = options.onFsync;
    this.#end = this.#synced = this.#acked = { segment: options.end.segment, offset: options.end.offset };
  }

  /**
   * Opens the log for appending at `options.end` (from `readLog`, which has already truncated
   * any torn tail). Rejects if the directory does not match that position.
   */
  static async open(options: SegmentLogOptions): Promise<SegmentLog> {
    if (!(Number.isInteger(options.end.segment) && options.end.segment >= 1 && Number.isInteger(options.end.offset) && options.end.offset >= 0)) {
      throw new RangeError(`end must be a log position, got ${JSON.stringify(options.end)}`);
    }
    const log = new SegmentLog(options);
    await log.#checkDirectory();
    return log;
  }

  /**
   * Where the next appended record will start, counting appends not yet written: the position a
   * snapshot of the owner's state taken now covers. Simulates the placement rules of `#fly`.
   */
  get position(): LogPosition {
    let position = this.#flightEnd ?? this.#end;
    let nextOpensFlight = true;
    for (let i = 0; i < this.#pending.length; i++) {
      const batch = this.#pending[i];
      const startsFlight = i === 0 || batch.sealBefore;
      if (startsFlight && batch.records > 0 && this.#wouldRotate(position, batch.sealBefore)) position = { segment: position.segment + 1, offset: 0 };
      position = { segment: position.segment, offset: position.offset + batch.bytes };
      // A record joins the last batch; it opens the flight only if that batch (a flush barrier) has none yet.
      nextOpensFlight = startsFlight && batch.records === 0;
    }
    if ((nextOpensFlight || this.#sealNext) && this.#wouldRotate(position, this.#sealNext)) position = { segment: position.segment + 1, offset: 0 };
    return position;
  }

  get stats(): SegmentLogStats {
    return {
      records: this.#records,
      groups: this.#groups,
      fdatasyncs: this.#fdatasyncs,
      syncedRecords: this.#syncedRecords,
      recordsPerFdatasync: this.#fdatasyncs === 0 ? 0 : this.#syncedRecords / this.#fdatasyncs,
      bytesWritten: this.#bytesWritten,
      segment: this.#end.segment,
      poisoned: this.#poisoned !== undefined,
      failedGroups: this.#failedGroups,
    };
  }

  /**
   * True once an append was rejected: the owner's state may hold a change the log lacks, so it
   * must call `recover()` and rebuild from the result. Until then `flush()` rejects.
   */
  get needsRecovery(): boolean {
    return this.#poisoned !== undefined || this.#diverged !== undefined;
  }

  /**
   * Why `recover()` is needed, if it is: the fault that poisoned the log (writes stopped), or
   * the first rejected append (writes go on, but the owner's state has a change the log lacks).
   * Cleared by a successful `recover()`.
   */
  get fault(): UnavailableError | undefined {
    return this.#poisoned ?? this.#diverged;
  }

  /**
   * Appends one record; resolves once it is durable under the fsync policy, rejects with
   * `unavailable` if it is not (then it was not acknowledged, and `recover()` removes it if the
   * log was poisoned). `payload` is copied: the caller may reuse it at once.
   */
  append(type: number, payload: Uint8Array): Promise<void> {
    if (this.#poisoned) return Promise.reject(this.#poisoned);
    if (this.#closed) return Promise.reject(new UnavailableError(`journal ${this.dir}: the log is closed`));
    if (!Number.isInteger(type) || type < 1 || type > 255) return Promise.reject(new RangeError(`journal record type must be an integer 1–255, got ${type}`));
    if (payload.length > this.#maxPayloadBytes) {
      return Promise.reject(new TooLargeError(`journal record is ${payload.length} bytes, over the ${this.#maxPayloadBytes}-byte limit`));
    }
    let batch = this.#pending.length > 0 && !this.#sealNext ? this.#pending[this.#pending.length - 1] : undefined;
    if (!batch) {
      batch = new Batch(this.#sealNext);
      this.#sealNext = false;
      this.#pending.push(batch);
    }
    batch.add(type, payload);
    batch.done ??= deferred();
    this.#schedule();
    return batch.done.promise;
  }

  /**
   * Makes the next appended record start a new segment, so that a snapshot taken now lets every
   * earlier segment be deleted. Returns the position that snapshot covers (= `position`).
   */
  seal(): LogPosition {
    const position = this.position;
    if (position.offset === 0) return position;
    this.#sealNext = true;
    return { segment: position.segment + 1, offset: 0 };
  }

  /**
   * Resolves once everything appended before this call is fdatasynced, whatever the policy.
   * Rejects if any append was rejected since open / the last `recover()` (see `needsRecovery`),
   * so "flush, then write a snapshot of my state" never persists a change the log refused.
   */
  flush(): Promise<void> {
    if (this.#poisoned) return Promise.reject(this.#poisoned);
    if (this.#closed) return Promise.reject(new UnavailableError(`journal ${this.dir}: the log is closed`));
    if (this.#diverged) return Promise.reject(this.#divergedError());
    return this.#barrier();
  }

  #divergedError(): UnavailableError {
    return new UnavailableError(`journal ${this.dir}: appends were rejected since the log was opened or recovered; call recover() and rebuild before flushing`, this.#diverged);
  }

  #barrier(): Promise<void> {
    if (this.#pending.length === 0 && !this.#flying && comparePositions(this.#synced, this.#end) === 0) return Promise.resolve();
    let batch = this.#pending[this.#pending.length - 1];
    if (!batch) this.#pending.push((batch = new Batch(false)));
    batch.synced ??= deferred();
    this.#schedule();
    return batch.synced.promise;
  }

  /**
   * After a fault: cuts off what was written but never acknowledged (so a rejected append can
   * never reappear), re-reads the directory (`readLog`), and reopens for appending at its end.
   * The owner must rebuild its state from the result (and log its warnings). Rejects, leaving
   * writes stopped, while the fault persists. Called on a healthy log it first rejects whatever is
   * still queued, waits for the running flight, and then does the same.
   */
  recover(options: ReadLogOptions = {}): Promise<ReadLogResult> {
    if (this.#closed) return Promise.reject(new UnavailableError(`journal ${this.dir}: the log is closed`));
    this.#recovering ??= this.#recover(options).finally(() => (this.#recovering = undefined));
    return this.#recovering;
  }

  async #recover(options: ReadLogOptions): Promise<ReadLogResult> {
    this.#stop(this.#poisoned ?? new UnavailableError(`journal ${this.dir}: recovering; writes resume when it completes`));
    await this.#flying;
    await this.#closeFile();
    try {
      await this.#rollBackUnacknowledged();
      const result = await readLog(this.#fs, this.dir, { maxPayloadBytes: this.#maxPayloadBytes, ...options });
      this.#end = this.#synced = this.#acked = result.end;
      this.#unsyncedRecords = 0;
      await this.#checkDirectory();
      this.#poisoned = undefined;
      this.#diverged = undefined;
      this.#syncDue = false;
      return result;
    } catch (error) {
      await this.#closeFile();
      this.#poisoned = error instanceof UnavailableError ? error : fsFailure("recovering", this.dir, error);
      throw this.#poisoned;
    }
  }

  /** Flushes, syncs and closes. Idempotent; later appends reject `unavailable`. Rejects if the final fdatasync failed. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      let failure: unknown;
      if (!this.#poisoned) await this.#barrier().catch((error: unknown) => (failure = error));
      await this.#recovering?.catch(() => undefined);
      await this.#flying;
      this.#timer?.cancel();
      this.#timer = undefined;
      await this.#closeFile();
      // Only a failed final sync is news here: rejected appends were reported to their callers.
      if (failure !== undefined && this.#poisoned === failure) throw failure;
    })();
    return this.#closed;
  }

  // ── flights ───────────────────────────────────────────────────────────────────────────────

  #schedule(): void {
    if (this.#scheduled || this.#flying) return;
    this.#scheduled = true;
    setImmediate(this.#kick);
  }

  readonly #kick = (): void => {
    this.beforeFlight?.(); // still #scheduled: its appends join this kick rather than schedule another
    this.#scheduled = false;
    if (this.#flying || this.#poisoned) return;
    if (this.#pending.length === 0 && !this.#syncDue) return;
    this.#flying = this.#fly().finally(() => {
      this.#flying = undefined;
      if (!this.#poisoned && (this.#pending.length > 0 || this.#syncDue)) this.#schedule();
    });
  };

  #wouldRotate(position: LogPosition, sealBefore: boolean): boolean {
    return position.offset > 0 && (sealBefore || position.offset >= this.#segmentMaxBytes);
  }

  /** One flight: [rotate] → write → [fdatasync] → settle waiters. Never throws. */
  async #fly(): Promise<void> {
    // Take batches up to the next seal: a flight writes one segment.
    let count = 1;
    while (count < this.#pending.length && !this.#pending[count].sealBefore) count++;
    const batches = this.#pending.splice(0, count);
    let records = 0;
    let bytes = 0;
    for (const batch of batches) {
      records += batch.records;
      bytes += batch.bytes;
    }
    const rotate = records > 0 && this.#wouldRotate(this.#end, batches[0].sealBefore);
    const start = rotate ? { segment: this.#end.segment + 1, offset: 0 } : this.#end;
    this.#flightEnd = { segment: start.segment, offset: start.offset + bytes };

    try {
      if (rotate) await this.#rotate();
      if (records > 0) {
        if (!this.#file) this.#file = await this.#openSegment(this.#end.segment);
        // Usually one batch per flight: its frames go out as they are.
        const buffer = batches.length === 1 ? batches[0].frames : Buffer.concat(batches.map((batch) => batch.frames), bytes);
        await this.#write(this.#file, buffer);
        this.#records += records;
        this.#unsyncedRecords += records;
        this.#groups++;
      }
    } catch (error) {
      const failure = error instanceof UnavailableError ? error : fsFailure("writing", this.dir, error);
      this.#failGroup(batches, failure);
      return;
    } finally {
      this.#flightEnd = undefined;
    }

    if (this.policy !== "always") {
      this.#acked = this.#end;
      for (const batch of batches) batch.done?.resolve();
      if (this.policy === "interval") this.#armIntervalSync();
    }
    const wantSync = this.policy === "always" || this.#syncDue || batches.some((batch) => batch.synced);
    if (wantSync) {
      this.#syncDue = false;
      try {
        await this.#sync();
      } catch (error) {
        this.#failGroup(batches, error as Error);
        return;
      }
    }
    if (this.policy === "always") {
      this.#acked = this.#end;
      for (const batch of batches) batch.done?.resolve();
    }
    // An earlier flight failed after this flush() was called: something before it is missing.
    const diverged = this.#diverged && this.#divergedError();
    for (const batch of batches) {
      if (diverged) batch.synced?.reject(diverged);
      else batch.synced?.resolve();
    }
  }

  #failGroup(batches: Batch[], error: Error): void {
    this.#failedGroups++;
    this.#diverged ??= error instanceof UnavailableError ? error : new UnavailableError(error.message, error);
    // Appends queued behind this flight were made before its failure was known: an owner that
    // replays the log may have derived them from the refused records (a lease of a refused
    // publish, an idempotent duplicate of it), so they must not reach the disk without them.
    // Only appends made after the rejection reached the owner (who recovers first) go on.
    const queued = this.#pending.splice(0);
    for (const batch of [...batches, ...queued]) batch.fail(error);
  }

  /** fdatasync of the current segment if it has unsynced bytes; a failure poisons (R3). */
  async #sync(): Promise<void> {
    const file = this.#file;
    if (!file || comparePositions(this.#synced, this.#end) >= 0) return;
    const end = this.#end;
    const started = this.onFsync === undefined ? 0 : performance.now();
    try {
      await file.datasync();
    } catch (error) {
      throw this.#poison(`fdatasync of ${file.path}`, error);
    }
    this.#synced = end;
    this.#fdatasyncs++;
    this.#syncedRecords += this.#unsyncedRecords;
    this.#unsyncedRecords = 0;
    // `started` is 0 if the observer was set during the fdatasync: skip that one sample.
    if (this.onFsync !== undefined && started !== 0) this.#reportFsync((performance.now() - started) / 1000);
  }

  #reportFsync(seconds: number): void {
    try {
      this.onFsync?.(seconds);
    } catch (error) {
      process.emitWarning(`journal ${this.dir}: the fsync observer threw: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Writes `buffer` at the end of the current segment, or rolls the segment back to where it was (R2). */
  async #write(file: JournalFile, buffer: Buffer): Promise<void> {
    const start = this.#end.offset;
    try {
      await writeAll(file, buffer, start);
    } catch (error) {
      try {
        await file.truncate(start);
      } catch (truncateError) {
        throw this.#poison(`rolling back ${file.path} to offset ${start} after a failed write (${errorCode(error) ?? String(error)})`, truncateError);
      }
      throw fsFailure(`appending ${buffer.length} bytes at offset ${start} of`, file.path, error);
    }
    this.#end = { segment: this.#end.segment, offset: start + buffer.length };
    this.#bytesWritten += buffer.length;
  }

  /** Seals the current segment (fdatasync) and starts the next one, durably named (R4). */
  async #rotate(): Promise<void> {
    await this.#sync();
    await this.#closeFile();
    const next = this.#end.segment + 1;
    this.#file = await this.#openSegment(next);
    this.#end = this.#synced = this.#acked = { segment: next, offset: 0 };
  }

  /** Opens segment `segment` for writing, creating it (and fsyncing the directory) if missing. */
  async #openSegment(segment: number): Promise<JournalFile> {
    const file = segmentPath(this.dir, segment);
    let handle: JournalFile;
    let created = true;
    try {
      handle = await this.#fs.open(file, "createNew");
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw fsFailure("creating", file, error);
      created = false;
      try {
        handle = await this.#fs.open(file, "readWrite");
      } catch (openError) {
        throw fsFailure("opening", file, openError);
      }
    }
    try {
      const expected = segment === this.#end.segment ? this.#end.offset : 0;
      const size = await handle.size();
      if (size !== expected) throw new UnavailableError(`journal: ${file} is ${size} bytes but the log continues at offset ${expected}; reopen the directory with readLog`);
      if (created) {
        try {
          await this.#fs.fsyncDir(this.dir);
        } catch (error) {
          throw this.#poison(`fsync of directory ${this.dir} after creating ${file}`, error);
        }
      }
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error instanceof UnavailableError ? error : fsFailure("opening", file, error);
    }
    return handle;
  }

  #armIntervalSync(): void {
    if (this.#timer || comparePositions(this.#synced, this.#end) >= 0) return;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.#syncDue = true;
      this.#schedule();
    }, this.#intervalMs);
  }

  // ── faults ────────────────────────────────────────────────────────────────────────────────

  #poison(what: string, cause: unknown): UnavailableError {
    if (!this.#poisoned) {
      const code = errorCode(cause) ?? (cause instanceof Error ? cause.message : String(cause));
      const error = new UnavailableError(`journal ${this.dir}: ${what} failed (${code}); writes are stopped until recover() re-reads the disk`, cause);
      this.#stop(error);
      this.#onFault?.(error);
    }
    return this.#poisoned!;
  }

  /** Stops taking writes: rejects everything queued with `error`. */
  #stop(error: UnavailableError): void {
    this.#poisoned ??= error;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#sealNext = false;
    const rejected = this.#pending.splice(0);
    if (rejected.some((batch) => batch.records > 0)) this.#diverged ??= this.#poisoned;
    for (const batch of rejected) batch.fail(this.#poisoned);
  }

  async #closeFile(): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    await file?.close().catch(() => undefined);
  }

  /** Deletes segments past the last acknowledged position and truncates its segment there. */
  async #rollBackUnacknowledged(): Promise<void> {
    const acked = this.#acked;
    let names: string[];
    try {
      names = await this.#fs.readdir(this.dir);
    } catch (error) {
      throw fsFailure("listing", this.dir, error);
    }
    const later = segmentsIn(names).filter((segment) => segment > acked.segment);
    for (const segment of later.reverse()) {
      const file = segmentPath(this.dir, segment);
      await this.#fs.unlink(file).catch((error: unknown) => {
        if (errorCode(error) !== "ENOENT") throw fsFailure("deleting unacknowledged segment", file, error);
      });
    }
    const file = segmentPath(this.dir, acked.segment);
    try {
      if (later.length > 0) await this.#fs.fsyncDir(this.dir);
      if (((await this.#fs.stat(file))?.size ?? 0) > acked.offset) {
        const handle = await this.#fs.open(file, "readWrite");
        try {
          await handle.truncate(acked.offset);
          await handle.datasync();
        } finally {
          await handle.close().catch(() => undefined);
        }
      }
    } catch (error) {
      throw fsFailure(`cutting unacknowledged records after ${formatPosition(acked)} from`, file, error);
    }
  }

  /** The directory must end where this log continues: no later segment, current one no longer than `end`. */
  async #checkDirectory(): Promise<void> {
    let names: string[];
    try {
      names = await this.#fs.readdir(this.dir);
    } catch (error) {
      throw fsFailure("listing", this.dir, error);
    }
    const segments = segmentsIn(names);
    const last = segments[segments.length - 1];
    if (last !== undefined && last > this.#end.segment) {
      throw new UnavailableError(`journal ${this.dir}: segment ${last} exists past the end position ${formatPosition(this.#end)}; reopen the directory with readLog`);
    }
    if (last === this.#end.segment) this.#file = await this.#openSegment(this.#end.segment);
  }
}
