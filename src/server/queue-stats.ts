/**
 * A queue's stats as the API shows them: depths and totals from the store, rates from the
 * sampler, circuit states and options. `GET /v1/queues` and the stats stream answer the same
 * objects, so a dashboard reads one shape whichever it uses.
 */
import type { QueueInfo } from "../config/schemas.js";
import type { QueueStatsWithWorkers } from "../queue-ops.js";
import type { Spool } from "../spool.js";
import type { QueueRates, QueueRateTracker } from "./queue-rates.js";

export interface QueueStatsView extends QueueStatsWithWorkers {
  rates: QueueRates;
  options: QueueInfo["options"];
}

export async function queueStatsView(spool: Spool, rates: QueueRateTracker, info: QueueInfo): Promise<QueueStatsView> {
  const stats = await spool.queueStats(info.name);
  return { ...stats, rates: rates.rates(info.name, stats.totals), options: info.options };
}

/** Every queue `reaches` allows, with its stats; a queue deleted while being read is left out. */
export async function allQueueStats(spool: Spool, rates: QueueRateTracker, reaches: (queue: string) => boolean): Promise<QueueStatsView[]> {
  const queues = (await spool.queues()).filter((info) => reaches(info.name));
  const all = await Promise.all(queues.map(async (info) => queueStatsView(spool, rates, info).catch(() => undefined)));
  return all.filter((stats) => stats !== undefined);
}
