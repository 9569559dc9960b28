/**
 * processes: many processes on one database. N messages wait in a queue (published untimed by
 * this process); then 1, and again 2, child processes each run a consumer at concurrency 64 on
 * it, and the figure is msg/s from the go signal until N acks in all. Only systems whose data
 * other processes can share (`sharedEnv`: the PostgreSQL store) run it. DESIGN.md §5 wants two
 * processes ≥ 1.6× one where the database is not the bottleneck: so the notes say where the CPU
 * went meanwhile (the children, PostgreSQL's processes, the whole machine), from /proc.
 */
import { fork, type ChildProcess } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { makeBodies } from "../lib/body.js";
import type { FromChild, ToChild } from "../lib/consumer-child.js";
import { cpuSince, machineBusyMs, postgresCpuMs } from "../lib/pg.js";
import { withTimeout } from "../lib/stats.js";
import { formatCount, formatNumber } from "../lib/table.js";
import type { BenchSystem } from "../systems/system.js";
import { atLeast, PUBLISH_BATCH, value, type Scenario } from "./scenario.js";

const CHILD = fileURLToPath(new URL("../lib/consumer-child.ts", import.meta.url));
const CONCURRENCY = 64;
const TIMEOUT_MS = 120_000;

interface Child {
  process: ChildProcess;
  handled: number;
  stopped: Promise<{ handled: number; cpuMs: number }>;
  ready: Promise<void>;
}

function forkChild(system: BenchSystem, queue: string, onProgress: () => void): Child {
  const child = fork(CHILD, [system.name, queue, String(CONCURRENCY)], {
    execArgv: process.execArgv,
    env: { ...process.env, ...system.sharedEnv },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let failure: string | undefined;
  const entry: Partial<Child> & { handled: number } = { process: child, handled: 0 };
  entry.ready = new Promise<void>((resolve, reject) => {
    entry.stopped = new Promise((resolveStopped, rejectStopped) => {
      child.on("message", (message: FromChild) => {
        if ("ready" in message) resolve();
        else if ("handled" in message) {
          entry.handled = message.handled;
          onProgress();
        } else if ("stopped" in message) resolveStopped(message.stopped);
        else if ("error" in message) failure = message.error;
      });
      child.on("exit", (code, signal) => {
        const error = new Error(failure ?? `a consumer child exited with ${signal ?? code}`);
        reject(error);
        rejectStopped(error);
      });
    });
  });
  entry.stopped?.catch(() => undefined);
  return entry as Child;
}

interface Measured {
  rate: number;
  elapsedMs: number;
  childCpuMs: number;
  postgresCpuMs: number | undefined;
  machineBusyMs: number | undefined;
}

async function runOnce(system: BenchSystem, processes: number, n: number): Promise<Measured> {
  const queue = await system.createQueue();
  const children: Child[] = [];
  try {
    for (let from = 0; from < n; from += PUBLISH_BATCH) await queue.publishMany(makeBodies(Math.min(PUBLISH_BATCH, n - from), from));
    let reached: () => void = () => {};
    const done = new Promise<void>((resolve) => (reached = resolve));
    const progress = () => {
      if (children.reduce((sum, c) => sum + c.handled, 0) >= n) reached();
    };
    for (let i = 0; i < processes; i++) children.push(forkChild(system, queue.name, progress));
    await withTimeout(Promise.all(children.map((c) => c.ready)), 60_000, "starting the consumer processes");
    const pgBefore = postgresCpuMs();
    const busyBefore = machineBusyMs();
    const started = performance.now();
    for (const child of children) child.process.send({ go: true } satisfies ToChild);
    await withTimeout(done, TIMEOUT_MS, `${processes} processes consuming ${n} messages`);
    const elapsedMs = performance.now() - started;
    const pgAfter = postgresCpuMs();
    const busyAfter = machineBusyMs();
    for (const child of children) child.process.send({ stop: true } satisfies ToChild);
    const reports = await withTimeout(Promise.all(children.map((c) => c.stopped)), 60_000, "stopping the consumer processes");
    return {
      rate: (n * 1000) / elapsedMs,
      elapsedMs,
      childCpuMs: reports.reduce((sum, r) => sum + r.cpuMs, 0),
      postgresCpuMs: pgBefore === undefined || pgAfter === undefined ? undefined : cpuSince(pgBefore, pgAfter),
      machineBusyMs: busyBefore === undefined || busyAfter === undefined ? undefined : busyAfter - busyBefore,
    };
  } finally {
    for (const child of children) if (child.process.exitCode === null) child.process.kill("SIGKILL");
    await queue.delete();
  }
}

/**
 * "consumers 95%, PostgreSQL 80%, machine 190% of 200%": CPU over the measured time, 100% = one
 * core. PostgreSQL counts every backend on the server, other clients' too.
 */
function cpuText(m: Measured): string {
  const pct = (ms: number | undefined) => (ms === undefined ? "?" : `${Math.round((ms / m.elapsedMs) * 100)}%`);
  return `consumers ${pct(m.childCpuMs)}, PostgreSQL ${pct(m.postgresCpuMs)}, machine ${pct(m.machineBusyMs)} of ${cpus().length * 100}%`;
}

export const processes: Scenario = {
  name: "processes",
  rows: [
    { id: "processes-1", label: `drain at concurrency ${CONCURRENCY}, 1 process`, unit: "msg/s", better: "higher" },
    { id: "processes-2", label: `drain at concurrency ${CONCURRENCY} each, 2 processes on one database`, unit: "msg/s", better: "higher" },
    { id: "processes-ratio", label: "2 processes ÷ 1", unit: "×", better: "higher", target: atLeast(1.6, "1.6×") },
  ],
  async run(system, context, record) {
    if (system.sharedEnv === undefined || !system.attachQueue) {
      for (const id of ["processes-1", "processes-2", "processes-ratio"]) record(id, { kind: "none", text: "n/a (one process)" });
      return;
    }
    const n = system.sizes.endToEnd[CONCURRENCY];
    const results: Measured[] = [];
    for (const count of [1, 2]) {
      const m = await runOnce(system, count, n);
      results.push(m);
      record(`processes-${count}`, value(m.rate, `n=${formatCount(n)}`));
      context.log(`processes: ${count} → ${formatNumber(m.rate)} msg/s (n=${formatCount(n)}; CPU: ${cpuText(m)})`);
      context.note(`${system.name}: ${count} consumer process${count > 1 ? "es" : ""}: ${formatNumber(m.rate)} msg/s; CPU over the run: ${cpuText(m)}`);
    }
    record("processes-ratio", value(results[1].rate / results[0].rate));
  },
};
