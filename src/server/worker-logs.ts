/**
 * What an operator reads in `spool serve`'s log about the server's own workers (batch delivery's
 * channels, workers scaled over HTTP): at info level, a retry scheduled, a message moved to the
 * dead letters, a circuit breaker changing state. Handler durations and counts are metrics, not logs.
 */
import type { Logger } from "pino";
import type { Spool } from "../spool.js";
import type { WorkerEvents } from "../worker/worker.js";

type Listener<K extends keyof WorkerEvents> = (...args: WorkerEvents[K]) => void;

interface LoggableWorker {
  on<K extends keyof WorkerEvents>(event: K, listener: Listener<K>): unknown;
}

function isLoggable(worker: unknown): worker is LoggableWorker {
  return typeof (worker as Partial<LoggableWorker>).on === "function";
}

/** Logs the events of every worker the Spool makes from now on; returns an unsubscribe. */
export function logWorkerEvents(spool: Spool, logger: Logger): () => void {
  return spool.observeWorkers((worker) => {
    if (!isLoggable(worker)) return;
    worker.on("message:failed", ({ id, queue, attempt, error, outcome }) => {
      if (outcome === undefined) return; // the nack itself failed: the worker reports that as worker:error
      const reason = error instanceof Error ? error.message : String(error);
      if (outcome.state === "dead") logger.info({ queue, id, attempt, deadReason: outcome.deadReason, error: reason }, "message moved to the dead letters");
      else logger.info({ queue, id, attempt, retryAt: new Date(outcome.availableAt).toISOString(), error: reason }, "retry scheduled");
    });
    worker.on("worker:circuit", ({ queue, state }) => logger.info({ queue, state }, `circuit breaker ${state}`));
  });
}
