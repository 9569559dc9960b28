/**
 * The websocket channel: the job handler of queue `delivery.websocket`.
 *
 * The job's log entry is the recipient's outbox entry (status `queued`, content kept). The
 * handler makes sure the entry is there, tells the hub (an online recipient gets it at once, and
 * the job completes once `sent` is durable) and completes. An offline recipient's message waits
 * in the log and is pushed when they connect; acks and pushes-again are the hub's business, not
 * the queue's, so a job never waits for a client. A replayed dead job (attempt 1) whose entry had
 * failed reopens it (failed → queued) and hands it over again.
 */
import { PermanentError } from "../../core/errors.js";
import type { WorkerOptions } from "../../config/schemas.js";
import type { Spool } from "../../spool.js";
import { waitForWake } from "../../util/abort.js";
import { systemClock, type Clock } from "../../util/clock.js";
import type { Handler, Worker } from "../../worker/worker.js";
import type { ConnectionHub } from "../realtime/connection-hub.js";
import { deliveryQueueName } from "../queue-names.js";
import type { DeliveryJob, MessageLog } from "../types.js";

const WEBSOCKET_QUEUE = deliveryQueueName("websocket");

/** How long a job whose entry is still `pending` (the expander's record not applied yet) waits before it is retried. */
const PENDING_WAIT_MS = 5000;

export interface WebsocketChannelDeps {
  log: MessageLog;
  hub: ConnectionHub;
  clock?: Clock;
  /** Catches up with other processes' log changes (a shared storage): a job may arrive before its entry does. */
  sync?: () => Promise<void>;
  /** Tells the other processes the message is ready (a shared storage): the one holding the recipient pushes it. */
  handOff?: (logId: string) => Promise<void>;
}

export function websocketJobHandler({ log, hub, clock = systemClock, sync, handOff }: WebsocketChannelDeps): Handler<DeliveryJob> {
  return async (message, ctx) => {
    const job = message.body;
    let entry = log.get(job.logId);
    if (entry === undefined && sync) {
      await sync();
      entry = log.get(job.logId);
    }
    if (entry === undefined) throw new PermanentError(`delivery.websocket: no message-log entry "${job.logId}"`);
    if (entry.channel !== "websocket") throw new PermanentError(`delivery.websocket: entry "${job.logId}" is for the ${entry.channel} channel`);
    // A dead job replayed by an operator starts again at attempt 1: its failed entry is reopened.
    if (entry.status === "failed" && message.attempt === 1) await log.reopen(job.logId, job.content);
    if (entry.status === "pending") {
      // The expander publishes a chunk, then records it (pending → queued, with recipient and
      // content). A job leased in between waits for that record rather than racing it.
      const logId = job.logId;
      await waitForWake((wake) => log.onChange((changed) => void (changed.logId === logId && changed.status !== "pending" && wake())), PENDING_WAIT_MS, clock, ctx.signal);
      entry = log.get(logId);
      if (entry?.status === "pending") throw new Error(`delivery.websocket: entry "${logId}" is still pending; retrying`);
    }
    await hub.deliver(job.logId, job.content);
    // The recipient may be connected to another process (or to several): each pushes what it holds.
    if (handOff) await handOff(job.logId);
  };
}

/**
 * Starts the worker of `delivery.websocket` on `spool` (closed with the Spool, or by its own
 * `close()`). The options are the queue's usual worker options (concurrency…).
 */
export function startWebsocketWorker(spool: Spool, deps: WebsocketChannelDeps, options: WorkerOptions = {}): Worker<DeliveryJob> {
  return spool.queue<DeliveryJob>(WEBSOCKET_QUEUE).work(websocketJobHandler(deps), options);
}
