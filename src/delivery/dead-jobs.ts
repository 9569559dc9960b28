/**
 * Delivery jobs that die without their handler recording an outcome — the lease ran out on the
 * last attempt because the sender stopped (a crash, a kill), a TTL passed, a full queue dropped
 * them — would leave their log entries `pending`/`queued` forever and their batch never complete.
 * This sweeper reads the dead letters of `delivery.webhook`, `delivery.mock` and
 * `delivery.websocket` and moves such entries to `failed`, with a last error that says why.
 *
 *   when    once on start (every dead letter: this is what makes it hold across restarts), then
 *           whenever a queue's `totals.dead` has grown since the last look — checked every
 *           `checkEveryMs` (default 1 s: three O(1) stats reads, no scan while nothing dies).
 *   where   from the store's own dead-letter cursor, kept in memory: a check re-reads at most the
 *           last page it saw, not every dead letter.
 *   rule    an entry is failed only if it is not final (webhook/mock: `pending`/`queued`;
 *           websocket: `pending`/`queued` — a `sent` websocket entry is the hub's, settled by an
 *           ack), and only while its job is still dead (`spool.status`), so a job replayed in the
 *           meantime is left to deliver. Entries already final (the handler's own `failed`, a
 *           `sent` whose ack was lost) are left as they are. The write is durable: nothing to redo.
 *
 * The dead letters themselves are kept: an operator may replay them, and a replayed job (attempt
 * 1 again) reopens its failed entry (types.ts) and delivers it.
 */
import type { Logger } from "pino";
import { SpoolError } from "../core/errors.js";
import type { Queue, DeadLetterView } from "../queue.js";
import type { Spool } from "../spool.js";
import type { TimerHandle } from "../util/clock.js";
import { systemClock, type Clock } from "../util/clock.js";
import { CHANNELS, deliveryQueueName } from "./queue-names.js";
import type { DeliveryMessageLog } from "./message-log.js";
import type { ChannelName, DeliveryJob } from "./types.js";
import { defaults } from "../config/defaults.js";

export interface DeadJobOptions {
  /** How often the queues' dead totals are looked at (default 1,000 ms). */
  checkEveryMs?: number;
  /** Dead letters read per page (default 500). */
  pageSize?: number;
  clock?: Clock;
  logger?: Pick<Logger, "warn">;
}

const LEASE_EXPIRED = /lease expired/i;

interface QueueWatch {
  channel: ChannelName;
  queue: Queue<DeliveryJob>;
  /** `totals.dead` at the last pass; undefined before the first. */
  deadTotal: number | undefined;
  /** The store's cursor of the last page read: the next pass starts there. */
  cursor: string | undefined;
}

/** The last error a dead job's entry gets: why the job died, in words. */
function deadJobError(dead: Pick<DeadLetterView<unknown>, "reason" | "lastError" | "attempt" | "maxAttempts">): string {
  const last = dead.lastError?.message;
  switch (dead.reason) {
    case "max_attempts":
      if (last === undefined || LEASE_EXPIRED.test(last)) return `attempts used up (${dead.attempt}/${dead.maxAttempts}): the lease expired (the sender stopped)`;
      return `attempts used up (${dead.attempt}/${dead.maxAttempts}): ${last}`;
    case "expired":
      return "the delivery job's TTL passed before it was sent";
    case "overflow":
      return "the delivery queue was full: the job was dropped (overflow)";
    case "permanent_error":
      return `permanent failure: ${last ?? "no error recorded"}`;
    default:
      return `the delivery job is dead (${dead.reason})${last === undefined ? "" : `: ${last}`}`;
  }
}

export class DeadJobSweeper {
  readonly #spool: Spool;
  readonly #log: DeliveryMessageLog;
  readonly #checkEveryMs: number;
  readonly #pageSize: number;
  readonly #clock: Clock;
  readonly #logger: DeadJobOptions["logger"];
  readonly #queues: QueueWatch[];
  #timer: TimerHandle | undefined;
  #running: Promise<number> | undefined;
  #again = false;
  #closed = false;

  constructor(spool: Spool, log: DeliveryMessageLog, options: DeadJobOptions = {}) {
    this.#spool = spool;
    this.#log = log;
    this.#checkEveryMs = Math.max(1, options.checkEveryMs ?? defaults.delivery.deadJobCheckMs);
    this.#pageSize = options.pageSize ?? 500;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger;
    this.#queues = CHANNELS.map((channel) => ({ channel, queue: spool.queue<DeliveryJob>(deliveryQueueName(channel)), deadTotal: undefined, cursor: undefined }));
  }

  /** Reads every dead letter once (what a restart needs), then looks again whenever one queue's dead total grows. */
  async start(): Promise<void> {
    try {
      await this.check();
    } catch (error) {
      this.#logger?.warn({ err: error }, "checking dead delivery jobs failed; trying again later");
    }
    this.#arm();
  }

  /**
   * One pass over the queues whose dead total grew (every queue, the first time); resolves with
   * how many entries it failed. A call while a pass runs makes that pass run once more.
   */
  check(): Promise<number> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const run = (async () => {
      let failed = 0;
      do {
        this.#again = false;
        for (const watch of this.#queues) {
          if (this.#closed) return failed;
          failed += await this.#pass(watch);
        }
      } while (this.#again && !this.#closed);
      return failed;
    })();
    this.#running = run.finally(() => (this.#running = undefined));
    return this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  #arm(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.check().then(
        () => this.#arm(),
        (error: unknown) => {
          this.#logger?.warn({ err: error }, "checking dead delivery jobs failed; trying again later");
          this.#arm();
        },
      );
    }, this.#checkEveryMs);
  }

  async #pass(watch: QueueWatch): Promise<number> {
    const total = (await watch.queue.stats()).totals.dead;
    if (watch.deadTotal !== undefined && total === watch.deadTotal) return 0;
    let failed = 0;
    let cursor = watch.cursor;
    for (;;) {
      let page: Awaited<ReturnType<Queue<DeliveryJob>["deadLetters"]>>;
      try {
        page = await watch.queue.deadLetters(cursor === undefined ? { limit: this.#pageSize } : { cursor, limit: this.#pageSize });
      } catch (error) {
        // A cursor the store no longer knows: read from the start (entries already final cost a lookup each).
        if (cursor !== undefined && error instanceof SpoolError && error.code === "validation_failed") {
          cursor = watch.cursor = undefined;
          continue;
        }
        throw error;
      }
      for (const dead of page.items) if (await this.#settle(watch.channel, dead)) failed++;
      if (page.nextCursor === undefined || this.#closed) break;
      cursor = watch.cursor = page.nextCursor;
    }
    // Recorded only once the pass is through: a pass cut short by an error is repeated next time.
    watch.deadTotal = total;
    return failed;
  }

  /** Fails the dead job's entry if nothing final was recorded for it; true when it did. */
  async #settle(channel: ChannelName, dead: DeadLetterView<DeliveryJob>): Promise<boolean> {
    const logId = (dead.body as Partial<DeliveryJob> | null)?.logId;
    if (typeof logId !== "string") return false;
    const entry = this.#log.get(logId);
    if (entry === undefined || entry.channel !== channel) return false; // unknown, forgotten, or not this queue's
    if (entry.status !== "pending" && entry.status !== "queued") return false;
    // Replayed since the page was read? Then the job is alive again and delivers the entry itself.
    if ((await this.#spool.status(dead.id))?.state !== "dead") return false;
    return this.#log.advance(logId, "failed", { attempts: Math.max(entry.attempts, dead.attempt), error: deadJobError(dead) });
  }
}
