/**
 * A slow disk (RELIABILITY toolbox: strace `inject=fdatasync:delay_enter=…`): every fdatasync of
 * the running server takes 30 ms longer. Group commit must then put many publishes behind each
 * fdatasync (R1: a publish is answered only after the fdatasync covering it, and a record
 * appended during one waits for the next). Counted two ways, never timed: the server's
 * `spool_journal_fsync_seconds_count` from /metrics, and strace's own trace of the fdatasyncs
 * on the segment. Asserts at least 5 publishes per fdatasync with 40 requests in flight.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect } from "vitest";
import { testSeed } from "../helpers/seeded-random.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { call, Load } from "./http-load.js";
import { faultTest } from "./fault-test.js";
import { attachStrace, startServe } from "./serve-process.js";

const PUBLISHES = 400;
const IN_FLIGHT = 40;
const DELAY_US = 30_000;

async function fsyncCount(url: string): Promise<number> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  const match = /^spool_journal_fsync_seconds_count(?:\{[^}]*\})? (\d+)/m.exec(await response.text());
  expect(match, "/metrics has spool_journal_fsync_seconds_count").not.toBeNull();
  return Number(match![1]);
}

const withStrace = faultTest({ tools: ["strace"] });

describe("a slow disk (strace inject=fdatasync:delay_enter)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => removeTempDir(dir)));
  });

  withStrace(`group commit puts many publishes behind each fdatasync (${PUBLISHES} publishes, ${IN_FLIGHT} in flight, +${DELAY_US / 1000} ms per fdatasync)`, async () => {
    const root = await makeTempDir("spool-faults-slow-");
    dirs.push(root);
    const dataDir = path.join(root, "data");
    const traceFile = path.join(root, "strace.log");
    const server = await startServe({ dataDir, config: { queues: { jobs: {} } }, settleQueue: "jobs" });
    try {
      expect((await call(server.url, "POST", "/v1/queues/jobs/messages", { body: { warm: true } })).status).toBe(201);
      const before = await fsyncCount(server.url);
      const tracer = await attachStrace(server.pid, ["-o", traceFile, "-y", "-e", "trace=fdatasync", "-e", `inject=fdatasync:delay_enter=${DELAY_US}`]);
      const load = new Load({
        url: server.url,
        queues: ["jobs"],
        seed: testSeed(),
        producers: [{ name: "p", window: IN_FLIGHT }],
        batchChance: 0,
        consumersPerQueue: 0,
        maxPublishRequests: PUBLISHES,
      });
      await load.run();
      const after = await fsyncCount(server.url);
      await tracer.detach();

      expect(load.errors).toEqual([]);
      expect(load.counts.published, "every publish answered 201").toBe(PUBLISHES);
      const fdatasyncs = after - before;
      const traced = (await fs.readFile(traceFile, "utf8")).split("\n").filter((line) => /fdatasync\(\d+<[^>]*seg-\d{12}\.log>/.test(line)).length;
      const factor = PUBLISHES / fdatasyncs;
      console.log(`slow disk: ${PUBLISHES} publishes, ${IN_FLIGHT} in flight, +${DELAY_US / 1000} ms/fdatasync: ${fdatasyncs} fdatasyncs (/metrics), ${traced} traced on the segment; group-commit factor ${factor.toFixed(1)} publishes/fdatasync`);
      expect(fdatasyncs, "the delayed fdatasyncs were counted").toBeGreaterThan(0);
      expect(traced, "strace saw the same fdatasyncs as /metrics").toBe(fdatasyncs);
      expect(factor, "publishes per fdatasync on a slow disk").toBeGreaterThanOrEqual(5);
      const exit = await server.stop();
      expect(exit).toEqual({ code: 0, signal: null });
    } finally {
      await server.kill();
    }
  }, 30_000);
});
