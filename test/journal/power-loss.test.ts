/**
 * Power loss under load, at the store level (RELIABILITY.md, toolbox "power loss (a)").
 *
 * Producers (each with several publishes in flight) and consumers (lease → ack / ackMany /
 * nack / abandon) run against a journal store on `CrashFs` until the power is cut just before a
 * seeded random file-system call, keeping a torn (sometimes zero-filled) prefix of un-synced
 * bytes. Sometimes the recovery itself is cut by a second power loss (R6). A fresh store then
 * opens the disk, and the total-queue checker (../helpers/total-queue.ts) drains it:
 *
 *   fsync `always`: lost = 0, acked-redelivered = 0, acked-not-completed = 0, unexpected = 0,
 *                   duplicated = 0, every recovered producer's messages form a prefix, and the
 *                   stats before the drain match what the drain found.
 *   `interval` / `never`: the open succeeds without repair, nothing unexpected or duplicated,
 *                   the recovered messages are a prefix; lost is only reported.
 *
 * Each run has its own seed (base seed + run number); replay one with SPOOL_SEED=<seed> SPOOL_RUNS=1.
 */
import { describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, SpoolError, type FsyncPolicy, type JournalStore, type JournalWarning, type LeasedMessage, type Queue } from "../../src/index.js";
import { CrashFs, MemoryDisk } from "../helpers/crash-fs.js";
import { randomInt, seededRandom, testSeed } from "../helpers/seeded-random.js";
import { check, drainAll, formatFigures, History, keyCompleted, keyOf, prefixHoles, type Body, type Figures } from "../helpers/total-queue.js";

const DIR = "/data/spool";
const QUEUES = ["orders", "emails"];
const LEASE_MS = 60_000;
const QUEUE_OPTIONS = { maxAttempts: 1000, leaseMs: LEASE_MS, completedRetentionMs: 30 * 86_400_000, completedRetentionCount: 100_000_000 };

interface RunResult {
  seed: number;
  figures: Figures;
  holes: string[];
  statsMismatch: string | undefined;
  warnings: JournalWarning[];
  recordsPerFdatasync: number;
  crashOp: number;
  /** The cut came while the workload ran (not after it ended). */
  midLoad: boolean;
  secondCrash: boolean;
}

function unavailableOnly(error: unknown): void {
  // After a power cut every write fails `unavailable` (outcome unknown); anything else is a bug.
  if (!(error instanceof SpoolError && error.code === "unavailable")) throw error;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function powerLossRun(seed: number, policy: FsyncPolicy): Promise<RunResult> {
  const random = seededRandom(seed);
  const disk = new MemoryDisk();
  const fs = new CrashFs(disk);
  const clock = new ManualClock();
  const store = journalStore({
    dataDir: DIR,
    fs,
    clock,
    fsync: policy,
    fsyncIntervalMs: 20,
    segmentMaxBytes: randomInt(random, 400, 6000),
    snapshotEveryOps: randomInt(random, 15, 300),
    snapshotEveryMs: 1_000_000_000,
    random,
    onWarning: () => undefined,
  }) as JournalStore;
  const spool = await Spool.open({ store });
  const queues = QUEUES.map((name) => spool.queue<Body>(name, QUEUE_OPTIONS));
  await Promise.all(queues.map((q) => q.info()));

  const history = new History();
  let crashed = false;
  // A full run makes ~200–600 file-system calls: most cuts land mid-load, some after it ends.
  const crashOp = random() < 0.9 ? randomInt(random, 1, 220) : randomInt(random, 220, 700);
  const crashOptions = { tornPrefix: random, zeroFill: random() < 0.5 };
  const afterCrash = fs.crashAtOp(crashOp, crashOptions).then((next) => {
    crashed = true;
    return next;
  });
  const failures: unknown[] = [];
  const guard = (promise: Promise<unknown>) => promise.catch((error: unknown) => failures.push(error));

  const producer = async (name: string, window: number, limit: number) => {
    const inFlight = new Set<Promise<unknown>>();
    for (let seq = 0; seq < limit && !crashed; ) {
      const q = queues[randomInt(random, 0, queues.length - 1)];
      const batch = random() < 0.25 ? randomInt(random, 2, 5) : 1;
      const bodies: Body[] = [];
      for (let i = 0; i < batch && seq < limit; i++) bodies.push({ producer: name, seq: seq++ });
      for (const body of bodies) history.publishInvoked(keyOf(body));
      const publish = (bodies.length === 1 ? q.publish(bodies[0]).then((r) => [r]) : q.publishMany(bodies.map((body) => ({ body })))).then(
        (results) => results.forEach((r, i) => history.publishOk(keyOf(bodies[i]), r.id)),
        unavailableOnly,
      );
      inFlight.add(publish);
      void publish.finally(() => inFlight.delete(publish));
      if (inFlight.size >= window) await Promise.race(inFlight);
      // Real producers are driven by I/O: give the loop (and the log's flights) a turn now and then.
      if (random() < 0.3) await turn();
      if (random() < 0.1) clock.advance(randomInt(random, 0, 30));
    }
    await Promise.all(inFlight);
  };

  const consumer = async (q: Queue<Body>) => {
    let idle = 0;
    while (!crashed && idle < 200) {
      const leased = await q.lease({ max: randomInt(random, 1, 6) }).catch((error: unknown) => (unavailableOnly(error), []));
      if (leased.length === 0) {
        idle++;
        await turn();
        continue;
      }
      idle = 0;
      for (const m of leased) history.leased(keyOf(m.body), m.id);
      const settle: Array<Promise<unknown>> = [];
      const toAckMany: LeasedMessage<Body>[] = [];
      for (const m of leased) {
        const key = keyOf(m.body);
        const choice = random();
        if (choice < 0.45) {
          history.ackInvoked(key, m.id);
          settle.push(q.ack(m.id, m.leaseToken).then(() => history.ackOk(key, m.id), unavailableOnly));
        } else if (choice < 0.8) {
          history.ackInvoked(key, m.id);
          toAckMany.push(m);
        } else if (choice < 0.93) {
          settle.push(q.nack(m.id, m.leaseToken, { error: { message: "try again", kind: "transient" } }).catch(unavailableOnly));
        } // else: abandoned, still leased when the power goes
      }
      if (toAckMany.length > 0) {
        settle.push(
          q.ackMany(toAckMany.map((m) => ({ id: m.id, leaseToken: m.leaseToken }))).then((outcomes) => {
            outcomes.forEach((o, i) => {
              if (!o.ok) throw new Error(`ackMany: ${o.id} ${o.code} with a fresh lease`);
              history.ackOk(keyOf(toAckMany[i].body), toAckMany[i].id);
            });
          }, unavailableOnly),
        );
      }
      if (random() < 0.5) await Promise.all(settle);
      else settle.forEach(guard);
      if (random() < 0.3) await turn();
    }
  };

  const workers = [
    producer("p0", 1, 120),
    producer("p1", 4, 120),
    producer("p2", 8, 160),
    consumer(queues[0]),
    consumer(queues[1]),
    consumer(queues[0]),
  ].map(guard);
  await Promise.all(workers);
  const recordsPerFdatasync = store.logStats.recordsPerFdatasync;
  const midLoad = crashed;
  let nextFs: CrashFs;
  if (crashed) {
    nextFs = await afterCrash;
  } else {
    // The workload ended before the chosen call: cut the power now, at rest.
    fs.beforeOp = undefined;
    crashed = true;
    nextFs = fs.crash(crashOptions);
  }
  expect(failures, `seed ${seed}: unexpected errors in the workload`).toEqual([]);

  // Sometimes the recovery is cut short by a second power loss (R6).
  const warnings: JournalWarning[] = [];
  const secondCrash = random() < 0.3;
  const clockB = new ManualClock(clock.now());
  const openB = (fsB: CrashFs) =>
    journalStore({ dataDir: DIR, fs: fsB, clock: clockB, fsync: policy, random, onWarning: (w) => warnings.push(w) }) as JournalStore;
  let storeB: JournalStore | undefined;
  if (secondCrash) {
    let cut = false;
    const third = nextFs.crashAtOp(randomInt(random, 1, 12), crashOptions).then((f) => ((cut = true), f));
    const attempt = openB(nextFs);
    try {
      await attempt.open();
      storeB = attempt;
    } catch (error) {
      unavailableOnly(error);
    }
    if (cut) {
      nextFs = await third;
      if (storeB) {
        // The cut came after the open: that store's process is gone too.
        storeB = undefined;
      }
    } else {
      nextFs.beforeOp = undefined;
    }
  }
  if (!storeB) {
    storeB = openB(nextFs);
    await storeB.open();
  }

  const drained = await drainAll(storeB, clockB, QUEUES, history.ids.values(), LEASE_MS + 1);
  keyCompleted(drained.recovered, history);
  const figures = check(history, drained.recovered);
  const foundLive = new Set(drained.recovered.delivered.map((f) => f.id)).size + (drained.recovered.dead.length - drained.deadBefore);
  const statsMismatch =
    drained.before.live !== foundLive || drained.before.dead !== drained.deadBefore
      ? `stats before the drain said live=${drained.before.live} dead=${drained.before.dead}, the drain found live=${foundLive} dead=${drained.deadBefore}`
      : undefined;
  await storeB.close();
  return { seed, figures, holes: prefixHoles(drained.recovered), statsMismatch, warnings, recordsPerFdatasync, crashOp, midLoad, secondCrash };
}

function summarize(policy: FsyncPolicy, results: RunResult[]): string {
  const sum = (pick: (f: Figures) => number) => results.reduce((n, r) => n + pick(r.figures), 0);
  const rpf = results.reduce((n, r) => n + r.recordsPerFdatasync, 0) / results.length;
  return [
    `power loss, fsync ${policy}, ${results.length} runs (${results.filter((r) => r.midLoad).length} cut mid-load, ${results.filter((r) => r.secondCrash).length} with a second cut during recovery):`,
    `ok-publishes=${sum((f) => f.okPublishes)} unknown=${sum((f) => f.unknownPublishes)} acked=${sum((f) => f.okAcks)}`,
    `lost=${sum((f) => f.lost)} unexpected=${sum((f) => f.unexpected)} acked-redelivered=${sum((f) => f.ackedRedelivered)}`,
    `acked-not-completed=${sum((f) => f.ackedNotCompleted)} duplicated=${sum((f) => f.duplicated)} recovered-unknown=${sum((f) => f.recoveredUnknown)}`,
    `torn tails truncated=${results.reduce((n, r) => n + r.warnings.filter((w) => w.kind === "torn-tail").length, 0)}`,
    `group-commit factor (records per fdatasync, mean)=${rpf.toFixed(2)}`,
  ].join("\n  ");
}

const baseSeed = testSeed();
const runs = (n: number) => Number(process.env.SPOOL_RUNS ?? n);

describe("power loss under concurrent load (CrashFs)", () => {
  it("fsync always: nothing acknowledged is lost or comes back after an ack", async () => {
    const results: RunResult[] = [];
    for (let i = 0; i < runs(50); i++) {
      const seed = (baseSeed + i) >>> 0;
      const r = await powerLossRun(seed, "always");
      results.push(r);
      const where = `seed ${seed} (crash at op ${r.crashOp}): ${formatFigures("figures", r.figures)} ${JSON.stringify(r.figures.examples)}`;
      expect(r.figures.lost, where).toBe(0);
      expect(r.figures.ackedRedelivered, where).toBe(0);
      expect(r.figures.ackedNotCompleted, where).toBe(0);
      expect(r.figures.unexpected, where).toBe(0);
      expect(r.figures.duplicated, where).toBe(0);
      expect(r.holes, where).toEqual([]);
      expect(r.statsMismatch, where).toBeUndefined();
      expect(r.warnings.filter((w) => w.kind !== "torn-tail" && w.kind !== "temp-file-removed"), where).toEqual([]);
    }
    expect(results.reduce((n, r) => n + r.figures.okPublishes, 0)).toBeGreaterThan(0);
    console.log(summarize("always", results));
  }, 60_000);

  for (const policy of ["interval", "never"] as const) {
    it(`fsync ${policy}: recovery opens without repair and returns a prefix; lost is reported`, async () => {
      const results: RunResult[] = [];
      for (let i = 0; i < runs(15); i++) {
        const seed = (baseSeed + 1000 + i) >>> 0;
        const r = await powerLossRun(seed, policy);
        results.push(r);
        const where = `seed ${seed} (crash at op ${r.crashOp}): ${formatFigures("figures", r.figures)} ${JSON.stringify(r.figures.examples)}`;
        expect(r.figures.unexpected, where).toBe(0);
        expect(r.figures.duplicated, where).toBe(0);
        expect(r.holes, where).toEqual([]);
        expect(r.statsMismatch, where).toBeUndefined();
        expect(r.warnings.filter((w) => w.kind !== "torn-tail" && w.kind !== "temp-file-removed"), where).toEqual([]);
      }
      console.log(summarize(policy, results));
    }, 60_000);
  }
});
