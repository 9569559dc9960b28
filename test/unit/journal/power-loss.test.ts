/**
 * Power loss at every kind of point, over many seeded runs: a random workload of appends, group
 * commits, rotations and snapshots runs on `CrashFs` until the power is cut just before a random
 * file-system call, keeping torn prefixes of un-synced bytes. Then:
 *   - recovery must succeed without repair (a power cut never looks like mid-log corruption);
 *   - what comes back is a prefix of what was attempted, in order (nothing unexpected, no holes);
 *   - with fsync `always`, every append that resolved is in it (lost = 0);
 *   - recovery is idempotent, and a recovery cut by a second power loss ends the same way (R6);
 *   - the log can be continued.
 * Replay a failure with SPOOL_SEED=<seed printed in the assertion>.
 */
import { describe, expect, it } from "vitest";
import { readLog, type ReadLogResult } from "../../../src/log/recovery.js";
import type { FsyncPolicy } from "../../../src/log/segment-log.js";
import { deleteCoveredSegments, pruneSnapshots, writeSnapshot } from "../../../src/log/snapshot-file.js";
import { ManualClock } from "../../../src/util/clock.js";
import { CrashFs } from "../../helpers/crash-fs.js";
import { randomInt, seededRandom, testSeed } from "../../helpers/seeded-random.js";
import { DIR, nextTurn, openLog } from "./log-helpers.js";

function payloadFor(id: number, padding: number): Buffer {
  return Buffer.from(`${id}:${"x".repeat(padding)}`);
}

function idOf(payload: Buffer): number {
  return Number(payload.toString().split(":", 1)[0]);
}

function recoveredIds(result: ReadLogResult): number[] {
  const fromSnapshot: number[] = result.snapshot ? (JSON.parse(result.snapshot.data.toString()) as number[]) : [];
  return [...fromSnapshot, ...result.records.map((record) => idOf(record.payload))];
}

async function powerLossRun(seed: number, policy: FsyncPolicy): Promise<{ attempted: number; acked: number; recovered: number }> {
  const random = seededRandom(seed);
  const clock = new ManualClock();
  const fs = new CrashFs();
  const log = await openLog(fs, { fsync: policy, segmentMaxBytes: randomInt(random, 80, 600), fsyncIntervalMs: 10, clock });
  const attempted: number[] = [];
  const acked = new Set<number>();
  const outstanding = new Set<Promise<void>>();
  const crashOptions = { tornPrefix: random, zeroFill: random() < 0.5 };

  let crashed = false;
  const afterCrash = fs.crashAtOp(randomInt(random, 1, 120), crashOptions).then((next) => {
    crashed = true;
    return next;
  });

  for (let step = 0; step < 300 && !crashed; step++) {
    const choice = random();
    if (choice < 0.55) {
      for (let n = randomInt(random, 1, 8); n > 0; n--) {
        const id = attempted.length;
        attempted.push(id);
        const promise = log.append(1, payloadFor(id, randomInt(random, 0, 40))).then(
          () => void acked.add(id),
          () => undefined,
        );
        outstanding.add(promise);
        void promise.then(() => outstanding.delete(promise));
      }
    } else if (choice < 0.75) {
      await nextTurn();
    } else if (choice < 0.85) {
      if (outstanding.size > 0) await Promise.race(outstanding);
      clock.advance(randomInt(random, 0, 15));
    } else {
      // A snapshot, the way the owner will take one: seal, capture, flush, write, prune, delete.
      try {
        const position = log.seal();
        const state = attempted.slice();
        await log.flush();
        await writeSnapshot(fs, DIR, position, Buffer.from(JSON.stringify(state)));
        const keepFrom = await pruneSnapshots(fs, DIR, 2);
        if (keepFrom) await deleteCoveredSegments(fs, DIR, keepFrom);
      } catch {
        // the power went out (or a flush failed because of it)
      }
    }
  }
  const next = crashed ? await afterCrash : fs.crash(crashOptions);
  await Promise.allSettled([...outstanding]);

  const expected = await readLog(new CrashFs(next.disk.clone()), DIR);
  const ids = recoveredIds(expected);
  const context = `seed ${seed}, policy ${policy}`;
  expect(ids, context).toEqual(attempted.slice(0, ids.length));
  if (policy === "always") {
    const lost = [...acked].filter((id) => id >= ids.length);
    expect(lost, `${context}: acknowledged appends lost`).toEqual([]);
  }

  // Recovery cut short by a second power loss ends where an uninterrupted one does (R6).
  const recoveryCrash = next.crashAtOp(randomInt(random, 1, 12), { tornPrefix: random });
  const firstTry = readLog(next, DIR).catch(() => undefined);
  const [, rebooted] = await Promise.all([firstTry, Promise.race([recoveryCrash, firstTry.then(() => undefined)])]);
  const fsAfter = rebooted ?? next;
  fsAfter.beforeOp = undefined;
  const final = await readLog(fsAfter, DIR);
  expect(recoveredIds(final), context).toEqual(ids);
  expect(final.end, context).toEqual(expected.end);
  const again = await readLog(fsAfter, DIR);
  expect(again.warnings, `${context}: second recovery`).toEqual([]);

  // The recovered log takes appends again.
  const continued = await openLog(fsAfter, { fsync: "always" });
  await continued.append(1, payloadFor(attempted.length, 3));
  await continued.close();
  expect(recoveredIds(await readLog(fsAfter, DIR)), context).toEqual([...ids, attempted.length]);
  return { attempted: attempted.length, acked: acked.size, recovered: ids.length };
}

describe("power loss (CrashFs)", () => {
  const baseSeed = testSeed();

  it("fsync always: no acknowledged append is ever lost, over many seeded crashes with torn writes", async () => {
    let acked = 0;
    let recovered = 0;
    for (let run = 0; run < 300; run++) {
      const result = await powerLossRun(baseSeed + run, "always");
      acked += result.acked;
      recovered += result.recovered;
    }
    expect(acked).toBeGreaterThan(0);
    expect(recovered).toBeGreaterThanOrEqual(acked);
  });

  it.each(["interval", "never"] as const)("fsync %s: recovery never refuses after a power cut and returns an in-order prefix", async (policy) => {
    for (let run = 0; run < 100; run++) await powerLossRun(baseSeed + 10_000 + run, policy);
  });
});
