/** The child side of forkReadyMemory: `ready-memory-child.ts <system> <count>`, reports over IPC. */
import { makeBodies } from "./body.js";
import { collectGarbage } from "./stats.js";
import type { ReadyMemoryReport } from "./ready-memory.js";
import { systemEntries } from "../systems/index.js";
import type { BenchSystem } from "../systems/system.js";

const BATCH = 10_000;

/** Publishes `count` messages into a fresh queue; the queue handle stays local, so a reopen can let go of the old store. */
async function fill(system: BenchSystem, count: number): Promise<{ emptyRssBytes: number; publishMs: number }> {
  const queue = await system.createQueue();
  // Warm the code paths, then measure from an empty queue.
  await queue.publishMany(makeBodies(1_000));
  await queue.delete();
  const target = await system.createQueue();
  collectGarbage();
  const emptyRssBytes = process.memoryUsage.rss();
  const started = performance.now();
  for (let from = 0; from < count; from += BATCH) {
    await target.publishMany(makeBodies(Math.min(BATCH, count - from), from));
  }
  return { emptyRssBytes, publishMs: performance.now() - started };
}

async function main(): Promise<ReadyMemoryReport> {
  const [name, countText] = process.argv.slice(2);
  const entry = systemEntries.find((e) => e.name === name);
  if (!entry) throw new Error(`no system named "${name}"`);
  const count = Number(countText);
  const system = entry.create();
  await system.setup();
  try {
    const { emptyRssBytes, publishMs } = await fill(system, count);
    collectGarbage();
    const rssBytes = process.memoryUsage.rss();
    // maxRSS is the kernel's high-water mark for this process, in KiB.
    const peakRssBytes = Math.max(process.resourceUsage().maxRSS * 1024, rssBytes);
    const heapUsedBytes = process.memoryUsage().heapUsed;
    let reopen: ReadyMemoryReport["reopen"];
    if (system.reopen) {
      const times = await system.reopen();
      collectGarbage();
      reopen = { ...times, rssBytes: process.memoryUsage.rss() };
    }
    return { emptyRssBytes, rssBytes, peakRssBytes, heapUsedBytes, publishMs, reopen };
  } finally {
    await system.teardown();
  }
}

main().then(
  (report) => process.send?.({ report }, () => process.exit(0)),
  (error: unknown) => process.send?.({ error: error instanceof Error ? error.message : String(error) }, () => process.exit(1)),
);
