/**
 * A library host (child-host.ts, `timers` profile) killed with SIGKILL at seeded moments and
 * started again as a new process on the SAME data directory, cycle after cycle. Leases of 300 ms,
 * nacks with a delay and publishes with `delayMs`, `availableAt` or `ttlMs` mean every restart
 * opens a journal with timers due. Every restart must open (spawn → "ready" reported as p50/p99);
 * no acked message may ever be leased again (checked live, across processes); and after the last
 * cycle the directory is drained in-process and the total-queue checker runs over every cycle:
 * lost = 0, acked-redelivered = 0, unexpected = 0, duplicated = 0.
 *
 * Cycles: SPOOL_RESTART_CYCLES (default 8; the closing figures come from 100). SPOOL_SEED=<seed>
 * replays the kill points and the load's choices.
 */
import { performance } from "node:perf_hooks";
import { afterAll, describe, expect, it } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore } from "../../src/index.js";
import { randomInt, seededRandom, testSeed } from "../helpers/seeded-random.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";
import { check, drainAll, formatFigures, History, keyCompleted } from "../helpers/total-queue.js";
import { LOAD, TIMERS, type ChildMessage } from "./load-spec.js";
import { recordInHistory, spawnHost } from "./spawn-host.js";

const QUEUES = ["orders", "emails"];
const cycles = Number(process.env.SPOOL_RESTART_CYCLES ?? (process.env.SPOOL_SEED ? 1 : 8));
const baseSeed = testSeed();

/** Acks answered ok, and leases seen per key: a lease after (or during) an ok ack is a redelivery. */
class LiveCheck {
  readonly violations: string[] = [];
  readonly #leases = new Map<string, number>();
  readonly #leasesAtAck = new Map<string, number>();
  readonly #acked = new Set<string>();

  /** Sees every child message; call it before the message is recorded in the history. */
  observe(message: ChildMessage): void {
    if (message.t === "leased") for (const [key] of message.items) this.#leased(key);
    else if (message.t === "ack") for (const [key] of message.items) this.#leasesAtAck.set(key, this.#leases.get(key) ?? 0);
    else if (message.t === "ack-ok") for (const [key] of message.items) this.#ackOk(key);
  }

  #leased(key: string): void {
    if (this.#acked.has(key)) this.violations.push(`${key} leased after its ack was ok`);
    this.#leases.set(key, (this.#leases.get(key) ?? 0) + 1);
  }

  #ackOk(key: string): void {
    if ((this.#leases.get(key) ?? 0) !== this.#leasesAtAck.get(key)) this.violations.push(`${key} leased again while its ack was answered ok`);
    this.#acked.add(key);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

describe("a library host restarts after kill -9 with timers due (real processes, one data directory)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => removeTempDir(dir)));
  });

  it(`opens every time and loses nothing acknowledged (${cycles} seeded cycles)`, async () => {
    const dataDir = await makeTempDir("spool-lib-restarts-");
    dirs.push(dataDir);
    const history = new History();
    const live = new LiveCheck();
    const restartMs: number[] = [];
    /** Spool.open alone (the rest of a restart is starting Node and loading the code). */
    const openMs: number[] = [];
    const childErrors: string[] = [];
    for (let cycle = 0; cycle < cycles; cycle++) {
      const seed = (baseSeed + cycle) >>> 0;
      const killAfter = randomInt(seededRandom(seed), 20, 1500);
      let confirmations = 0;
      let killed = false;
      const started = performance.now();
      const host = spawnHost(["load", dataDir, String(seed), QUEUES.join(","), "timers", `c${cycle}`], (message: ChildMessage) => {
        live.observe(message);
        if (recordInHistory(history, message)) confirmations++;
        if (message.t === "error") childErrors.push(`cycle ${cycle} (SPOOL_SEED=${seed}): ${message.message}`);
        if (!killed && (confirmations >= killAfter || childErrors.length > 0)) {
          killed = true;
          host.child.kill("SIGKILL");
        }
      });
      const ready = await host.waitFor((m) => m.t === "ready", `cycle ${cycle}: the child opened the data dir`);
      if (cycle > 0) {
        restartMs.push(performance.now() - started);
        openMs.push((ready as Extract<ChildMessage, { t: "ready" }>).openMs);
      }
      const end = await host.ended;
      expect(end.signal, `cycle ${cycle} (SPOOL_SEED=${seed}): the child died on its own; stderr:\n${host.stderr()}`).toBe("SIGKILL");
    }

    const clock = new ManualClock(Date.now());
    const store = journalStore({ dataDir, clock, fsync: "always", onWarning: () => undefined }) as JournalStore;
    const opened = performance.now();
    const spool = await Spool.open({ store });
    openMs.push(performance.now() - opened); // an open in this process: no spawn to count
    try {
      const drained = await drainAll(store, clock, QUEUES, [...history.ids.values()], TIMERS.timedMaxMs + TIMERS.leaseMs + 1);
      keyCompleted(drained.recovered, history);
      // Bodies published just before a kill whose "pub" message never arrived are unknown publishes.
      for (const f of [...drained.recovered.delivered, ...drained.recovered.dead]) {
        const [producer, seq] = f.key.split(":");
        if (!history.publishes.has(f.key) && /^c\d+p\d$/.test(producer) && Number(seq) < LOAD.maxSeq) history.publishInvoked(f.key);
      }
      const figures = check(history, drained.recovered);
      const line = formatFigures(`library restarts: ${cycles} kill -9 cycles`, figures, {
        "acked-redelivered-live": live.violations.length,
        "restart-p50-ms": percentile(restartMs, 50).toFixed(0),
        "restart-p99-ms": percentile(restartMs, 99).toFixed(0),
        "open-p50-ms": percentile(openMs, 50).toFixed(1),
        "open-p99-ms": percentile(openMs, 99).toFixed(1),
      });
      console.log(line);
      const where = `${line} ${JSON.stringify(figures.examples)} ${live.violations.slice(0, 5).join("; ")}`;
      expect(childErrors, where).toEqual([]);
      expect(live.violations, where).toEqual([]);
      expect(figures.lost, where).toBe(0);
      expect(figures.ackedRedelivered, where).toBe(0);
      expect(figures.ackedNotCompleted, where).toBe(0);
      expect(figures.unexpected, where).toBe(0);
      expect(figures.duplicated, where).toBe(0);
      expect(figures.okPublishes, where).toBeGreaterThan(0);
    } finally {
      await spool.close();
    }
  }, 600_000);
});
