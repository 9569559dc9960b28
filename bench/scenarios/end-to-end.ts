/**
 * end-to-end: a consumer with a no-op handler at concurrency c is started on an empty queue;
 * then N messages are published in batches while it runs. Figure: msg/s from the first publish
 * to the last ack. Slow peers run a smaller N (printed beside each figure). An untimed warm-up of
 * N/10 messages comes first; the figure is the median of up to `repeats` runs (see measureRuns).
 */
import { makeBodies } from "../lib/body.js";
import { collectGarbage, median, withTimeout } from "../lib/stats.js";
import { formatCount, formatNumber } from "../lib/table.js";
import type { BenchSystem } from "../systems/system.js";
import { atLeast, chunk, errorCell, measureRuns, PUBLISH_BATCH, runsText, value, type RowSpec, type Scenario } from "./scenario.js";

export const CONCURRENCIES = [1, 64] as const;
const TIMEOUT_MS = 60_000;

const rows: RowSpec[] = CONCURRENCIES.map((c) => ({
  id: `end-to-end-c${c}`,
  label: `end-to-end, concurrency ${c}`,
  unit: "msg/s",
  better: "higher",
  target: c === 64 ? atLeast(150_000, "150k") : undefined,
}));

async function runOnce(system: BenchSystem, concurrency: number, n: number): Promise<number> {
  const batches = chunk(makeBodies(n), PUBLISH_BATCH);
  const queue = await system.createQueue();
  try {
    const consumer = await queue.consume({ concurrency });
    collectGarbage();
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
    await queue.delete();
  }
}

export const endToEnd: Scenario = {
  name: "end-to-end",
  rows,
  async run(system, context, record) {
    for (const concurrency of CONCURRENCIES) {
      const n = system.sizes.endToEnd[concurrency];
      try {
        await runOnce(system, concurrency, Math.max(1, Math.floor(n / 10)));
        const rates = await measureRuns(system.sizes.repeats, n, () => runOnce(system, concurrency, n));
        const rate = median(rates);
        record(`end-to-end-c${concurrency}`, value(rate, `n=${formatCount(n)}`));
        context.log(`end-to-end c=${concurrency}: ${formatNumber(rate)} msg/s (n=${formatCount(n)}${runsText(rates)})`);
      } catch (error) {
        // One concurrency failing should not hide the other's figure.
        record(`end-to-end-c${concurrency}`, errorCell(error));
        context.log(`end-to-end c=${concurrency}: failed: ${(error as Error).message}`);
      }
    }
  },
};
