/**
 * kill -9 under load, with real processes (RELIABILITY.md, "How a crash test checks its results").
 *
 * Each cycle starts `child-host.ts` in `load` mode on a fresh temp data dir (fsync `always`):
 * three producers ({seq, producer} bodies; 1, 4 and 16 publishes in flight) and two consumers per
 * queue (ack, ackMany, transient nack, or abandon). The child reports every publish and ack over
 * IPC before it calls it and again once it resolved; a publish or ack is `ok` only when the parent
 * has received that confirmation. After a seeded number of confirmations the parent SIGKILLs the
 * child, waits for it to be gone, reopens the directory in-process (taking over the stale lock),
 * drains every queue and the dead-letter queue, and runs the total-queue checker:
 *
 *   lost = 0, acked-redelivered = 0, acked-not-completed = 0, unexpected = 0, duplicated = 0,
 *   and the stats read right after the reopen match what the drain found.
 *
 * A kill lands between any two instructions of the child, but the page cache survives: this tests
 * the process (what it acknowledged before its data reached the kernel), not power loss (see
 * test/journal/power-loss.test.ts). The kill moment is seeded; the interleaving of the child's
 * work is not, so SPOOL_SEED=<seed> SPOOL_RUNS=1 replays the cycle's parameters, not its exact run.
 */
import { performance } from "node:perf_hooks";
import { afterAll, describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore, type JournalWarning } from "../../src/index.js";
import { randomInt, seededRandom, testSeed } from "../helpers/seeded-random.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { check, drainAll, formatFigures, History, keyCompleted, type Figures } from "../helpers/total-queue.js";
import { LOAD, type ChildMessage } from "./load-spec.js";
import { recordInHistory, spawnHost } from "./spawn-host.js";

const QUEUES = ["orders", "emails"];
const producerNames = new Set<string>(LOAD.producers.map((p) => p.name));

/** Whether the child could have published this body (so finding it is not "unexpected"). */
function mayHaveBeenAttempted(key: string): boolean {
  const [producer, seqText] = key.split(":");
  const seq = Number(seqText);
  return producerNames.has(producer) && Number.isInteger(seq) && seq >= 0 && seq < LOAD.maxSeq;
}

interface Cycle {
  seed: number;
  killAfter: number;
  figures: Figures;
  heardUnannounced: number;
  statsMismatch: string | undefined;
  warnings: JournalWarning[];
  recoveryMs: number;
  recordsPerFdatasync: number;
  childErrors: string[];
}

async function killCycle(seed: number, dataDir: string): Promise<Cycle> {
  const random = seededRandom(seed);
  const killAfter = randomInt(random, 20, 1500);
  const history = new History();
  const childErrors: string[] = [];
  let confirmations = 0;
  let killed = false;
  let recordsPerFdatasync = 0;

  const host = spawnHost(["load", dataDir, String(seed), QUEUES.join(",")], (message: ChildMessage) => {
    if (recordInHistory(history, message)) confirmations++;
    switch (message.t) {
      case "stats":
        recordsPerFdatasync = message.recordsPerFdatasync;
        break;
      case "error":
        childErrors.push(message.message);
        break;
    }
    if (!killed && (confirmations >= killAfter || childErrors.length > 0)) {
      killed = true;
      host.child.kill("SIGKILL");
    }
  });
  await host.waitFor((m) => m.t === "ready", "the child opened the data dir");
  const end = await host.ended;
  expect(end.signal, `seed ${seed}: the child died on its own; stderr:\n${host.stderr()}`).toBe("SIGKILL");

  const warnings: JournalWarning[] = [];
  const clock = new ManualClock(Date.now());
  const store = journalStore({ dataDir, clock, fsync: "always", onWarning: (w) => warnings.push(w) }) as JournalStore;
  const started = performance.now();
  const spool = await Spool.open({ store }); // the child's lock is stale: taken over
  const recoveryMs = performance.now() - started;
  try {
    const drained = await drainAll(store, clock, QUEUES, [...history.ids.values()], LOAD.leaseMs + 1);
    keyCompleted(drained.recovered, history);
    // A body the child published just before the kill, whose "pub" message never arrived, is an unknown publish.
    let heardUnannounced = 0;
    for (const f of [...drained.recovered.delivered, ...drained.recovered.dead]) {
      if (!history.publishes.has(f.key) && mayHaveBeenAttempted(f.key)) {
        history.publishInvoked(f.key);
        heardUnannounced++;
      }
    }
    const figures = check(history, drained.recovered);
    const foundLive = new Set(drained.recovered.delivered.map((f) => f.id)).size + (drained.recovered.dead.length - drained.deadBefore);
    const statsMismatch =
      drained.before.live !== foundLive || drained.before.dead !== drained.deadBefore
        ? `stats after reopen said live=${drained.before.live} dead=${drained.before.dead}; the drain found live=${foundLive} dead=${drained.deadBefore}`
        : undefined;
    return { seed, killAfter, figures, heardUnannounced, statsMismatch, warnings, recoveryMs, recordsPerFdatasync, childErrors };
  } finally {
    await spool.close();
  }
}

const baseSeed = testSeed();
const cycles = Number(process.env.SPOOL_RUNS ?? (process.env.SPOOL_SEED ? 1 : 10));

describe("kill -9 of a library host under load (real processes)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => removeTempDir(dir)));
  });

  it(`loses nothing acknowledged and never redelivers an acked message (${cycles} seeded cycles)`, async () => {
    const results: Cycle[] = [];
    for (let i = 0; i < cycles; i++) {
      const seed = (baseSeed + i) >>> 0;
      const dataDir = await makeTempDir("spool-kill-");
      dirs.push(dataDir);
      const r = await killCycle(seed, dataDir);
      results.push(r);
      const line = formatFigures(`kill cycle seed=${seed} after ${r.killAfter} confirmations`, r.figures, {
        "unannounced-found": r.heardUnannounced,
        "recovery-ms": r.recoveryMs.toFixed(1),
        "records/fdatasync": r.recordsPerFdatasync.toFixed(1),
      });
      console.log(line);
      const where = `${line} ${JSON.stringify(r.figures.examples)} (replay: SPOOL_SEED=${seed} SPOOL_RUNS=1)`;
      expect(r.childErrors, where).toEqual([]);
      expect(r.figures.lost, where).toBe(0);
      expect(r.figures.ackedRedelivered, where).toBe(0);
      expect(r.figures.ackedNotCompleted, where).toBe(0);
      expect(r.figures.unexpected, where).toBe(0);
      expect(r.figures.duplicated, where).toBe(0);
      expect(r.statsMismatch, where).toBeUndefined();
      // A kill keeps the page cache: nothing the child wrote is lost, so no tail can be torn.
      expect(r.warnings.filter((w) => w.kind !== "temp-file-removed"), where).toEqual([]);
      expect(r.figures.okPublishes, where).toBeGreaterThan(0);
    }
    const sum = (pick: (f: Figures) => number) => results.reduce((n, r) => n + pick(r.figures), 0);
    console.log(
      `kill -9 totals over ${results.length} cycles: ok-publishes=${sum((f) => f.okPublishes)} unknown=${sum((f) => f.unknownPublishes)} acked=${sum((f) => f.okAcks)} ` +
        `lost=${sum((f) => f.lost)} unexpected=${sum((f) => f.unexpected)} acked-redelivered=${sum((f) => f.ackedRedelivered)} duplicated=${sum((f) => f.duplicated)} ` +
        `recovered-unknown=${sum((f) => f.recoveredUnknown)}; recovery p50=${median(results.map((r) => r.recoveryMs)).toFixed(1)} ms; ` +
        `group commit ≈ ${median(results.map((r) => r.recordsPerFdatasync)).toFixed(1)} records/fdatasync`,
    );
  }, 90_000);
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
