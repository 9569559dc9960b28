/**
 * ENOSPC and EIO on the segment file, for a bounded window of writes (RELIABILITY R2, R8): strace
 * attached to a running `spool serve` with `-P <active segment>` fails the segment's writes number
 * A..B with the errno and lets every other write through (sockets, stdout, other files), so
 * the fault clears by itself after the window, with no restart.
 *
 * 1. Exact, one request at a time (each durable request is one flight = one write to the
 *    segment): window = writes 2..6.
 *      w1 publish → 201 · w2 publish → 503 · reads (queue stats, message status) → 200 ·
 *      w3 ack of a lease taken before → 503 · w4 publishMany → 503 · w5, w6 publish → 503 ·
 *      w7 publish → 201 (no restart) · the refused ack, retried → 204.
 * 2. Under load (producers with several requests in flight, consumers leasing and acking), a
 *    fresh window = writes 4..10: some requests are refused, and once the window has passed every
 *    publish is answered 201 again.
 * Then: the server stops cleanly (exit 0), a restarted `spool serve` knows every 201 and shows
 * every 204'd ack completed, and the library drain finds nothing lost, nothing refused, no
 * acked message back (total-queue figures printed).
 */
import path from "node:path";
import { afterAll, describe, expect } from "vitest";
import { testSeed } from "../helpers/seeded-random.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { keyOf, type Body } from "../helpers/total-queue.js";
import { call, Load } from "./http-load.js";
import { checkAfterServeRestart, expectNothingLost, formatReport, reopenAndCheck } from "./reopen-check.js";
import { faultTest } from "./fault-test.js";
import { attachStrace, segmentFiles, settle, startServe, type ServeProcess, type Tracer } from "./serve-process.js";

const QUEUE = "jobs";
const LEASE_MS = 30_000;
const QUEUE_OPTIONS = { maxAttempts: 1000, leaseMs: LEASE_MS, completedRetentionMs: 30 * 86_400_000, completedRetentionCount: 100_000_000 };
const WRITES = "write,pwrite64,writev,pwritev,pwritev2";

/** Fails writes number `first`..`last` (counted from now) to the server's active segment with `errno`. */
async function failSegmentWrites(server: ServeProcess, dataDir: string, errno: string, first: number, last: number): Promise<Tracer> {
  const segments = await segmentFiles(dataDir);
  const active = segments[segments.length - 1];
  expect(active, `no segment in ${dataDir}`).toBeDefined();
  return attachStrace(server.pid, ["-o", "/dev/null", "-P", active, "-e", `trace=${WRITES}`, "-e", `inject=${WRITES}:error=${errno}:when=${first}..${last}`]);
}

const baseSeed = testSeed();
const withStrace = faultTest({ tools: ["strace"] });

describe.each(["ENOSPC", "EIO"])("%s on the segment file for a window of writes (strace -P … inject error)", (errno) => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => removeTempDir(dir)));
  });

  withStrace("refuses writes with 503 during the window, keeps serving reads, takes writes again after it, loses nothing", async () => {
    const seed = (baseSeed + (errno === "EIO" ? 1 : 0)) >>> 0;
    const root = await makeTempDir(`spool-faults-${errno.toLowerCase()}-`);
    dirs.push(root);
    const dataDir = path.join(root, "data");
    const config = { queues: { [QUEUE]: QUEUE_OPTIONS } };
    const server = await startServe({ dataDir, config, settleQueue: QUEUE });
    const load = new Load({ url: server.url, queues: [QUEUE], seed, leaseMs: LEASE_MS, maxPublishRequests: 150 });
    let seq = 0;
    const next = (count = 1): Body[] => Array.from({ length: count }, () => ({ producer: "seq", seq: seq++ }));
    const publish = async (bodies: Body[], expected: "ok" | "refused", step: string) => {
      const outcome = await load.publish(QUEUE, bodies);
      expect(outcome, `${errno} ${step}: ${bodies.map(keyOf).join(",")}; errors ${load.errors.join("; ")}`).toBe(expected);
    };
    const idOf = (body: Body) => load.history.publishes.get(keyOf(body))!.id!;
    try {
      // Before the fault: two messages, one lease on each (taken now, so the window can refuse their acks).
      const setup = next(2);
      await publish(setup, "ok", "setup");
      const leasedAnswer = await call(server.url, "POST", `/v1/queues/${QUEUE}/lease`, { max: 2, leaseMs: LEASE_MS });
      expect(leasedAnswer.status).toBe(200);
      const leases: Array<{ id: string; leaseToken: string; body: Body }> = leasedAnswer.json.messages;
      expect(leases).toHaveLength(2);
      for (const m of leases) load.history.leased(keyOf(m.body), m.id);
      await settle(server.url, QUEUE); // the lease record (answered before it was durable) is on disk now
      const ack = async (m: (typeof leases)[number]) => {
        load.history.ackInvoked(keyOf(m.body), m.id);
        const answer = await call(server.url, "POST", `/v1/messages/${m.id}/ack`, { leaseToken: m.leaseToken });
        if (answer.status === 204) load.history.ackOk(keyOf(m.body), m.id);
        return answer;
      };

      // ── 1. the exact window: writes 2..6 fail ────────────────────────────────────────────
      let tracer = await failSegmentWrites(server, dataDir, errno, 2, 6);
      const before = next()[0];
      await publish([before], "ok", "w1 (before the window)");
      const refused = next()[0];
      await publish([refused], "refused", "w2 (window opens)");

      const stats = await call(server.url, "GET", `/v1/queues/${QUEUE}`);
      expect(stats.status, `${errno}: queue stats during the window ${JSON.stringify(stats.json)}`).toBe(200);
      expect(stats.json.ready + stats.json.leased, `${errno}: the refused publish is not in the queue ${JSON.stringify(stats.json)}`).toBe(3);
      expect(stats.json.leased).toBe(2);
      for (const body of [...setup, before]) {
        const status = await call(server.url, "GET", `/v1/messages/${idOf(body)}`);
        expect(status.status, `${errno}: message status during the window`).toBe(200);
      }
      const ready = await call(server.url, "GET", "/health/ready");

      const refusedAck = await ack(leases[0]);
      expect([refusedAck.status, refusedAck.json?.error?.code], `${errno} w3: ack during the window`).toEqual([503, "unavailable"]);
      const refusedAckStatus = await call(server.url, "GET", `/v1/messages/${leases[0].id}`);
      expect([refusedAckStatus.status, refusedAckStatus.json.state], `${errno}: a message whose ack was refused is still leased`).toEqual([200, "leased"]);
      await publish(next(3), "refused", "w4 publishMany");
      await publish(next(), "refused", "w5");
      await publish(next(), "refused", "w6 (window's last write)");
      await publish(next(), "ok", "w7 (window over, no restart)");
      const retriedAck = await ack(leases[0]);
      expect(retriedAck.status, `${errno}: the refused ack, retried after the window ${JSON.stringify(retriedAck.json)}`).toBe(204);
      expect((await ack(leases[1])).status).toBe(204);
      const afterStatus = await call(server.url, "GET", `/v1/messages/${leases[0].id}`);
      expect(afterStatus.json.state).toBe("completed");
      await tracer.detach();

      // ── 2. under load: writes 4..10 fail ─────────────────────────────────────────────────
      const refusedBefore = load.refused.size;
      tracer = await failSegmentWrites(server, dataDir, errno, 4, 10);
      await load.run();
      await tracer.detach();
      const refusedUnderLoad = load.refused.size - refusedBefore;
      expect(load.serverGone, `${errno}: the server stopped answering\n${server.output()}`).toBe(false);
      expect(refusedUnderLoad, `${errno}: the window refused nothing under load`).toBeGreaterThan(0);
      const last = next()[0];
      await publish([last], "ok", "after the load's window");

      const exit = await server.stop();
      expect(exit, `${errno}: graceful stop after the fault\n${server.output()}`).toEqual({ code: 0, signal: null });

      const restart = await checkAfterServeRestart({ dataDir, config }, load);
      expect(restart.missing, `${errno}: acknowledged publishes the restarted server does not know`).toEqual([]);
      expect(restart.notCompleted, `${errno}: acknowledged acks not completed after the restart`).toEqual([]);

      const report = await reopenAndCheck(dataDir, load, [QUEUE], LEASE_MS);
      const line = formatReport(`${errno} window seed=${seed}`, report, load, {
        "refused-under-load": refusedUnderLoad,
        "refused-acks": load.counts.refusedAcks + 1,
        "health-during-window": ready.status,
        "restart-checked": restart.checked,
      });
      console.log(line);
      expectNothingLost(report, load, `${line} (replay: SPOOL_SEED=${baseSeed})`);
      expect(report.warnings.filter((w) => w.kind !== "temp-file-removed")).toEqual([]);
    } finally {
      await server.kill();
    }
  }, 30_000);
});
