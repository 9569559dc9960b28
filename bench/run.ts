/**
 * `npm run bench [-- <filter>...]`: runs every workload on every system in this one process and
 * prints one table, Spool's figures beside its targets (bench/README.md) and beside the peers', with
 * Spool ÷ peer ratios. A filter word keeps the scenarios or systems whose name contains it:
 * `npm run bench -- latency`, `npm run bench -- spool end-to-end`, `npm run bench -- bullmq`.
 * A peer whose service is unreachable is reported as unavailable, with the reason.
 */
import { cpus, loadavg, totalmem } from "node:os";
import { RssSampler } from "./lib/rss.js";
import { withTimeout } from "./lib/stats.js";
import { formatNumber, formatRatio, formatTable, type Column } from "./lib/table.js";
import { describeError, shortReason } from "./lib/text.js";
import { scenarios as allScenarios } from "./scenarios/index.js";
import { errorCell, rowTitle, type Cell, type RowSpec, type Scenario, type ScenarioContext, type Target } from "./scenarios/scenario.js";
import { systemEntries } from "./systems/index.js";
import type { BenchSystem, SystemEntry } from "./systems/system.js";

const SETUP_TIMEOUT_MS = 60_000;
const TEARDOWN_TIMEOUT_MS = 60_000;

interface Selection {
  scenarios: Scenario[];
  systems: SystemEntry[];
}

function usage(): string {
  return [
    "usage: npm run bench [-- <filter>...]",
    "  a filter keeps the scenarios and/or systems whose name contains it (several may be given)",
    `  scenarios: ${allScenarios.map((s) => s.name).join(", ")}`,
    `  systems:   ${systemEntries.map((s) => s.name).join(", ")}`,
  ].join("\n");
}

function select(args: string[]): Selection {
  const terms = args.filter((a) => a !== "--").map((a) => a.toLowerCase());
  const scenarioTerms: string[] = [];
  const systemTerms: string[] = [];
  for (const term of terms) {
    const isScenario = allScenarios.some((s) => s.name.includes(term));
    const isSystem = systemEntries.some((s) => s.name.includes(term));
    if (isScenario) scenarioTerms.push(term);
    if (isSystem) systemTerms.push(term);
    if (!isScenario && !isSystem) {
      console.error(`bench: "${term}" matches no scenario and no system\n${usage()}`);
      process.exit(2);
    }
  }
  return {
    scenarios: scenarioTerms.length === 0 ? allScenarios : allScenarios.filter((s) => scenarioTerms.some((t) => s.name.includes(t))),
    systems: systemTerms.length === 0 ? systemEntries : systemEntries.filter((s) => systemTerms.some((t) => s.name.includes(t))),
  };
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Results by system name, then row id. */
type Results = Map<string, Map<string, Cell>>;

interface Run {
  results: Results;
  notes: string[];
  /** Systems that could not be set up, with the reason. */
  unavailable: Map<string, string>;
}

let current: BenchSystem | undefined;

async function runSystem(entry: SystemEntry, scenarios: Scenario[], run: Run): Promise<void> {
  const cells = new Map<string, Cell>();
  run.results.set(entry.name, cells);
  const system = entry.create();
  const sampler = new RssSampler();
  sampler.start();
  const started = performance.now();
  log(`[${entry.name}] setting up`);
  try {
    current = system;
    await withTimeout(system.setup(), SETUP_TIMEOUT_MS, `${entry.name} setup`);
  } catch (error) {
    const reason = describeError(error);
    run.unavailable.set(entry.name, reason);
    log(`[${entry.name}] unavailable: ${reason}`);
    await system.teardown().catch(() => undefined);
    current = undefined;
    sampler.stop();
    return;
  }
  const context: ScenarioContext = {
    peakRssBytes: () => sampler.peakBytes,
    log: (message) => log(`[${entry.name}] ${message}`),
    note: (message) => run.notes.push(message),
  };
  for (const scenario of scenarios) {
    try {
      await scenario.run(system, context, (rowId, cell) => cells.set(rowId, cell));
    } catch (error) {
      log(`[${entry.name}] ${scenario.name} failed: ${describeError(error)}`);
      for (const row of scenario.rows) {
        if (!cells.has(row.id)) cells.set(row.id, errorCell(error));
      }
    }
  }
  run.notes.push(...system.notes);
  try {
    await withTimeout(system.teardown(), TEARDOWN_TIMEOUT_MS, `${entry.name} teardown`);
  } catch (error) {
    run.notes.push(`${entry.name}: teardown failed, something may be left behind: ${describeError(error)}`);
  }
  current = undefined;
  sampler.stop();
  log(`[${entry.name}] done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** The target `system` is held to on `row`: its own where it declares one (null: none), else the row's. */
function targetOf(system: SystemEntry, row: RowSpec): Target | undefined {
  if (system.kind !== "spool") return undefined;
  const own = system.targets?.[row.id];
  return own === undefined ? row.target : (own ?? undefined);
}

/** "≥ 150k", or with a system's own: "≥ 150k; spool-postgres ≥ 20k". */
function targetText(row: RowSpec, spools: SystemEntry[]): string {
  const texts = row.target ? [row.target.text] : [];
  for (const spool of spools) {
    const own = spool.targets?.[row.id];
    if (own) texts.push(`${spool.name.replace(/^spool-/, "")} ${own.text}`);
  }
  return texts.join("; ");
}

function cellText(cell: Cell | undefined, target: Target | undefined, hideDetail: boolean): string {
  if (!cell) return "—";
  if (cell.kind !== "value") return cell.text;
  let text = formatNumber(cell.value);
  if (cell.detail && !hideDetail) text += ` (${cell.detail})`;
  if (target) text += target.met(cell.value) ? " [met]" : " [MISSED]";
  return text;
}

function ratio(spool: Cell | undefined, peer: Cell | undefined): number | undefined {
  if (spool?.kind !== "value" || peer?.kind !== "value") return undefined;
  if (spool.comparable === false || peer.comparable === false) return undefined;
  return spool.value / peer.value;
}

function report(selection: Selection, run: Run): string {
  const systems = selection.systems;
  const spools = systems.filter((s) => s.kind === "spool");
  const peers = systems.filter((s) => s.kind === "peer");
  const rows = selection.scenarios.flatMap((s) => s.rows);
  const showTargets = spools.length > 0 && rows.some((r) => targetText(r, spools) !== "");
  const columns: Column[] = [{ header: "workload", align: "left" }];
  if (showTargets) columns.push({ header: "target", align: "left" });
  for (const system of systems) columns.push({ header: system.name, align: "right" });
  const pairs = spools.flatMap((spool) => peers.filter((peer) => spool.comparedWith?.includes(peer.name) ?? true).map((peer) => ({ spool, peer })));
  // "spool/bullmq" with one Spool system; "memory/bullmq", "journal-always/bullmq" with several.
  const spoolLabel = (spool: SystemEntry) => (spools.length === 1 ? "spool" : spool.name.replace(/^spool-/, ""));
  for (const { spool, peer } of pairs) columns.push({ header: `${spoolLabel(spool)}/${peer.name}`, align: "right" });

  const lines = rows.map((row) => {
    const cells = systems.map((s) => run.results.get(s.name)?.get(row.id));
    // A detail every system shares (e.g. n=100k) goes into the label once.
    const details = new Set(cells.map((c) => (c?.kind === "value" ? c.detail : undefined)).filter((d) => d !== undefined));
    const values = cells.filter((c) => c?.kind === "value");
    const shared =
      values.length > 1 && details.size === 1 && values.every((c) => c?.kind === "value" && c.detail !== undefined) ? [...details][0] : undefined;
    const line = [shared ? `${rowTitle(row)}, ${shared}` : rowTitle(row)];
    if (showTargets) line.push(targetText(row, spools));
    systems.forEach((system, i) => {
      const unavailable = run.unavailable.get(system.name);
      line.push(unavailable !== undefined ? `unavailable: ${shortReason(unavailable, 44)}` : cellText(cells[i], targetOf(system, row), shared !== undefined));
    });
    for (const { spool, peer } of pairs) {
      const r = row.ratios === false ? undefined : ratio(run.results.get(spool.name)?.get(row.id), run.results.get(peer.name)?.get(row.id));
      line.push(r === undefined ? "—" : formatRatio(r));
    }
    return line;
  });

  const notes: string[] = [];
  for (const [name, reason] of run.unavailable) notes.push(`${name} unavailable: ${reason}`);
  for (const system of systems) {
    for (const [rowId, cell] of run.results.get(system.name) ?? []) {
      if (cell.kind === "error") notes.push(`${system.name} ${rowId} failed: ${cell.full}`);
    }
  }
  notes.push(...run.notes);
  if (showTargets) {
    notes.push(
      "targets are set for the journal store with fsync `always` (a memory store has no disk, so its figures are a ceiling, not the promise); the PostgreSQL store has its own (DESIGN.md §5), marked `postgres`.",
    );
  }
  notes.push("ratios are Spool ÷ peer on the same row: above 1× is better for ↑ rows (msg/s), below 1× is better for ↓ rows (ms, MB); 1/N× = N times smaller. MB = 10^6 bytes.");
  notes.push("peak RSS is this bench process's, from the system's setup on: heap that earlier systems freed but V8 kept counts too, so only the first system's figure is clean.");
  notes.push("every system runs in this one process; peers are measured through their Node clients against the local servers.");
  return `${formatTable(columns, lines)}\n\nnotes:\n${notes.map((n) => `- ${n}`).join("\n")}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage());
    return;
  }
  const selection = select(args);
  const cpu = cpus();
  console.log(
    `Spool bench — node ${process.version}, ${process.platform}/${process.arch}, ${cpu.length} × ${cpu[0]?.model.trim() ?? "?"}, ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${new Date().toISOString()}`,
  );
  console.log(`scenarios: ${selection.scenarios.map((s) => s.name).join(", ")}; systems: ${selection.systems.map((s) => s.name).join(", ")}\n`);
  const run: Run = { results: new Map(), notes: [], unavailable: new Map() };
  process.once("SIGINT", () => {
    log("interrupted: cleaning up the current system");
    void (current?.teardown() ?? Promise.resolve()).finally(() => process.exit(130));
  });
  const started = performance.now();
  const loadBefore = loadavg()[0];
  for (const entry of selection.systems) await runSystem(entry, selection.scenarios, run);
  const loadAfter = loadavg()[0];
  // Figures taken while other processes compete for the cores are not comparable run to run: say so.
  // (The bench's own servers load the machine too: only the load before it started says much.)
  const busy = loadBefore > cpu.length ? ": other processes were competing for the CPU, so figures are noisier than usual" : "";
  run.notes.push(`machine load (1-min average) ${loadBefore.toFixed(1)} at start, ${loadAfter.toFixed(1)} at end, on ${cpu.length} cores${busy}.`);
  console.log(report(selection, run));
  console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

main().then(
  // Some client libraries keep timers after close: the report is out, so leave now.
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
