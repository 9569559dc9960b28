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

/** Runs `work`, timing it and the longest gap between 1 ms timer ticks meanwhile (how long the event loop was blocked). */
async function timeBlocking(work: () => Promise<void>): Promise<{ ms: number; maxBlockMs: number }> {
  let last = performance.now();
  let maxBlockMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxBlockMs = Math.max(maxBlockMs, now - last);
    last = now;
  }, 1);
  const started = performance.now();
  try {
    await work();
  } finally {
    clearInterval(ticker);
  }
  const ended = performance.now();
  return { ms: ended - started, maxBlockMs: Math.max(maxBlockMs, ended - last) };
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
    // After the reopen, so that close() above still had a snapshot to take.
    let snapshot: ReadyMemoryReport["snapshot"];
    if (system.snapshot) {
      const takeSnapshot = system.snapshot.bind(system);
      snapshot = await timeBlocking(() => takeSnapshot());
    }
    return { emptyRssBytes, rssBytes, peakRssBytes, heapUsedBytes, publishMs, reopen, snapshot };
  } finally {
    await system.teardown();
  }
}

main().then(
  (report) => process.send?.({ report }, () => process.exit(0)),
  (error: unknown) => process.send?.({ error: error instanceof Error ? error.message : String(error) }, () => process.exit(1)),
);
