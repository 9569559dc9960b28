/**
 * backlog: the end-to-end workload (a consumer at concurrency 64 with a no-op handler; N messages
 * published in batches while it runs; msg/s until N acks) on a queue that already holds messages
 * waiting: first 1k, then the system's large backlog (Spool: 1M, BENCH_BACKLOG changes it; slow
 * peers: 100k). The consumer takes the oldest first, so it works through the backlog's head while
 * new messages join its tail: the queue stays as long as it was, and what is measured is how a
 * system's lease and ack cost grows with it (a table scan, an index full of dead entries, an
 * O(n) array shift). Figures: both rates and their ratio (DESIGN.md §5: within 20%).
 */
import { makeBodies } from "../lib/body.js";
import { collectGarbage, median, withTimeout } from "../lib/stats.js";
import { formatCount, formatNumber } from "../lib/table.js";
import type { BenchSystem } from "../systems/system.js";
import { atLeast, chunk, errorCell, measureRuns, PUBLISH_BATCH, runsText, value, type Scenario } from "./scenario.js";

const SMALL_BACKLOG = 1_000;
const CONCURRENCY = 64;
const TIMEOUT_MS = 120_000;

async function runOnce(system: BenchSystem, backlog: number, n: number, log: (message: string) => void): Promise<number> {
  const queue = await system.createQueue();
  try {
    const filling = performance.now();
    for (let from = 0; from < backlog; from += PUBLISH_BATCH) {
      await queue.publishMany(makeBodies(Math.min(PUBLISH_BATCH, backlog - from), from));
    }
    if (backlog > SMALL_BACKLOG) log(`backlog: ${formatCount(backlog)} waiting after ${formatNumber((performance.now() - filling) / 1000)} s`);
    const batches = chunk(makeBodies(n, backlog), PUBLISH_BATCH);
    collectGarbage();
    const consumer = await queue.consume({ concurrency: CONCURRENCY });
    const started = performance.now();
    for (const batch of batches) await queue.publishMany(batch);
    try {
      await withTimeout(consumer.settled(n), TIMEOUT_MS, `consuming ${n} messages`);
    } catch (error) {
      throw new Error(`${(error as Error).message} (handled ${consumer.handled.value})`);
    }
    const elapsedMs = performance.now() - started;
    await consumer.close();
    return elapsedMs;
  } finally {
    const deleting = performance.now();
    await queue.delete();
    if (backlog > SMALL_BACKLOG) log(`backlog: queue deleted in ${formatNumber((performance.now() - deleting) / 1000)} s`);
  }
}

export const backlog: Scenario = {
  name: "backlog",
  rows: [
    { id: "backlog-small", label: `end-to-end, concurrency ${CONCURRENCY}, ${formatCount(SMALL_BACKLOG)} already waiting`, unit: "msg/s", better: "higher" },
    { id: "backlog-large", label: `end-to-end, concurrency ${CONCURRENCY}, large backlog already waiting`, unit: "msg/s", better: "higher" },
    { id: "backlog-ratio", label: "end-to-end with the large backlog ÷ with 1k", unit: "×", better: "higher", target: atLeast(0.8, "0.8×") },
  ],
  async run(system, context, record) {
    const n = system.sizes.endToEnd[CONCURRENCY];
    const large = system.sizes.backlog;
    const rates: number[] = [];
    for (const [row, waiting, repeats] of [["backlog-small", SMALL_BACKLOG, system.sizes.repeats], ["backlog-large", large, 1]] as const) {
      try {
        const runs = await measureRuns(repeats, n, () => runOnce(system, waiting, n, context.log));
        const rate = median(runs);
        rates.push(rate);
        record(row, value(rate, `${formatCount(waiting)} waiting, n=${formatCount(n)}`));
        context.log(`backlog: ${formatNumber(rate)} msg/s with ${formatCount(waiting)} waiting (n=${formatCount(n)}${runsText(runs)})`);
      } catch (error) {
        record(row, errorCell(error));
        context.log(`backlog ${formatCount(waiting)}: failed: ${(error as Error).message}`);
      }
    }
    if (rates.length === 2) record("backlog-ratio", value(rates[1] / rates[0], `${formatCount(large)} ÷ ${formatCount(SMALL_BACKLOG)}`));
  },
};
