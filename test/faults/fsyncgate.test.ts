/**
 * fsyncgate (RELIABILITY R1, R3): an fdatasync that fails with EIO is not retried into a success.
 * The publishes and acks of the failed group are answered 503 (never 201/204), the server cuts the
 * log back to what was acknowledged and rebuilds from the disk, later writes succeed without a
 * restart, and nothing that got a 201 is lost, nor anything refused found, after a restart.
 *
 * Two independent injectors, from outside the process:
 * - strace attached to the server: `inject=fdatasync:error=EIO:when=2` (exact: the second
 *   durable request fails, the next one succeeds), then `when=5+7` (every 7th fdatasync from the
 *   5th fails) under concurrent load;
 * - libfiu: `fiu-run -x` starts the server with the POSIX failure points preloaded, and
 *   `fiu-ctrl` turns `posix/io/sync/fdatasync` (errno 5 = EIO) on and off while it runs: every
 *   write of a concurrent burst is refused, reads still answer, writes resume once it is off and
 *   the store has rebuilt itself without the refused burst.
 */
import path from "node:path";
import { afterAll, describe, expect } from "vitest";
import { testSeed } from "../helpers/seeded-random.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { keyOf, type Body } from "../helpers/total-queue.js";
import { call, Load } from "./http-load.js";
import { checkAfterServeRestart, expectNothingLost, formatReport, reopenAndCheck } from "./reopen-check.js";
import { faultTest } from "./fault-test.js";
import { attachStrace, startServe, type ServeProcess } from "./serve-process.js";
import { mustRun, requireTool } from "./tools.js";

const QUEUE = "jobs";
const LEASE_MS = 30_000;
const QUEUE_OPTIONS = { maxAttempts: 1000, leaseMs: LEASE_MS, completedRetentionMs: 30 * 86_400_000, completedRetentionCount: 100_000_000 };
const config = { queues: { [QUEUE]: QUEUE_OPTIONS } };
const baseSeed = testSeed();
const withStrace = faultTest({ tools: ["strace"] });
const withLibfiu = faultTest({ tools: ["fiu-run", "fiu-ctrl"] });

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => removeTempDir(dir)));
});

/** Sequential publishes with expected outcomes, recorded in `load`'s history. */
function sequence(load: Load) {
  let seq = 0;
  const next = (count = 1): Body[] => Array.from({ length: count }, () => ({ producer: "seq", seq: seq++ }));
  const publish = async (bodies: Body[], expected: "ok" | "refused", step: string) => {
    const outcome = await load.publish(QUEUE, bodies);
    expect(outcome, `${step}: ${bodies.map(keyOf).join(",")}; errors ${load.errors.join("; ")}`).toBe(expected);
  };
  return { next, publish, idOf: (body: Body) => load.history.publishes.get(keyOf(body))!.id! };
}

async function finish(server: ServeProcess, dataDir: string, load: Load, label: string, extra: Record<string, string | number>) {
  const exit = await server.stop();
  expect(exit, `${label}: graceful stop after the fault\n${server.output()}`).toEqual({ code: 0, signal: null });
  const restart = await checkAfterServeRestart({ dataDir, config }, load);
  expect(restart.missing, `${label}: acknowledged publishes the restarted server does not know`).toEqual([]);
  expect(restart.notCompleted, `${label}: acknowledged acks not completed after the restart`).toEqual([]);
  const report = await reopenAndCheck(dataDir, load, [QUEUE], LEASE_MS);
  const line = formatReport(label, report, load, { ...extra, "restart-checked": restart.checked });
  console.log(line);
  expectNothingLost(report, load, `${line} (replay: SPOOL_SEED=${baseSeed})`);
  expect(report.warnings.filter((w) => w.kind !== "temp-file-removed")).toEqual([]);
}

describe("EIO from fdatasync (fsyncgate)", () => {
  withStrace("strace inject=fdatasync:error=EIO: the failed group gets 503, the server recovers from disk, later writes get 201", async () => {
    const root = await makeTempDir("spool-faults-fsyncgate-");
    dirs.push(root);
    const dataDir = path.join(root, "data");
    const server = await startServe({ dataDir, config, settleQueue: QUEUE });
    try {
      const load = new Load({ url: server.url, queues: [QUEUE], seed: baseSeed, leaseMs: LEASE_MS, maxPublishRequests: 200 });
      const { next, publish } = sequence(load);

      // Exact: fdatasync 1 (publish) succeeds, 2 (publishMany) fails, 3 (the recovery's cut-back) and on succeed.
      let tracer = await attachStrace(server.pid, ["-o", "/dev/null", "-e", "trace=fdatasync", "-e", "inject=fdatasync:error=EIO:when=2"]);
      await publish(next(), "ok", "fdatasync 1");
      const failedGroup = next(3);
      await publish(failedGroup, "refused", "fdatasync 2 (EIO)");
      const stats = await call(server.url, "GET", `/v1/queues/${QUEUE}`);
      expect([stats.status, stats.json.ready], "the failed group is not in the queue").toEqual([200, 1]);
      const ready = await call(server.url, "GET", "/health/ready");
      expect(ready.status, `recovered from disk: ready again ${JSON.stringify(ready.json)}`).toBe(200);
      await publish(next(), "ok", "after the failed fdatasync");
      await tracer.detach();

      // Under load: every 7th fdatasync from the 5th fails.
      const refusedBefore = load.refused.size;
      tracer = await attachStrace(server.pid, ["-o", "/dev/null", "-e", "trace=fdatasync", "-e", "inject=fdatasync:error=EIO:when=5+7"]);
      await load.run();
      await tracer.detach();
      expect(load.serverGone, `the server stopped answering\n${server.output()}`).toBe(false);
      const refusedUnderLoad = load.refused.size - refusedBefore;
      expect(refusedUnderLoad, "no group failed under load").toBeGreaterThan(0);
      await publish(next(), "ok", "after the load");

      await finish(server, dataDir, load, `fsyncgate strace seed=${baseSeed}`, { "refused-under-load": refusedUnderLoad, "refused-acks": load.counts.refusedAcks });
    } finally {
      await server.kill();
    }
  }, 30_000);

  withLibfiu("fiu-run + fiu-ctrl posix/io/sync/fdatasync (EIO): a concurrent burst is refused whole, reads answer, writes resume when it is off", async () => {
    const fiuRun = requireTool("fiu-run", "libfiu fault injection, Debian package fiu-utils");
    const fiuCtrl = requireTool("fiu-ctrl", "libfiu fault injection, Debian package fiu-utils");
    const root = await makeTempDir("spool-faults-fiu-");
    dirs.push(root);
    const dataDir = path.join(root, "data");
    const server = await startServe({ dataDir, config, wrapper: [fiuRun, "-x"] });
    try {
      const load = new Load({ url: server.url, queues: [QUEUE], seed: baseSeed, leaseMs: LEASE_MS });
      const { next, publish, idOf } = sequence(load);
      const before = next()[0];
      await publish([before], "ok", "before the fault");

      await mustRun(fiuCtrl, ["-c", "enable name=posix/io/sync/fdatasync,failinfo=5", String(server.pid)], "fiu-ctrl enable");
      const burst = Array.from({ length: 12 }, (_, i) => next(i % 3 === 0 ? 4 : 1));
      const outcomes = await Promise.all(burst.map((bodies) => load.publish(QUEUE, bodies)));
      expect(outcomes.filter((o) => o !== "refused"), `with every fdatasync failing nothing may be acknowledged; errors ${load.errors.join("; ")}`).toEqual([]);
      // Reads answer. (While the fault lasts, the recovery's own fdatasync fails too, so the store
      // cannot rebuild from the disk and may still show refused changes: journal-store.ts, `#stale`.)
      const stats = await call(server.url, "GET", `/v1/queues/${QUEUE}`);
      expect(stats.status, "reads answer while every fdatasync fails").toBe(200);
      const status = await call(server.url, "GET", `/v1/messages/${idOf(before)}`);
      expect([status.status, status.json.state]).toEqual([200, "ready"]);
      const ready = await call(server.url, "GET", "/health/ready");
      expect(ready.status, "not ready while the disk fails").toBe(503);

      await mustRun(fiuCtrl, ["-c", "disable name=posix/io/sync/fdatasync", String(server.pid)], "fiu-ctrl disable");
      await publish(next(), "ok", "after the fault is off (no restart)");
      await publish(next(2), "ok", "and again");
      const after = await call(server.url, "GET", `/v1/queues/${QUEUE}`);
      expect([after.status, after.json.ready], "rebuilt from the disk: none of the refused burst is left").toEqual([200, 4]);

      await finish(server, dataDir, load, "fsyncgate fiu-run", { "burst-refused": burst.length });
    } finally {
      await server.kill();
    }
  }, 30_000);
});
