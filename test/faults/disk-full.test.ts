/**
 * A really full disk (RELIABILITY R2, R8; toolbox: loop-mounted ext4, which has a real fsync,
 * unlike tmpfs): a 64 MiB ext4 image mounted as the data dir's file system, filled with a filler
 * file up to a few MiB, then with publishes until the kernel says ENOSPC (a short write first, as
 * often as not: R2's rollback is what keeps later records readable).
 *
 *   while full: publishes answer 503 `unavailable`; queue stats and message status answer 200
 *   filler deleted (and the file system's journal committed, so ext4 may reuse its blocks):
 *               the next publish answers 201, with no restart
 *   after a graceful stop: a restarted `spool serve` knows every 201, and the library drain
 *               finds nothing lost and nothing refused (total-queue figures printed)
 *
 * Needs root, mkfs.ext4 and loop devices (CI runs as root): without root or the tools it is
 * skipped and listed at the end of the run, or fails under SPOOL_REQUIRE_FAULT_TOOLS=1
 * (requirements.ts). If the image cannot be made or mounted the test FAILS with the command's
 * error. The mount is always unmounted, whatever happened.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect } from "vitest";
import { testSeed } from "../helpers/seeded-random.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { keyOf, type Body } from "../helpers/total-queue.js";
import { call, Load } from "./http-load.js";
import { checkAfterServeRestart, expectNothingLost, formatReport, reopenAndCheck } from "./reopen-check.js";
import { faultTest } from "./fault-test.js";
import { startServe, type ServeProcess } from "./serve-process.js";
import { mustRun, requireTool, runCommand } from "./tools.js";

const IMAGE_BYTES = 64 * 1024 ** 2;
/** Room left next to the filler: the publishes fill this. */
const HEADROOM_BYTES = 3 * 1024 ** 2;
const QUEUE = "jobs";
const LEASE_MS = 30_000;
const QUEUE_OPTIONS = { maxAttempts: 1000, leaseMs: LEASE_MS, completedRetentionMs: 30 * 86_400_000, completedRetentionCount: 100_000_000 };
const PAD = "x".repeat(16 * 1024);
const MAX_FILL_REQUESTS = 400;

async function writeFiller(file: string, bytes: number): Promise<void> {
  const handle = await fs.open(file, "w");
  try {
    const chunk = Buffer.alloc(1024 ** 2, 0x5a);
    for (let written = 0; written < bytes; ) {
      const length = Math.min(chunk.length, bytes - written);
      written += (await handle.write(chunk, 0, length)).bytesWritten;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync of a directory on the mount: commits ext4's journal, so the blocks of a deleted file can be allocated again. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Unmounts `mnt` if it is still mounted (lazily if it is busy); throws if that fails too. */
async function unmount(umount: string, mnt: string): Promise<void> {
  const mounts = await fs.readFile("/proc/self/mounts", "utf8");
  if (!mounts.split("\n").some((line) => line.split(" ")[1] === mnt)) return;
  const result = await runCommand(umount, [mnt]);
  if (result.code !== 0) await mustRun(umount, ["-l", mnt], `unmounting ${mnt} (${result.stderr.trim()})`);
}

const withLoopMount = faultTest({ tools: ["mkfs.ext4", "mount", "umount"], root: "it loop-mounts an ext4 image" });

describe("a real full disk (loop-mounted ext4 as the data dir)", () => {
  const dirs: string[] = [];
  /** For a test that timed out before its `finally`: kill its server, unmount. */
  let leftover: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await leftover?.();
    await Promise.all(dirs.map((dir) => removeTempDir(dir)));
  });

  withLoopMount("answers 503 while full, keeps serving reads, takes writes again once space is freed, loses nothing", async () => {
    const mkfs = requireTool("mkfs.ext4", "making the ext4 image; Debian package e2fsprogs");
    const mount = requireTool("mount", "loop-mounting the image");
    const umount = requireTool("umount", "unmounting the image");
    const root = await makeTempDir("spool-faults-diskfull-");
    dirs.push(root);
    const image = path.join(root, "disk.img");
    const mnt = path.join(root, "mnt");
    await fs.mkdir(mnt);
    await (await fs.open(image, "w")).close();
    await fs.truncate(image, IMAGE_BYTES);
    // -m 0: no blocks reserved for root (we are root: they would just be more room to fill).
    await mustRun(mkfs, ["-q", "-F", "-m", "0", image], "mkfs.ext4 of the test image");
    await mustRun(mount, ["-o", "loop", image, mnt], "loop-mounting the ext4 image (needs root and a loop device)");

    let server: ServeProcess | undefined;
    leftover = async () => {
      await server?.kill();
      await unmount(umount, mnt);
    };
    try {
      const filler = path.join(mnt, "filler");
      const { bavail, bsize } = await fs.statfs(mnt);
      await writeFiller(filler, bavail * bsize - HEADROOM_BYTES);
      const dataDir = path.join(mnt, "data");
      const config = { queues: { [QUEUE]: QUEUE_OPTIONS } };
      server = await startServe({ dataDir, config, configDir: root });
      const load = new Load({ url: server.url, queues: [QUEUE], seed: testSeed(), leaseMs: LEASE_MS });
      let seq = 0;
      const batch = (count: number): Body[] => Array.from({ length: count }, () => ({ producer: "fill", seq: seq++, pad: PAD }) as Body);

      // Fill the disk: 8 × 16 KiB per request, one request at a time, until the first 503.
      let firstRefusal = -1;
      for (let i = 0; i < MAX_FILL_REQUESTS && firstRefusal < 0; i++) {
        if ((await load.publish(QUEUE, batch(8))) === "refused") firstRefusal = i;
      }
      expect(load.errors).toEqual([]);
      expect(firstRefusal, `the disk never filled within ${MAX_FILL_REQUESTS} requests`).toBeGreaterThan(0);
      expect(load.refusals[0], "refused because the disk is full (a short write or ENOSPC)").toMatch(/ENOSPC|ESHORTWRITE/);

      // Keep publishing until three requests in a row are refused: blocks that ext4 frees as its
      // journal commits (the rollback of a short write gives some back) may let one more through.
      let refusedInARow = 0;
      for (let i = 0; i < MAX_FILL_REQUESTS && refusedInARow < 3; i++) {
        refusedInARow = (await load.publish(QUEUE, batch(8))) === "refused" ? refusedInARow + 1 : 0;
      }
      expect(refusedInARow, "the disk stayed full").toBe(3);
      expect(load.errors).toEqual([]);
      const okWhenFull = load.counts.published;

      // Full: reads served.
      const stats = await call(server.url, "GET", `/v1/queues/${QUEUE}`);
      expect([stats.status, stats.json.ready], "queue stats on a full disk").toEqual([200, okWhenFull]);
      const someId = [...load.history.publishes.values()].find((p) => p.outcome === "ok")!.id!;
      const status = await call(server.url, "GET", `/v1/messages/${someId}`);
      expect([status.status, status.json.state], "message status on a full disk").toEqual([200, "ready"]);

      // Space returns: no restart.
      await fs.unlink(filler);
      await syncDir(mnt);
      const resumed = batch(8);
      expect(await load.publish(QUEUE, resumed), `a publish after space returned; errors ${load.errors.join("; ")}\n${server.output()}`).toBe("ok");
      expect(await load.publish(QUEUE, batch(1))).toBe("ok");
      const leased = await call(server.url, "POST", `/v1/queues/${QUEUE}/lease`, { max: 4, leaseMs: LEASE_MS });
      expect(leased.status).toBe(200);
      for (const m of leased.json.messages as Array<{ id: string; leaseToken: string; body: Body }>) {
        load.history.leased(keyOf(m.body), m.id);
        load.history.ackInvoked(keyOf(m.body), m.id);
        const ack = await call(server.url, "POST", `/v1/messages/${m.id}/ack`, { leaseToken: m.leaseToken });
        expect(ack.status).toBe(204);
        load.history.ackOk(keyOf(m.body), m.id);
      }

      const exit = await server.stop();
      expect(exit, `graceful stop after the disk was full\n${server.output()}`).toEqual({ code: 0, signal: null });
      const restart = await checkAfterServeRestart({ dataDir, config, configDir: root }, load);
      expect(restart.missing, "acknowledged publishes the restarted server does not know").toEqual([]);
      expect(restart.notCompleted).toEqual([]);
      const report = await reopenAndCheck(dataDir, load, [QUEUE], LEASE_MS);
      const line = formatReport("disk full (loop ext4)", report, load, { "first-refusal-at-request": firstRefusal + 1, "ok-when-full": okWhenFull, "restart-checked": restart.checked });
      console.log(`${line}\n  first refusal: ${load.refusals[0]}`);
      expectNothingLost(report, load, line);
      expect(report.warnings.filter((w) => w.kind !== "temp-file-removed")).toEqual([]);
    } finally {
      await leftover();
      leftover = undefined;
    }
  }, 40_000);
});
