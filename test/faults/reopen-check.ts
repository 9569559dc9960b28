/**
 * After the fault: open the data directory with the library (taking over a killed server's stale
 * lock), drain every queue and the dead-letter queue, and run the total-queue checker on what the
 * load recorded. Plus what only these tests know: publishes the server REFUSED (503) must not
 * turn up (`refusedFound`, RELIABILITY's "acked-after-fault" seen from the other side: a refused
 * record that survives would be a write the server disowned).
 */
import { performance } from "node:perf_hooks";
import { expect } from "vitest";
import { journalStore, ManualClock, Spool, type JournalStore, type JournalWarning } from "../../src/index.js";
import { check, drainAll, formatFigures, keyCompleted, type Figures } from "../helpers/total-queue.js";
import { call, type Load } from "./http-load.js";
import { startServe, type ServeOptions } from "./serve-process.js";

export interface Report {
  figures: Figures;
  /** Refused (503) publishes found after the restart: must be empty. */
  refusedFound: string[];
  warnings: JournalWarning[];
  recoveryMs: number;
  /** The stats read right after the reopen disagree with what the drain found. */
  statsMismatch: string | undefined;
}

export async function reopenAndCheck(dataDir: string, load: Load, queues: readonly string[], leaseMs: number): Promise<Report> {
  const warnings: JournalWarning[] = [];
  const clock = new ManualClock(Date.now());
  const store = journalStore({ dataDir, clock, fsync: "always", onWarning: (w) => warnings.push(w) }) as JournalStore;
  const started = performance.now();
  const spool = await Spool.open({ store });
  const recoveryMs = performance.now() - started;
  try {
    const drained = await drainAll(store, clock, queues, [...load.history.ids.values()], leaseMs + 1);
    keyCompleted(drained.recovered, load.history);
    const figures = check(load.history, drained.recovered);
    const found = new Set([...drained.recovered.delivered, ...drained.recovered.dead, ...drained.recovered.completed].map((f) => f.key));
    const refusedFound = [...load.refused].filter((key) => found.has(key));
    const foundLive = new Set(drained.recovered.delivered.map((f) => f.id)).size + (drained.recovered.dead.length - drained.deadBefore);
    const statsMismatch =
      drained.before.live !== foundLive || drained.before.dead !== drained.deadBefore
        ? `stats after reopen said live=${drained.before.live} dead=${drained.before.dead}; the drain found live=${foundLive} dead=${drained.deadBefore}`
        : undefined;
    return { figures, refusedFound, warnings, recoveryMs, statsMismatch };
  } finally {
    await spool.close();
  }
}

/** The report as one line (printed by every test: the figures are the result, not just pass/fail). */
export function formatReport(label: string, report: Report, load: Load, extra: Record<string, string | number> = {}): string {
  return formatFigures(label, report.figures, {
    refused: load.refused.size,
    "refused-found": report.refusedFound.length,
    "lease-lost-acks": load.counts.leaseLostAcks,
    "recovery-ms": report.recoveryMs.toFixed(1),
    ...extra,
  });
}

/** Nothing acknowledged lost, no acked message back, nothing refused back, no duplicates, no strangers. */
export function expectNothingLost(report: Report, load: Load, where: string): void {
  const context = `${where} ${JSON.stringify(report.figures.examples)} refused-found=${JSON.stringify(report.refusedFound.slice(0, 5))}`;
  expect(load.errors, context).toEqual([]);
  expect(report.figures.lost, context).toBe(0);
  expect(report.figures.ackedRedelivered, context).toBe(0);
  expect(report.figures.ackedNotCompleted, context).toBe(0);
  expect(report.figures.unexpected, context).toBe(0);
  expect(report.figures.duplicated, context).toBe(0);
  expect(report.refusedFound, context).toEqual([]);
  expect(report.statsMismatch, context).toBeUndefined();
}

export interface RestartCheck {
  /** Ok publishes asked about. */
  checked: number;
  /** Ok publishes the restarted server does not know (GET /v1/messages/:id ≠ 200). */
  missing: string[];
  /** Ok acks whose message the restarted server does not show as completed. */
  notCompleted: string[];
}

/**
 * Starts `spool serve` again on the data dir (no faults) and asks it about every acknowledged
 * publish and ack, over HTTP as a client would; then stops it (SIGTERM, exit 0).
 */
export async function checkAfterServeRestart(options: ServeOptions, load: Load): Promise<RestartCheck> {
  const server = await startServe(options);
  try {
    const result: RestartCheck = { checked: 0, missing: [], notCompleted: [] };
    const acked = new Set([...load.history.acks.values()].filter((a) => a.outcome === "ok").map((a) => a.id));
    for (const [key, publish] of load.history.publishes) {
      if (publish.outcome !== "ok" || publish.id === undefined) continue;
      result.checked++;
      const answer = await call(server.url, "GET", `/v1/messages/${publish.id}`);
      if (answer.status !== 200) result.missing.push(`${key} (${publish.id}): HTTP ${answer.status}`);
      else if (acked.has(publish.id) && answer.json.state !== "completed") result.notCompleted.push(`${key} (${publish.id}): ${answer.json.state}`);
    }
    const exit = await server.stop();
    expect(exit, `the restarted server must stop cleanly\n${server.output()}`).toEqual({ code: 0, signal: null });
    return result;
  } finally {
    await server.kill();
  }
}
