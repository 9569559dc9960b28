/**
 * A schedule fires each slot once across SIGKILLs and restarts. A journal-backed child process
 * runs an everyMs schedule; the parent kills it (SIGKILL, at a moment drawn from a seeded random,
 * so some kills land while a firing is being written) and starts it again on the same directory,
 * several times, then reads every message the schedule published.
 *
 * Checked: no slot was published twice (each message's slot header is distinct); slots are on
 * the schedule's grid and in publish order; while a process ran, every slot fired (consecutive
 * slots, one interval apart); across each restart, the missed slots fired ONCE (catchUp "one":
 * one message, for the latest missed slot), so the grid has at most one gap per restart; and the
 * schedule's own record (fired count, last slot) agrees with the messages found.
 */
import { fork } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Spool } from "../../src/index.js";
import { seededRandom } from "../helpers/seeded-random.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { SCHEDULE_NAME, SCHEDULE_QUEUE } from "./schedule-spec.js";

const HOST = path.join(path.dirname(fileURLToPath(import.meta.url)), "schedule-host.ts");
const REPO = path.resolve(path.dirname(HOST), "../..");
const EVERY_MS = 100;
const RESTARTS = 4;

type HostMessage = { t: "ready"; nextRunAt: number | null } | { t: "published"; count: number };

function start(dataDir: string, create: boolean) {
  const child = fork(HOST, [dataDir, String(EVERY_MS), ...(create ? ["create"] : [])], { cwd: REPO, execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "pipe", "ipc"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let latest: HostMessage | undefined;
  const listeners = new Set<() => void>();
  child.on("message", (m: HostMessage) => {
    latest = m;
    for (const l of [...listeners]) l();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
  /** Resolves once the host reports `match`; rejects if it exits first. */
  const until = (match: (m: HostMessage) => boolean, what: string): Promise<HostMessage> =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (latest && match(latest)) {
          listeners.delete(check);
          resolve(latest);
        }
      };
      listeners.add(check);
      check();
      void exited.then(() => {
        if (listeners.delete(check)) reject(new Error(`host exited before ${what}; stderr:\n${stderr}`));
      });
    });
  return { child, exited, until };
}

describe("a schedule across SIGKILLs and restarts (journal)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => removeTempDir(d)));
  });

  it("fires every slot while up, each missed stretch once, and no slot twice", async () => {
    const dataDir = await makeTempDir("spool-schedule-crash-");
    dirs.push(dataDir);
    const random = seededRandom(13);
    let published = 0;
    for (let run = 0; run <= RESTARTS; run++) {
      const host = start(dataDir, run === 0);
      await host.until((m) => m.t === "ready", "ready");
      // Let a few slots fire, then kill at a random point of a slot's interval.
      const target = published + 3;
      await host.until((m) => m.t === "published" && m.count >= target, `${target} messages published`);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * EVERY_MS)));
      host.child.kill("SIGKILL");
      expect(await host.exited).toBe("SIGKILL");
      // What the next start finds is at least what this one reported (everything reported was durable).
      const seen = await Spool.open({ dataDir, journal: { fsync: "always" } }).then(async (spool) => {
        const count = (await spool.queueStats(SCHEDULE_QUEUE)).totals.published;
        await spool.close();
        return count;
      });
      expect(seen).toBeGreaterThanOrEqual(target);
      published = seen;
    }

    const spool = await Spool.open({ dataDir, journal: { fsync: "always" } });
    try {
      await spool.pauseSchedule(SCHEDULE_NAME); // nothing more fires while the messages are read
      const messages = [];
      for (;;) {
        const batch = await spool.queue(SCHEDULE_QUEUE).lease({ max: 1000 });
        if (batch.length === 0) break;
        messages.push(...batch);
      }
      const slots = messages.map((m) => Date.parse(m.headers["spool-schedule-slot"]));
      const info = await spool.getSchedule(SCHEDULE_NAME);
      expect(messages.length).toBe((await spool.queueStats(SCHEDULE_QUEUE)).totals.published);
      expect(new Set(slots).size, "no slot published twice").toBe(slots.length);
      expect(info?.fired).toBe(slots.length);
      expect(info?.lastSlotAt).toBe(slots[slots.length - 1]);
      const gaps: number[] = [];
      for (let i = 1; i < slots.length; i++) {
        const step = slots[i] - slots[i - 1];
        expect(step % EVERY_MS, "slots stay on the schedule's grid").toBe(0);
        expect(step, "slots in publish order").toBeGreaterThan(0);
        if (step !== EVERY_MS) gaps.push(step);
      }
      // Each of the RESTARTS restarts and the checks' opens (one per kill) may leave one gap: a
      // missed stretch fired once. A gap anywhere else would be a slot lost while up.
      expect(gaps.length, `gaps ${JSON.stringify(gaps)}`).toBeLessThanOrEqual(2 * (RESTARTS + 1));
    } finally {
      await spool.close();
    }
  }, 120_000);
});
