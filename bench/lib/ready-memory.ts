/**
 * Measures how much memory ready messages take in an in-process system (Spool, the baseline):
 * a fresh child process opens the system, publishes `count` messages in batches, collects
 * garbage and reports its RSS before and after. A separate process keeps the figure clean of
 * the other workloads' heap and of the peers' client libraries.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ReadyMemory } from "../systems/system.js";

export interface ReadyMemoryReport {
  emptyRssBytes: number;
  rssBytes: number;
  peakRssBytes: number;
  heapUsedBytes: number;
  publishMs: number;
  /** Systems that can reopen from disk. */
  reopen?: { closeMs: number; reopenMs: number; rssBytes: number };
  snapshot?: { ms: number; maxBlockMs: number };
}

const CHILD = fileURLToPath(new URL("./ready-memory-child.ts", import.meta.url));

export function forkReadyMemory(systemName: string, count: number, timeoutMs = 120_000): Promise<ReadyMemory> {
  return new Promise((resolve, reject) => {
    // process.execArgv carries tsx's loader flags, so the child runs TypeScript as we do.
    const child = fork(CHILD, [systemName, String(count)], {
      execArgv: [...process.execArgv, "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let report: ReadyMemoryReport | undefined;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      failure = `the measuring child took longer than ${timeoutMs} ms`;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("message", (message: { report?: ReadyMemoryReport; error?: string }) => {
      if (message.report) report = message.report;
      if (message.error) failure = message.error;
    });
    child.on("error", (error) => {
      failure ??= error.message;
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (report) {
        resolve({
          addedBytes: report.rssBytes - report.emptyRssBytes,
          where: "process RSS",
          comparable: true,
          rssBytes: report.rssBytes,
          emptyRssBytes: report.emptyRssBytes,
          peakRssBytes: report.peakRssBytes,
          reopen: report.reopen,
          snapshot: report.snapshot,
        });
      } else {
        reject(new Error(failure ?? `the measuring child exited with ${signal ?? code} and no report`));
      }
    });
  });
}
