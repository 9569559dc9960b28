/**
 * publish-many: N messages in batches of PUBLISH_BATCH, and again in batches of SMALL_BATCH (most
 * real producers batch small), through each system's bulk API (Spool publishMany, BullMQ addBulk,
 * pg-boss insert, RabbitMQ publish + waitForConfirms per batch), into an empty queue, one batch
 * at a time. Figure: msg/s from the first call to the last batch's acknowledgement, the median
 * of up to `repeats` runs (fewer for slow systems, see measureRuns).
 */
import { makeBodies } from "../lib/body.js";
import { collectGarbage, median } from "../lib/stats.js";
import { formatCount, formatNumber } from "../lib/table.js";
import { atLeast, chunk, measureRuns, PUBLISH_BATCH, runsText, value, type Scenario } from "./scenario.js";

/** The batch size of a typical producer. */
const SMALL_BATCH = 1_000;

export const publishMany: Scenario = {
  name: "publish-many",
  rows: [
    {
      id: "publish-many",
      label: `publish-many, batches of ${formatCount(PUBLISH_BATCH)}`,
      unit: "msg/s",
      better: "higher",
      target: atLeast(500_000, "500k"),
    },
    {
      id: "publish-many-small",
      label: `publish-many, batches of ${formatCount(SMALL_BATCH)}`,
      unit: "msg/s",
      better: "higher",
    },
  ],
  async run(system, context, record) {
    const n = system.sizes.publishMany;
    const bodies = makeBodies(n);
    for (const [row, size] of [["publish-many", PUBLISH_BATCH], ["publish-many-small", SMALL_BATCH]] as const) {
      const batches = chunk(bodies, size);
      // Warm-up: one batch into a scratch queue (connections, JIT, prepared statements).
      const scratch = await system.createQueue();
      await scratch.publishMany(batches[0]);
      await scratch.delete();

      const rates = await measureRuns(system.sizes.repeats, n, async () => {
        const queue = await system.createQueue();
        collectGarbage();
        const started = performance.now();
        for (const batch of batches) await queue.publishMany(batch);
        const elapsedMs = performance.now() - started;
        await queue.delete();
        return elapsedMs;
      });
      const rate = median(rates);
      record(row, value(rate, `n=${formatCount(n)}`));
      context.log(`publish-many, batches of ${formatCount(size)}: ${formatNumber(rate)} msg/s (n=${formatCount(n)}${runsText(rates)})`);
    }
  },
};
