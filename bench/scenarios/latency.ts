/**
 * latency: an open-loop publisher sends one message per publish call, paced by a timer at a
 * steady RATE msg/s for WARMUP_MS + DURATION_MS, without waiting for earlier publishes (so a
 * slow system cannot slow the load down and hide its own delay). A consumer at concurrency
 * CONCURRENCY records, as each handler starts, the time since its publish call began. Figures:
 * p50 and p99 over the messages after the warm-up, in ms; and, from the same run, p99 of the
 * publish call itself (until the system acknowledged the message as stored: durable for Spool's
 * journal, RabbitMQ's confirms and PostgreSQL; in Redis's memory for BullMQ without AOF).
 */
import { makeBodies } from "../lib/body.js";
import { Counter } from "../lib/counter.js";
import { collectGarbage, percentile, sortedNumbers, withTimeout } from "../lib/stats.js";
import { formatNumber } from "../lib/table.js";
import { describeError } from "../lib/text.js";
import type { BenchQueue } from "../systems/system.js";
import { atMost, value, type Scenario } from "./scenario.js";

const RATE = 1_000;
const WARMUP_MS = 300;
const DURATION_MS = 3_000;
const CONCURRENCY = 64;
/** How long stragglers may take after the last publish before the run gives up on them. */
const DRAIN_MS = 5_000;

/** Calls `send(i)` for i = 0..total-1, `rate` per second, from a 1 ms timer. */
function pace(total: number, rate: number, send: (index: number) => void): Promise<void> {
  return new Promise((resolve) => {
    const started = performance.now();
    let next = 0;
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
      while (next < due) send(next++);
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
}

export const latency: Scenario = {
  name: "latency",
  rows: [
    { id: "latency-p50", label: `latency at ${formatNumber(RATE)} msg/s, p50`, unit: "ms", better: "lower" },
    { id: "latency-p99", label: `latency at ${formatNumber(RATE)} msg/s, p99`, unit: "ms", better: "lower", target: atMost(2, "2 ms") },
    { id: "publish-ack-p99", label: `latency at ${formatNumber(RATE)} msg/s, publish call until acked, p99`, unit: "ms", better: "lower" },
  ],
  async run(system, context, record) {
    const warmupCount = (WARMUP_MS * RATE) / 1000;
    const total = warmupCount + (DURATION_MS * RATE) / 1000;
    const bodies = makeBodies(total);
    const sentAt = new Float64Array(total);
    const latencyMs = new Float64Array(total).fill(NaN);
    const started = new Counter();
    const queue: BenchQueue = await system.createQueue();
    try {
      const consumer = await queue.consume({
        concurrency: CONCURRENCY,
        ratePerSec: RATE,
        onHandle: (body) => {
          latencyMs[body.seq] = performance.now() - sentAt[body.seq];
          started.increment();
        },
      });
      collectGarbage();
      let publishErrors = 0;
      let firstError: unknown;
      // How long each publish call took to resolve: tells a slow publisher from a slow consumer.
      const publishMs = new Float64Array(total).fill(NaN);
      await pace(total, RATE, (i) => {
        const sent = (sentAt[i] = performance.now());
        queue.publish(bodies[i]).then(
          () => (publishMs[i] = performance.now() - sent),
          (error: unknown) => {
            publishErrors++;
            firstError ??= error;
          },
        );
      });
      await withTimeout(started.reach(total), DRAIN_MS, "handling the last messages").catch(() => undefined);
      await consumer.close();
      if (publishErrors > 0) throw new Error(`${publishErrors} publishes failed, first: ${describeError(firstError)}`);

      // Messages never handled count as slower than any that were.
      const measured = latencyMs.subarray(warmupCount);
      const missing = measured.filter((ms) => Number.isNaN(ms)).length;
      const sorted = sortedNumbers(Array.from(measured, (ms) => (Number.isNaN(ms) ? Infinity : ms)));
      const at = (p: number) => percentile(sorted, p);
      const detail = missing > 0 ? `${missing} of ${measured.length} not handled within ${DRAIN_MS / 1000} s` : `n=${measured.length}`;
      for (const [id, p] of [["latency-p50", 50], ["latency-p99", 99]] as const) {
        const ms = at(p);
        record(id, Number.isFinite(ms) ? value(ms, detail) : { kind: "none", text: `> ${DRAIN_MS} (${detail})` });
      }
      const publishSorted = sortedNumbers(Array.from(publishMs.subarray(warmupCount), (ms) => (Number.isNaN(ms) ? Infinity : ms)));
      const ackP99 = percentile(publishSorted, 99);
      record("publish-ack-p99", Number.isFinite(ackP99) ? value(ackP99, `n=${measured.length}`) : { kind: "none", text: "not all acknowledged" });
      const publishText = `publish calls resolved in p50 ${formatNumber(percentile(publishSorted, 50))} ms, p99 ${formatNumber(percentile(publishSorted, 99))} ms`;
      context.log(`latency: p50 ${formatNumber(at(50))} ms, p99 ${formatNumber(at(99))} ms, max ${formatNumber(sorted[sorted.length - 1])} ms (${detail}); ${publishText}`);
      context.note(`${system.name}: latency run: ${publishText}`);
    } finally {
      await queue.delete();
    }
  },
};
