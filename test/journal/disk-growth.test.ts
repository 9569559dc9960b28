/**
 * A steady stream of publish + ack must not grow the data directory (RELIABILITY.md, soak slope
 * "disk bytes / live bytes: flat"). 50,000 messages go through a journal store in a real temp dir
 * (fsync `always`, 256 KiB segments, a snapshot every 5,000 operations), in rounds of 100 single
 * publishes in flight together, one lease of up to 100, and 100 single acks in flight together.
 *
 * After every round the directory is measured. What must hold, in bytes (never in time):
 *  - at most: two snapshots, plus the log the older of them needs (two snapshot intervals of
 *    records, a segment of slack at each end), plus one flight of records (measured, not guessed);
 *  - the second half of the run peaks no higher than the first half plus one segment (a flat slope);
 *  - the directory at the end is a small fraction of everything the log wrote.
 * The queue keeps completed statuses for the last 1,000 messages only: those are live data too,
 * and the default (100,000) would make the snapshot itself grow for the whole run.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore } from "../../src/index.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

const MESSAGES = 50_000;
const ROUND = 100;
const SEGMENT_MAX_BYTES = 256 * 1024;
const SNAPSHOT_EVERY_OPS = 5_000;

async function dirUsage(dir: string): Promise<{ bytes: number; snapshots: number; segments: number; largestSnapshot: number }> {
  let bytes = 0;
  let snapshots = 0;
  let segments = 0;
  let largestSnapshot = 0;
  for (const name of await fs.readdir(dir)) {
    const size = (await fs.stat(path.join(dir, name)).catch(() => undefined))?.size ?? 0; // a snapshot may be pruned meanwhile
    bytes += size;
    if (name.endsWith(".snap")) {
      snapshots++;
      largestSnapshot = Math.max(largestSnapshot, size);
    }
    if (name.endsWith(".log")) segments++;
  }
  return { bytes, snapshots, segments, largestSnapshot };
}

describe("disk growth under a steady publish + ack stream", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => removeTempDir(dir)));
  });

  it(`${MESSAGES} messages through 256 KiB segments and a snapshot every ${SNAPSHOT_EVERY_OPS} ops keep the directory bounded`, async () => {
    const dataDir = await makeTempDir("spool-growth-");
    dirs.push(dataDir);
    const clock = new ManualClock();
    const store = journalStore({ dataDir, clock, fsync: "always", segmentMaxBytes: SEGMENT_MAX_BYTES, snapshotEveryOps: SNAPSHOT_EVERY_OPS }) as JournalStore;
    const spool = await Spool.open({ store });
    const queue = spool.queue<{ seq: number; pad: string }>("stream", { completedRetentionCount: 1_000 });
    await queue.info();

    const samples: Array<{ bytes: number; largestSnapshot: number }> = [];
    let largestSnapshot = 0;
    let maxRecordsPerFlight = 0;
    for (let seq = 0; seq < MESSAGES; ) {
      const before = store.logStats.records;
      const published = [];
      for (let i = 0; i < ROUND; i++) published.push(queue.publish({ seq: seq++, pad: "x".repeat(40) }));
      await Promise.all(published);
      maxRecordsPerFlight = Math.max(maxRecordsPerFlight, store.logStats.records - before);
      const leased = await queue.lease({ max: ROUND });
      expect(leased).toHaveLength(ROUND);
      await Promise.all(leased.map((m) => queue.ack(m.id, m.leaseToken)));
      const usage = await dirUsage(dataDir);
      largestSnapshot = Math.max(largestSnapshot, usage.largestSnapshot);
      samples.push(usage);
    }

    const stats = await queue.stats();
    expect(stats).toMatchObject({ ready: 0, delayed: 0, leased: 0, totals: { published: MESSAGES, completed: MESSAGES } });
    const log = store.logStats;
    const recordBytes = log.bytesWritten / log.records;
    // Two snapshots, the records of two snapshot intervals (the older snapshot's tail), one flight
    // that may cross a threshold, and a segment of slack at each end (rotation happens between flights).
    const bound = 2 * largestSnapshot + 2 * SNAPSHOT_EVERY_OPS * recordBytes + maxRecordsPerFlight * recordBytes + 2 * SEGMENT_MAX_BYTES;
    const peak = Math.max(...samples.map((s) => s.bytes));
    const half = Math.floor(samples.length / 2);
    const firstHalfPeak = Math.max(...samples.slice(0, half).map((s) => s.bytes));
    const secondHalfPeak = Math.max(...samples.slice(half).map((s) => s.bytes));
    // A background snapshot may be between writing its file and pruning the oldest: let it finish
    // (snapshot() joins the one in flight, or takes one), so what is counted is the directory at rest.
    await store.snapshot();
    const final = await dirUsage(dataDir);
    console.log(
      `disk growth: ${MESSAGES} messages, ${log.records} records, ${(log.bytesWritten / 1e6).toFixed(1)} MB written; ` +
        `directory peak ${(peak / 1e6).toFixed(2)} MB (first half ${(firstHalfPeak / 1e6).toFixed(2)}, second half ${(secondHalfPeak / 1e6).toFixed(2)}), ` +
        `final ${(final.bytes / 1e6).toFixed(2)} MB in ${final.segments} segments + ${final.snapshots} snapshots; bound ${(bound / 1e6).toFixed(2)} MB; ` +
        `largest snapshot ${(largestSnapshot / 1e3).toFixed(0)} kB; group commit ${log.recordsPerFdatasync.toFixed(1)} records/fdatasync`,
    );
    expect(log.bytesWritten, "the run wrote far more than the bound: it tests something").toBeGreaterThan(3 * bound);
    expect(peak).toBeLessThanOrEqual(bound);
    expect(secondHalfPeak, "a flat slope").toBeLessThanOrEqual(firstHalfPeak + SEGMENT_MAX_BYTES);
    expect(final.snapshots).toBeLessThanOrEqual(2);

    // And the bounded directory still holds the whole state.
    await spool.close();
    const reopened = await Spool.open({ store: journalStore({ dataDir, clock: new ManualClock(clock.now()) }) });
    try {
      expect(await reopened.queue("stream").stats()).toMatchObject({ ready: 0, leased: 0, totals: { published: MESSAGES, completed: MESSAGES } });
    } finally {
      await reopened.close();
    }
  }, 120_000);
});
