/**
 * The embedded durable store: the in-memory engine plus a write-ahead log of the operations that
 * changed it, with periodic snapshots.
 *
 *   write op:  freeze time → run it on the engine (validation errors throw here, nothing logged)
 *              → append {op, time, ids, tokens, jitter} → resolve once durable (publish, lease,
 *              ack, nack, admin) or at once (extend: a lost extend only means an earlier
 *              redelivery after a crash). A lease waits for its record so that the attempt it
 *              starts survives a crash: a handler that takes its process down still reaches
 *              maxAttempts and goes dead (SQS counts a receive when it happens). It shares its
 *              group's fdatasync with the publishes and acks around it.
 *   ack:       as a write op, but successful acks at the same time with nothing else logged between
 *              them form a run that becomes ONE record (`acks`): it is appended before any other
 *              record, seal or close, or when the log's next flight starts (at the latest in a
 *              setImmediate of the turn that opened it), and its acks share that record's group.
 *   read op:   runs on the engine; if it made time-driven changes (a TTL passed…), a `tick`
 *              record keeps the replay exact.
 *   open:      lock the directory → newest valid snapshot → replay later ops → open the log →
 *              only then apply what fell due while the process was down (expired leases, delays,
 *              TTLs) as one logged `tick`, and arm the engine's timer. No time-driven work runs
 *              before the log exists (nor during a rebuild: the new engine's timer starts after it).
 *   snapshot:  export the engine (rows frozen) and seal the log in the same instant; encode in
 *              chunks, yielding between them; flush the log, write the snapshot atomically, keep
 *              two, delete the segments neither needs.
 *   fault:     a failed write or fdatasync poisons the log and starts a recovery: re-read the
 *              disk and rebuild the engine from it (the next write waits for it, or retries it),
 *              so nothing that was refused stays visible and nothing acknowledged is lost. Its
 *              callers are rejected `unavailable` once that rebuild has run, so they cannot read
 *              their refused change back.
 *   timer bug: an exception in time-driven work (the engine's timer, the tick after a rebuild) is
 *              reported to `onFault`, turns the store `unavailable` (writeFault, readiness) and
 *              starts the same rebuild from disk: the process never dies of it, and the engine
 *              never carries on from a half-applied change.
 */
import { JournalOptionsSchema, type QueueOptions } from "../../config/schemas.js";
import { validate } from "../../config/validate.js";
import { NotFoundError, UnavailableError, ValidationError } from "../../core/errors.js";
import { defineSchedule, earliestRun, pauseSchedule, planDue, type FiredSlot, type FireResult, type ScheduleDefinition, type ScheduleRecord } from "../../core/schedule.js";
import type { BrowsedMessage, BrowseState, DeadReason, LeasedStoredMessage, MessageContent, MessageStatus, QueueStats } from "../../core/message.js";
import { Engine } from "../../engine/engine.js";
import type { FrozenRows } from "../../engine/message-table.js";
import type { ExchangeInfo, ExchangeType } from "../../routing/route.js";
import { systemClock, type Clock, type TimerHandle } from "../../util/clock.js";
import type { Store, StoreCapabilities, StorePublishOptions } from "../store.js";
import type { AckItem, AckOutcome, DeadLetterPage, LeaseRequest, NackOutcome, NackRequest, ProgressReport, PublishInput, PublishOutcome, ReplaySelection } from "../../core/operations.js";
import type { QueueInfo } from "../../config/schemas.js";
import { ENGINE_STORE_CAPABILITIES, requireCapability } from "../capabilities.js";
import { BinaryWriter } from "./binary.js";
import { fsFailure } from "../../log/errors.js";
import { JournalClock } from "./journal-clock.js";
import { nodeJournalFs, type JournalFs } from "../../log/journal-fs.js";
import { applyOp, decodeOp, Decisions, encodeAcks, encodeOp, type OpBody } from "./journal-ops.js";
import { acquireDirLock, type DirLock } from "../../log/lock-file.js";
import { readLog, type JournalWarning, type ReadLogResult } from "../../log/recovery.js";
import { SegmentLog, type FsyncPolicy, type SegmentLogStats } from "../../log/segment-log.js";
import { decodeSnapshot, encodeSnapshotChunks } from "./snapshot-codec.js";
import { deleteCoveredSegments, pruneSnapshots, writeSnapshot } from "../../log/snapshot-file.js";
import { defaults } from "../../config/defaults.js";
import type { QueueEvent, QueueEventSink } from "../../core/queue-events.js";
import { EventFanout } from "../event-fanout.js";

export interface JournalStoreOptions {
  /** The data directory (created if missing). One process at a time may open it. */
  dataDir: string;
  /** When a write counts as durable (default `always`: after its group's fdatasync). */
  fsync?: FsyncPolicy;
  /** Policy `interval`: fdatasync at most this long after a write (default 1000 ms). */
  fsyncIntervalMs?: number;
  /** Rotate segments at this size (default 64 MiB). */
  segmentMaxBytes?: number;
  /** Snapshot after this many logged operations, or as many as the last snapshot held messages if more (default 100,000). */
  snapshotEveryOps?: number;
  /** …or this long after the last snapshot, if anything was logged (default 60 s). */
  snapshotEveryMs?: number;
  /** Open a log with corruption in the middle by cutting it there (default false: refuse). */
  repair?: boolean;
  /** Receives recovery warnings (a torn tail truncated…). Default: `console.warn`. */
  onWarning?: (warning: JournalWarning) => void;
  clock?: Clock;
  /** Source of backoff jitter (tests make it deterministic). */
  random?: () => number;
  /** The file-system seam; tests pass fault-injecting or power-loss doubles. */
  fs?: JournalFs;
  /** Called after each successful fdatasync with its duration in seconds (see also `observeFsync`). */
  onFsync?: (seconds: number) => void;
  /**
   * Hears a failure of background work nobody awaits, with what was running: a timer that threw
   * (the store then rebuilds from disk and is unavailable until it has), a background snapshot
   * that failed. Default: `console.error`.
   */
  onFault?: (error: Error, during: string) => void;
}

const OP_RECORD = 1;
/** Snapshot encoding yields to the event loop after each chunk of about this size (a few ms of work). */
const SNAPSHOT_CHUNK_BYTES = 1 << 20;

export class JournalStore implements Store {
  readonly name = "journal";
  readonly capabilities: StoreCapabilities = Object.freeze({ ...ENGINE_STORE_CAPABILITIES, snapshots: true });
  readonly clock: Clock;
  readonly #options: JournalStoreOptions;
  readonly #fs: JournalFs;
  readonly #engineClock: JournalClock;
  readonly #decisions: Decisions;
  readonly #opWriter = new BinaryWriter(4096);
  /** The last append's promise (shared by a whole group of appends). */
  #lastAppended: Promise<void> | undefined;
  /** What the group's durable writers wait on: `#lastAppended`, whose rejection waits for the rebuild. */
  #lastDurable: Promise<void> | undefined;
  #engine!: Engine;
  #log!: SegmentLog;
  #lock: DirLock | undefined;
  readonly #watchers = new Map<string, { listeners: Set<() => void>; unwatch: () => void }>();
  #opsSinceSnapshot = 0;
  /** Messages the last snapshot wrote: the next one waits for at least as many operations. */
  #lastSnapshotSize = 0;
  #snapshotTimer: TimerHandle | undefined;
  #snapshotting: Promise<void> | undefined;
  #recovering: Promise<void> | undefined;
  /** Set when a rebuild from disk failed: the engine may hold changes the log refused. */
  #stale: Error | undefined;
  #opened = false;
  #closing: Promise<void> | undefined;
  readonly #fsyncObservers = new Set<(seconds: number) => void>();
  /** The open ack run (see `ack`), or undefined. */
  #ackRun: AckRun | undefined;
  /** The run's acks (ids and tokens, `#ackRun.count` of them), reused from run to run. */
  readonly #runIds: string[] = [];
  readonly #runTokens: string[] = [];
  /** Queue events' listeners; while there are any, the engine's events collect in `#collected`. */
  readonly #events = new EventFanout((active) => this.#engine?.setEventSink(active ? this.#collect : undefined));
  /**
   * Events the engine made whose records are not yet released: each batch is handed on once the
   * group holding its records is durable (`#releaseEvents`), so nobody hears of a change the disk refused.
   */
  #collected: QueueEvent[] = [];
  readonly #collect = (event: QueueEvent): void => void this.#collected.push(event);

  constructor(options: JournalStoreOptions) {
    checkJournalOptions(options);
    this.#options = options;
    this.#fs = options.fs ?? nodeJournalFs;
    this.#decisions = new Decisions(options.random);
    this.clock = options.clock ?? systemClock;
    this.#engineClock = new JournalClock(this.clock, (callback, now) => this.#onEngineTimer(callback, now));
  }

  /** Group-commit and durability figures of the log (records per fdatasync…). */
  get logStats(): SegmentLogStats {
    return this.#log.stats;
  }

  /**
   * Calls `observer` with the duration in seconds of each fdatasync that succeeds from now on
   * (metrics use it). Returns an unsubscribe. With no observer the log reads no clock.
   */
  observeFsync(observer: (seconds: number) => void): () => void {
    this.#fsyncObservers.add(observer);
    if (this.#opened) this.#log.onFsync = this.#fsyncHook();
    return () => {
      this.#fsyncObservers.delete(observer);
      if (this.#opened) this.#log.onFsync = this.#fsyncHook();
    };
  }

  #fsyncHook(): ((seconds: number) => void) | undefined {
    return this.#options.onFsync === undefined && this.#fsyncObservers.size === 0 ? undefined : this.#emitFsync;
  }

  readonly #emitFsync = (seconds: number): void => {
    this.#options.onFsync?.(seconds);
    for (const observer of this.#fsyncObservers) observer(seconds);
  };

  async open(): Promise<void> {
    if (this.#opened) return;
    const dir = this.#options.dataDir;
    try {
      await this.#fs.mkdir(dir);
    } catch (error) {
      throw fsFailure("creating the data directory", dir, error);
    }
    this.#lock = await acquireDirLock(this.#fs, dir);
    let replayed = 0;
    try {
      const result = await readLog(this.#fs, dir, { repair: this.#options.repair });
      replayed = this.#rebuild(result);
      this.#log = await SegmentLog.open({
        fs: this.#fs,
        dir,
        end: result.end,
        fsync: this.#options.fsync,
        fsyncIntervalMs: this.#options.fsyncIntervalMs,
        segmentMaxBytes: this.#options.segmentMaxBytes,
        clock: this.clock,
        onFsync: this.#fsyncHook(),
      });
      this.#log.beforeFlight = this.#flushAckRunTask;
    } catch (error) {
      await this.#lock.release();
      throw error;
    }
    this.#opened = true;
    this.#resumeTime();
    this.#armSnapshotTimer();
    // The replayed operations count toward the next snapshot: in a crash loop no process may live
    // long enough to take one, and without this the log (and every start) would grow without end.
    this.#counted(replayed);
  }

  /** Builds a fresh engine from what is on disk: snapshot, then every later operation. Returns how many operations it replayed. */
  #rebuild(result: ReadLogResult): number {
    for (const warning of result.warnings) (this.#options.onWarning ?? ((w) => console.warn(`spool journal: ${w.message}`)))(warning);
    const decisions = this.#decisions;
    const engine = new Engine({ clock: this.#engineClock, newId: decisions.newId, newLeaseToken: decisions.newLeaseToken, random: decisions.random });
    const clock = this.#engineClock;
    clock.replaying = true;
    let replayed = 0;
    try {
      if (result.snapshot) engine.importState(decodeSnapshot(result.snapshot.data));
      for (let i = 0; i < result.records.length; i++) {
        const record = result.records[i];
        if (record.type !== OP_RECORD) continue;
        const op = decodeOp(record.payload);
        replayed++;
        decisions.replay(op);
        try {
          clock.frozenAt(op.t, () => applyOp(engine, op));
        } catch (error) {
          throw new UnavailableError(`journal ${this.#options.dataDir}: replaying operation ${i + 1} (${op.o}) failed: ${(error as Error).message}`, error);
        }
      }
    } finally {
      clock.replaying = false;
      decisions.capture();
    }
    engine.setVisibleSeq(engine.nextSeq); // everything on disk is durable
    // No timer yet: the caller starts time with #resumeTime once the log can take its tick.
    for (const watcher of this.#watchers.values()) watcher.unwatch();
    const previous = this.#engine;
    this.#engine = engine;
    previous?.stop();
    // Events of changes not yet logged die with the engine that made them; the new one reports from here.
    this.#collected = [];
    engine.setEventSink(this.#events.active ? this.#collect : undefined);
    for (const [queue, watcher] of this.#watchers) {
      watcher.unwatch = engine.watch(queue, () => this.#notify(queue));
      if (previous) this.#notify(queue); // state may have moved: let consumers look again
    }
    return replayed;
  }

  // ── the write path ──────────────────────────────────────────────────────────────────────

  /** The fault that stops writes until the next write rebuilds from disk, if any. */
  get writeFault(): Error | undefined {
    if (!this.#opened) return undefined;
    return this.#log.fault ?? this.#stale;
  }

  /**
   * Runs a state-changing operation and logs it. `durable`: resolve only once the record is
   * durable under the fsync policy.
   */
  #write<R>(body: OpBody, durable: boolean): Promise<R> {
    if (this.#closing) return Promise.reject(new UnavailableError("the journal store is closed"));
    if (this.#recovering || this.#log.fault || this.#stale) return this.#recover().then(() => this.#write<R>(body, durable));
    try {
      return this.#apply<R>(body, durable);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The synchronous part of a write, with no async function around it: an ack (the commonest
   * write) returns its group's shared append promise itself, so it costs no promise of its own.
   */
  #apply<R>(body: OpBody, durable: boolean): Promise<R> {
    const engine = this.#engine;
    if (body.o === "lease") body.visible = engine.visibleSeq;
    const now = this.clock.now();
    const before = engine.timeChanges;
    this.#decisions.capture();
    let result: R;
    const outer = this.#engineClock.freeze(now);
    try {
      result = applyOp(engine, body) as R;
    } catch (error) {
      this.#engineClock.thaw(outer);
      if (engine.timeChanges !== before) this.#logTick(now);
      throw error;
    }
    this.#engineClock.thaw(outer);
    // Nothing changed, nothing to log: an empty lease, or a delete that found nothing (false).
    const unchanged = result === false || (body.o === "lease" && (result as unknown[]).length === 0);
    if (unchanged && engine.timeChanges === before) return Promise.resolve(result);
    // An open ack run happened before this operation: its record goes first.
    this.#flushAckRun();
    // The log copies the record at once, so one writer serves every operation.
    const appended = this.#log.append(OP_RECORD, encodeOp(body, now, this.#decisions, this.#opWriter));
    // A refused record leaves the engine ahead of the disk: rebuild at once, so that reads do not
    // show the refused change until the next write, and reject the group's writers only once the
    // rebuild has run, so that a caller told `unavailable` never reads its refused change back
    // (an ack as completed, a publish in the stats). Appends of one group share a promise: one handler each.
    this.#track(appended);
    // New messages (publish, replay) become leasable only once their record is durable.
    const seqAfter = engine.nextSeq;
    if (seqAfter > engine.visibleSeq) {
      appended.then(
        () => engine.setVisibleSeq(Math.max(engine.visibleSeq, seqAfter)),
        () => undefined,
      );
    }
    this.#counted();
    this.#releaseEvents(this.#collected.length);
    if (!durable) return Promise.resolve(result);
    const done = this.#lastDurable!;
    return result === undefined ? (done as Promise<R>) : done.then(() => result);
  }

  /** Makes `#lastDurable` the promise durable writers of `appended`'s group wait on. */
  #track(appended: Promise<void>): void {
    if (appended !== this.#lastAppended) {
      this.#lastAppended = appended;
      this.#lastDurable = appended.catch((error: unknown) => this.#afterRefusal(error));
      this.#lastDurable.catch(() => undefined); // a group of leases only: nobody waits on it
    }
  }

  /**
   * An ack: applied to the engine at once like any write, but logged in a run. Acks that succeed
   * at the same time with no other record between them go into one `acks` record, appended
   * when anything else is logged (`#flushAckRun`), or as the log's next flight starts, or in a
   * setImmediate (so the handlers that finish over one turn share a record). The
   * record holds exactly the acks the engine applied, in order and at one frozen time, so replay
   * is the same sequence of `engine.ack` calls. An ack that fails changes nothing (unless time
   * moved: a tick record, after the run), so it is simply not in the run.
   */
  #ack(id: string, token: string): Promise<void> {
    const engine = this.#engine;
    const now = this.clock.now();
    const before = engine.timeChanges;
    const outer = this.#engineClock.freeze(now);
    this.#decisions.capture();
    try {
      engine.ack(id, token); // decides nothing itself; the tick it may run can (dead-letter copies' ids)
    } catch (error) {
      this.#engineClock.thaw(outer);
      if (engine.timeChanges !== before) this.#logTick(now);
      return Promise.reject(error);
    }
    this.#engineClock.thaw(outer);
    if (this.#decisions.ids.length > 0) {
      // Its tick made dead-letter copies: their ids go with a record of its own, not in a run.
      this.#flushAckRun();
      this.#track(this.#log.append(OP_RECORD, encodeOp({ o: "ack", id, token }, now, this.#decisions, this.#opWriter)));
      this.#counted();
      this.#releaseEvents(this.#collected.length);
      return this.#lastDurable!;
    }
    let run = this.#ackRun;
    if (run === undefined || run.t !== now) {
      this.#flushAckRun();
      run = this.#ackRun = new AckRun(now);
      setImmediate(this.#flushAckRunTask);
    }
    this.#runIds[run.count] = id;
    this.#runTokens[run.count] = token;
    run.count++;
    run.events = this.#collected.length;
    this.#counted(); // after joining the run: a snapshot this starts flushes the run before its seal
    return run.durable;
  }

  readonly #flushAckRunTask = (): void => this.#flushAckRun();

  /**
   * Appends the open ack run as one record, before anything else reaches the log. If the log
   * faulted since the run began, nothing is appended (the engine's state may rest on refused
   * records): the run's acks are refused once the rebuild from disk has run.
   */
  #flushAckRun(): void {
    const run = this.#ackRun;
    if (run === undefined) return;
    this.#ackRun = undefined;
    const fault =
      this.#log.fault ??
      this.#stale ??
      (this.#closing ? new UnavailableError("the journal store is closed") : this.#recovering ? new UnavailableError("the journal store is recovering from a write fault") : undefined);
    if (fault !== undefined) {
      run.settle(this.#afterRefusal(fault));
      return;
    }
    this.#track(this.#log.append(OP_RECORD, encodeAcks(run.t, this.#runIds, this.#runTokens, run.count, this.#opWriter)));
    run.settle(this.#lastDurable!);
    // Only the run's own events: an operation being applied now may have made more after them.
    this.#releaseEvents(run.events);
    // Let the strings go: the arrays only keep their capacity.
    this.#runIds.fill("", 0, run.count);
    this.#runTokens.fill("", 0, run.count);
  }

  /** A group's append was refused: rebuild from the disk, then pass the refusal on. */
  #afterRefusal(error: unknown): Promise<never> {
    this.#recoverSoon();
    const rethrow = (): never => {
      throw error;
    };
    return (this.#recovering ?? Promise.resolve()).then(rethrow, rethrow);
  }

  /** Reads never log, unless time-driven processing changed state while they ran. */
  #read<R>(fn: (engine: Engine) => R): R {
    if (this.#closing) throw new UnavailableError("the journal store is closed");
    const engine = this.#engine;
    const now = this.clock.now();
    const before = engine.timeChanges;
    this.#decisions.capture(); // a tick may make ids (dead-letter copies): #logTick records them
    try {
      return this.#engineClock.frozenAt(now, () => fn(engine));
    } finally {
      if (engine.timeChanges !== before) this.#logTick(now);
    }
  }

  #onEngineTimer(callback: () => void, now: number): void {
    // Before open no timer is armed (#resumeTime starts time): this guard only keeps it that way.
    if (this.#closing || !this.#opened) return;
    const engine = this.#engine;
    const before = engine.timeChanges;
    this.#decisions.capture();
    try {
      this.#engineClock.frozenAt(now, callback);
      if (engine.timeChanges !== before) this.#logTick(now);
    } catch (error) {
      this.#timerFault(error, "the engine's timer");
    }
  }

  /**
   * Starts the engine's time on a freshly built engine, once the log is open: what fell due while
   * the process was down (or while it rebuilt) is applied now, as one logged `tick`, then the
   * timer is armed at the next due time.
   */
  #resumeTime(): void {
    const engine = this.#engine;
    const now = this.clock.now();
    engine.stop(); // drops the inert timer replay left behind, so the next one is really armed
    if (engine.nextDueAt > now) engine.restartTimer();
    else this.#onEngineTimer(() => engine.runDue(), now);
  }

  /** Time-driven work threw: report it, refuse writes, and rebuild from the disk. */
  #timerFault(error: unknown, during: string): void {
    const fault = new UnavailableError(`journal ${this.#options.dataDir}: ${during} failed (${(error as Error)?.message ?? String(error)}); rebuilding from disk`, error);
    this.#report(fault, during);
    this.#engine.stop(); // a half-applied tick must not run on; the rebuild arms the new engine
    this.#stale ??= fault;
    this.#recoverSoon();
  }

  #report(error: Error, during: string): void {
    if (this.#options.onFault) this.#options.onFault(error, during);
    else console.error(`spool journal: ${during}:`, error);
  }

  #logTick(now: number): void {
    this.#flushAckRun(); // its acks came first
    if (this.#log.fault || this.#stale) return; // recovery rebuilds from disk anyway
    // With the decisions of the tick just run (the ids of dead-letter copies it made).
    const appended = this.#log.append(OP_RECORD, encodeOp({ o: "tick" }, now, this.#decisions, this.#opWriter));
    appended.catch(() => this.#recoverSoon());
    this.#counted();
    this.#releaseEvents(this.#collected.length, appended);
  }

  /**
   * Hands the first `count` collected events on once `appended` (the last append) is durable. Every record
   * holding them is appended by then (records are released in log order: groups become durable in
   * order, and their callbacks run in the order they were added); a refused group drops them.
   */
  #releaseEvents(count: number, appended = this.#lastAppended): void {
    if (count === 0 || appended === undefined) return;
    const batch = count === this.#collected.length ? this.#collected : this.#collected.slice(0, count);
    this.#collected = count === this.#collected.length ? [] : this.#collected.slice(count);
    appended.then(
      () => this.#events.deliver(batch),
      () => undefined,
    );
  }

  /**
   * Snapshots come after `snapshotEveryOps` operations, or after as many operations as the last
   * snapshot held messages if that is more: a snapshot costs time in proportion to the state, so
   * this keeps its cost per operation bounded with a large backlog, and the log near the state's size.
   */
  #counted(ops = 1): void {
    const threshold = Math.max(this.#options.snapshotEveryOps ?? defaults.journal.snapshotEveryOps, this.#lastSnapshotSize);
    if ((this.#opsSinceSnapshot += ops) >= threshold) {
      void this.snapshot().catch((error: unknown) => this.#report(error as Error, "a snapshot after many operations"));
    }
  }

  /**
   * After a write fault: re-read the disk and rebuild, once for all waiting writers. If the
   * rebuild fails, the engine stays marked stale: writes and snapshots wait for a rebuild that
   * works, rather than carrying on from (or persisting) changes the log refused.
   */
  #recover(): Promise<void> {
    this.#recovering ??= (async () => {
      try {
        await this.#snapshotting?.catch(() => undefined);
        const result = await this.#log.recover({ repair: this.#options.repair });
        try {
          this.#rebuild(result);
          this.#stale = undefined;
        } catch (error) {
          this.#stale = error as Error;
          throw error;
        }
        this.#resumeTime();
        if (this.#stale) throw this.#stale; // the tick after the rebuild failed too: stay unavailable
      } finally {
        this.#recovering = undefined;
      }
    })();
    return this.#recovering;
  }

  #recoverSoon(): void {
    if (!this.#closing) void this.#recover().catch(() => undefined); // a failure surfaces on the next write
  }

  // ── snapshots ───────────────────────────────────────────────────────────────────────────

  /**
   * Writes a snapshot now and deletes the log segments it makes unnecessary. Resolves only once a
   * snapshot is durably written: while writes are failing it rejects `unavailable` (a snapshot then
   * could persist changes the log refused).
   */
  snapshot(): Promise<void> {
    if (!this.#opened) return Promise.reject(new UnavailableError("the journal store is not open"));
    const fault = this.#snapshotting ? undefined : (this.#log.fault ?? this.#stale);
    if (fault) return Promise.reject(new UnavailableError(`journal ${this.#options.dataDir}: no snapshot while writes are failing (${fault.message})`, fault));
    this.#snapshotting ??= (async () => {
      let frozen: FrozenRows | undefined;
      try {
        // Export and seal in the same instant: the snapshot covers exactly the log before `position`.
        // The rows are frozen (columns copied, bodies pinned), so encoding can yield to the event
        // loop between chunks while the engine runs on: a large state never blocks it for long.
        const state = this.#engine.exportState();
        frozen = state.table.freeze();
        this.#flushAckRun(); // its acks are in the exported state: their record belongs before the seal
        const position = this.#log.seal();
        this.#opsSinceSnapshot = 0;
        this.#lastSnapshotSize = this.#engine.size;
        const data: Buffer[] = [];
        for (const chunk of encodeSnapshotChunks({ ...state, table: frozen }, SNAPSHOT_CHUNK_BYTES)) {
          data.push(chunk);
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        frozen.release();
        await this.#log.flush();
        await writeSnapshot(this.#fs, this.#options.dataDir, position, data);
        const oldestKept = await pruneSnapshots(this.#fs, this.#options.dataDir, 2);
        if (oldestKept) await deleteCoveredSegments(this.#fs, this.#options.dataDir, oldestKept);
      } finally {
        frozen?.release();
        this.#snapshotting = undefined;
        this.#armSnapshotTimer();
      }
    })();
    return this.#snapshotting;
  }

  #armSnapshotTimer(): void {
    this.#snapshotTimer?.cancel();
    if (this.#closing) return;
    this.#snapshotTimer = this.clock.setTimer(() => {
      this.#snapshotTimer = undefined;
      if (this.#opsSinceSnapshot > 0 && this.writeFault === undefined) void this.snapshot().catch((error: unknown) => this.#report(error as Error, "a periodic snapshot"));
      else this.#armSnapshotTimer();
    }, this.#options.snapshotEveryMs ?? defaults.journal.snapshotEveryMs);
  }

  // ── Store ───────────────────────────────────────────────────────────────────────────────

  ensureQueue(name: string, options?: QueueOptions): Promise<QueueInfo> {
    return this.#write({ o: "ensureQueue", name, options }, true);
  }
  async getQueue(name: string): Promise<QueueInfo | undefined> {
    return this.#read((e) => e.getQueue(name));
  }
  async listQueues(): Promise<QueueInfo[]> {
    return this.#read((e) => e.listQueues());
  }
  deleteQueue(name: string): Promise<boolean> {
    return this.#write({ o: "deleteQueue", name }, true);
  }
  setPaused(name: string, paused: boolean): Promise<void> {
    return this.#write({ o: "setPaused", name, paused }, true);
  }
  purgeQueue(name: string): Promise<number> {
    return this.#write({ o: "purgeQueue", name }, true);
  }
  async stats(name: string): Promise<QueueStats> {
    return this.#read((e) => e.stats(name));
  }
  publish(inputs: PublishInput[], options?: StorePublishOptions): Promise<PublishOutcome[]> {
    if (options?.transaction !== undefined) {
      try {
        requireCapability(this, "transactionalPublish", "publish");
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#write({ o: "publish", inputs }, true);
  }
  lease(queue: string, request: LeaseRequest): Promise<LeasedStoredMessage[]> {
    // `visible` is filled in by #write from the engine that runs the lease. Durable: see the header.
    return this.#write({ o: "lease", queue, max: request.max, leaseMs: request.leaseMs, visible: 0 }, true);
  }
  ack(id: string, leaseToken: string, result?: string): Promise<void> {
    if (result !== undefined) return this.#write({ o: "ack", id, token: leaseToken, result }, true);
    if (this.#closing || this.#recovering || this.#log.fault || this.#stale) return this.#write({ o: "ack", id, token: leaseToken }, true);
    return this.#ack(id, leaseToken);
  }
  ackMany(items: AckItem[]): Promise<AckOutcome[]> {
    return this.#write({ o: "ackMany", items: items.map(({ id, leaseToken, result }) => (result === undefined ? { id, leaseToken } : { id, leaseToken, result })) }, true);
  }
  report(id: string, leaseToken: string, report: ProgressReport): Promise<void> {
    return this.#write({ o: "report", id, token: leaseToken, report }, true);
  }
  nack(id: string, leaseToken: string, request: NackRequest): Promise<NackOutcome> {
    return this.#write({ o: "nack", id, token: leaseToken, request }, true);
  }
  extend(id: string, leaseToken: string, leaseMs: number): Promise<{ leaseUntil: number }> {
    return this.#write({ o: "extend", id, token: leaseToken, leaseMs }, false);
  }
  async status(id: string): Promise<MessageStatus | undefined> {
    return this.#read((e) => e.status(id));
  }
  async browse(queue: string, request: { state: BrowseState; limit: number; offset: number }): Promise<BrowsedMessage[]> {
    return this.#read((e) => e.browse(queue, request.state, request.limit, request.offset));
  }
  async content(id: string): Promise<MessageContent | undefined> {
    return this.#read((e) => e.content(id));
  }
  async idempotentId(queue: string, key: string): Promise<string | undefined> {
    return this.#read((e) => e.idempotentId(queue, key));
  }
  async listDead(queue: string, page: { cursor?: string; limit: number; reason?: DeadReason }): Promise<DeadLetterPage> {
    return this.#read((e) => e.listDead(queue, page));
  }
  replayDead(queue: string, selection: ReplaySelection): Promise<number> {
    return this.#write({ o: "replayDead", queue, selection }, true);
  }
  deleteDead(queue: string, id: string): Promise<boolean> {
    return this.#write({ o: "deleteDead", queue, id }, true);
  }
  purgeDead(queue: string): Promise<number> {
    return this.#write({ o: "purgeDead", queue }, true);
  }
  declareExchange(name: string, type: ExchangeType): Promise<void> {
    return this.#write({ o: "declareExchange", name, type }, true);
  }
  deleteExchange(name: string): Promise<boolean> {
    return this.#write({ o: "deleteExchange", name }, true);
  }
  bind(exchange: string, queue: string, bindingKey: string): Promise<void> {
    return this.#write({ o: "bind", exchange, queue, key: bindingKey }, true);
  }
  unbind(exchange: string, queue: string, bindingKey: string): Promise<boolean> {
    return this.#write({ o: "unbind", exchange, queue, key: bindingKey }, true);
  }
  async getExchange(name: string): Promise<ExchangeInfo | undefined> {
    return this.#read((e) => e.getExchange(name));
  }
  async listExchanges(): Promise<ExchangeInfo[]> {
    return this.#read((e) => e.listExchanges());
  }

  // Schedules: the store computes each record and plan (core/schedule.ts) and logs it whole.
  putSchedule(definition: ScheduleDefinition): Promise<ScheduleRecord> {
    try {
      const record = this.#read((e) => defineSchedule(definition, e.getSchedule(definition.name), this.clock.now()));
      return this.#write({ o: "putSchedule", record }, true);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  async getSchedule(name: string): Promise<ScheduleRecord | undefined> {
    return this.#read((e) => e.getSchedule(name));
  }
  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.#read((e) => e.listSchedules());
  }
  async setSchedulePaused(name: string, paused: boolean): Promise<ScheduleRecord> {
    const current = this.#read((e) => e.getSchedule(name));
    if (!current) throw new NotFoundError(`schedule "${name}" does not exist`);
    const record = pauseSchedule(current, paused, this.clock.now());
    if (record === current) return current;
    return this.#write({ o: "putSchedule", record }, true);
  }
  removeSchedule(name: string): Promise<boolean> {
    return this.#write({ o: "removeSchedule", name }, true);
  }
  async fireDueSchedules(): Promise<FireResult> {
    const plans = this.#read((e) => planDue(e.listSchedules(), this.clock.now()));
    const fired = plans.length === 0 ? [] : await this.#write<FiredSlot[]>({ o: "fireSchedules", plans }, true);
    return { fired, nextRunAt: this.#read((e) => earliestRun(e.listSchedules())) };
  }

  onEvents(sink: QueueEventSink): () => void {
    return this.#events.subscribe(sink);
  }

  /** Watchers live here, not in the engine: they survive a rebuild after a fault. */
  watch(queue: string, listener: () => void): () => void {
    if (this.#closing) throw new UnavailableError("the journal store is closed");
    let watcher = this.#watchers.get(queue);
    if (!watcher) {
      watcher = { listeners: new Set(), unwatch: this.#engine.watch(queue, () => this.#notify(queue)) };
      this.#watchers.set(queue, watcher);
    }
    watcher.listeners.add(listener);
    return () => {
      const current = this.#watchers.get(queue);
      if (!current) return;
      current.listeners.delete(listener);
      if (current.listeners.size === 0) {
        current.unwatch();
        this.#watchers.delete(queue);
      }
    };
  }

  #notify(queue: string): void {
    const watcher = this.#watchers.get(queue);
    if (watcher) for (const listener of [...watcher.listeners]) listener();
  }

  /** Takes a final snapshot, syncs and closes the log, and releases the directory. Idempotent. */
  close(): Promise<void> {
    this.#flushAckRun(); // before #closing is set: acks made before close() are logged as usual
    this.#closing ??= (async () => {
      if (!this.#opened) return;
      this.#snapshotTimer?.cancel();
      await this.#recovering?.catch(() => undefined);
      await this.#snapshotting?.catch(() => undefined);
      const results = await Promise.allSettled([!this.#log.fault && !this.#stale && this.#opsSinceSnapshot > 0 ? this.snapshot() : undefined]);
      this.#engine.stop();
      results.push(...(await Promise.allSettled([this.#log.close()])));
      await this.#lock?.release();
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    })();
    return this.#closing;
  }
}

/** An open ack run: its time, how many acks it holds, and the promise they all return. */
class AckRun {
  count = 0;
  /** How many collected events (`#collected`) the run's acks reach up to. */
  events = 0;
  readonly durable: Promise<void>;
  settle!: (durable: Promise<void>) => void;
  constructor(readonly t: number) {
    this.durable = new Promise<void>((resolve) => (this.settle = resolve));
  }
}

const HOOKS = ["onWarning", "onFsync", "onFault", "random"] as const;
const SETTINGS = new Set(["fsync", "fsyncIntervalMs", "segmentMaxBytes", "snapshotEveryOps", "snapshotEveryMs", "repair"]);

/** Journal options are checked like every other option: `validation_failed`, naming the option. */
function checkJournalOptions(options: JournalStoreOptions): void {
  if (options === null || typeof options !== "object") throw new ValidationError("journalStore: options must be an object with a dataDir");
  if (typeof options.dataDir !== "string" || options.dataDir.length === 0) {
    throw new ValidationError(`journalStore: dataDir must be a non-empty path, got ${JSON.stringify(options.dataDir)}`, [{ path: "/dataDir", message: "expected a path" }]);
  }
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (SETTINGS.has(key) && value !== undefined) settings[key] = value;
  validate(JournalOptionsSchema, settings, "journal options");
  for (const hook of HOOKS) {
    if (options[hook] !== undefined && typeof options[hook] !== "function") throw new ValidationError(`journal options: ${hook} must be a function`, [{ path: `/${hook}`, message: "expected a function" }]);
  }
}

export function journalStore(options: JournalStoreOptions): Store {
  return new JournalStore(options);
}
