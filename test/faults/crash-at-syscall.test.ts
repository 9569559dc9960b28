/**
 * Crash at an exact syscall (RELIABILITY.md, "Fault toolbox"): a real `spool serve` under client
 * load (publishes and publishMany batches from three producers with 1, 4 and 12 requests in
 * flight, two consumers per queue that lease, ack, ack in batches or abandon), with strace
 * attached and told to SIGKILL the server on entering its Nth call of a syscall:
 *
 *   fdatasync, N = 1, 5 and a seeded N   killed before the group's fdatasync runs: nothing of
 *                                        that group may have been answered 201/204
 *   rename, N = 2                        between the second snapshot's write and its rename
 *   unlink of segments 1–2, N = 2        after a snapshot is durable, before the segments it
 *                                        covers are all deleted
 *
 * Then the data dir is reopened with the library (the dead server's lock is stale) and drained,
 * and the total-queue checker requires: lost = 0, acked-redelivered = 0, acked-not-completed = 0,
 * unexpected = 0, duplicated = 0. The kill keeps the page cache, so no recovery warning other
 * than a removed snapshot temp file is allowed either. Seeded: SPOOL_SEED=<seed> replays the
 * load's choices and N (not the exact interleaving).
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect } from "vitest";
import { segmentPath } from "../../src/log/layout.js";
import { randomInt, seededRandom, testSeed } from "../helpers/seeded-random.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { Load } from "./http-load.js";
import { expectNothingLost, formatReport, reopenAndCheck, type Report } from "./reopen-check.js";
import { faultTest } from "./fault-test.js";
import { attachStrace, startServe } from "./serve-process.js";

const QUEUES = ["orders", "emails"];
const LEASE_MS = 30_000;
/** Many attempts and a long completed retention: the drain must see every message and every ack. */
const QUEUE_OPTIONS = { maxAttempts: 1000, leaseMs: LEASE_MS, completedRetentionMs: 30 * 86_400_000, completedRetentionCount: 100_000_000 };
/** If the Nth call never comes, the load stops here and the test fails. */
const MAX_PUBLISH_REQUESTS = 6_000;

interface Scenario {
  name: string;
  /** strace syscall set, e.g. `fdatasync` or `rename,renameat,renameat2`. */
  syscalls: string;
  when: number;
  journal?: Record<string, unknown>;
  /** `-P` paths: only calls on these count and are hit. */
  paths?: (dataDir: string) => string[];
  /** What the killed call must have been on (from the trace), so the scenario is the one intended. */
  target: RegExp;
}

interface Outcome {
  report: Report;
  load: Load;
  /** The line of the strace log with the killed call. */
  killedCall: string;
}

async function crashCycle(scenario: Scenario, seed: number, root: string): Promise<Outcome> {
  const dataDir = path.join(root, "data");
  const traceFile = path.join(root, "strace.log");
  const queues = Object.fromEntries(QUEUES.map((q) => [q, QUEUE_OPTIONS]));
  const server = await startServe({ dataDir, config: { journal: scenario.journal ?? {}, queues }, settleQueue: QUEUES[0] });
  let load: Load | undefined;
  try {
    const filters = (scenario.paths?.(dataDir) ?? []).flatMap((p) => ["-P", p]);
    const tracer = await attachStrace(server.pid, [
      "-o", traceFile, "-y", ...filters,
      "-e", `trace=${scenario.syscalls}`,
      "-e", `inject=${scenario.syscalls}:signal=KILL:when=${scenario.when}`,
    ]);
    load = new Load({ url: server.url, queues: QUEUES, seed, leaseMs: LEASE_MS, maxPublishRequests: MAX_PUBLISH_REQUESTS });
    await load.run();
    if (!load.serverGone) throw new Error(`${scenario.name}: call ${scenario.when} never came within ${MAX_PUBLISH_REQUESTS} publish requests; strace: ${tracer.stderr()}`);
    const exit = await server.ended;
    expect(exit.signal, `${scenario.name}: the server must die of the injected SIGKILL\n${server.output()}`).toBe("SIGKILL");
    await tracer.ended;
  } finally {
    await server.kill(); // no-op once dead; never leave a server behind on failure
  }
  const trace = await fs.readFile(traceFile, "utf8");
  const calls = trace.split("\n").filter((line) => new RegExp(`\\b(${scenario.syscalls.replaceAll(",", "|")})\\(`).test(line));
  const killedCall = calls[calls.length - 1] ?? "";
  expect(killedCall, `${scenario.name}: the last traced call is the one killed; trace:\n${trace.slice(-3000)}`).toMatch(/= \?$|<unfinished \.\.\.>$/);
  expect(killedCall, `${scenario.name}: killed on the wrong file`).toMatch(scenario.target);
  const report = await reopenAndCheck(dataDir, load, QUEUES, LEASE_MS);
  return { report, load, killedCall };
}

const baseSeed = testSeed();

function scenarios(): Scenario[] {
  const random = seededRandom(baseSeed);
  const onSegment = /seg-\d{12}\.log/;
  return [
    { name: "fdatasync #1", syscalls: "fdatasync", when: 1, target: onSegment },
    { name: "fdatasync #5", syscalls: "fdatasync", when: 5, target: onSegment },
    { name: "fdatasync (seeded)", syscalls: "fdatasync", when: randomInt(random, 20, 150), target: onSegment },
    {
      // A snapshot every 40 operations: the 2nd rename is the 2nd snapshot's .tmp → .snap.
      name: "rename of a snapshot",
      syscalls: "rename,renameat,renameat2",
      when: 2,
      journal: { snapshotEveryOps: 40, segmentMaxBytes: 4096 },
      target: /\.snap\.tmp/,
    },
    {
      // Segments are deleted once two snapshots cover them: segment 1 at the 2nd snapshot,
      // segment 2 at the 3rd. Killed before segment 2's unlink.
      name: "unlink of a covered segment",
      syscalls: "unlink,unlinkat",
      when: 2,
      journal: { snapshotEveryOps: 40, segmentMaxBytes: 4096 },
      paths: (dataDir) => [1, 2].map((segment) => segmentPath(dataDir, segment)),
      target: /seg-000000000002\.log/,
    },
  ];
}

const withStrace = faultTest({ tools: ["strace"] });

describe("spool serve killed at an exact syscall under load (strace inject signal=KILL)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => removeTempDir(dir)));
  });

  for (const [i, scenario] of scenarios().entries()) {
    withStrace(`${scenario.name} (when=${scenario.when}): nothing acknowledged is lost, nothing acked comes back`, async () => {
      const seed = (baseSeed + i) >>> 0;
      const root = await makeTempDir("spool-faults-crash-");
      dirs.push(root);
      const { report, load, killedCall } = await crashCycle(scenario, seed, root);
      const line = formatReport(`crash at ${scenario.name} when=${scenario.when} seed=${seed}`, report, load, {
        "publish-requests": load.counts.publishRequests,
        leased: load.counts.leased,
      });
      console.log(`${line}\n  killed at: ${killedCall.trim()}`);
      const where = `${line} (replay: SPOOL_SEED=${baseSeed})`;
      expectNothingLost(report, load, where);
      expect(report.warnings.filter((w) => w.kind !== "temp-file-removed"), where).toEqual([]);
      if (scenario.when > 1) expect(report.figures.okPublishes, `${where}: the load got no publish through before the kill`).toBeGreaterThan(0);
    }, 30_000);
  }
});
