/** What a workload is to the runner: the rows it fills, and how to run it on one system. */
import { ratePerSec } from "../lib/stats.js";
import { formatNumber } from "../lib/table.js";
import { describeError, shortReason } from "../lib/text.js";
import type { BenchSystem } from "../systems/system.js";

/** One of Spool's targets (bench/README.md), checked against Spool systems' figures. */
export interface Target {
  /** As printed: "≥ 500k". */
  text: string;
  met(value: number): boolean;
}

export interface RowSpec {
  id: string;
  /** The workload, as printed in the first column… */
  label: string;
  /** …with its unit and which way is good: "(msg/s ↑)", "(ms ↓)". */
  unit: string;
  better: "higher" | "lower";
  target?: Target;
  /** Print Spool ÷ peer ratios for this row (default true). */
  ratios?: boolean;
}

export type Cell =
  | { kind: "value"; value: number; detail?: string; comparable?: boolean }
  /** Not measured for this system, and why ("server-side", …). */
  | { kind: "none"; text: string }
  | { kind: "error"; text: string; full: string };

export interface ScenarioContext {
  /** Peak RSS of this process since the current system's setup. */
  peakRssBytes(): number;
  /** A progress line on stderr. */
  log(message: string): void;
  /** A line for the notes under the table. */
  note(message: string): void;
}

export interface Scenario {
  name: string;
  rows: RowSpec[];
  /** Runs the workload on `system`, calling `record` for each row as soon as its figure is known. */
  run(system: BenchSystem, context: ScenarioContext, record: (rowId: string, cell: Cell) => void): Promise<void>;
}

export function value(value: number, detail?: string, comparable?: boolean): Cell {
  return { kind: "value", value, detail, comparable };
}

export function atLeast(limit: number, text: string): Target {
  return { text: `≥ ${text}`, met: (v) => v >= limit };
}

export function atMost(limit: number, text: string): Target {
  return { text: `≤ ${text}`, met: (v) => v <= limit };
}

/** "publish-many, batches of 10k (msg/s ↑)" */
export function rowTitle(row: RowSpec): string {
  return `${row.label} (${row.unit} ${row.better === "higher" ? "↑" : "↓"})`;
}

/** Splits `items` into arrays of `size` (the last may be shorter). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Messages per publishMany call, for every system and workload. */
export const PUBLISH_BATCH = 10_000;

export function errorCell(error: unknown): Cell {
  return { kind: "error", text: `error: ${shortReason(error, 48)}`, full: describeError(error) };
}

/** Measured runs stop early once they have taken this long together (slow systems get fewer). */
export const REPEAT_BUDGET_MS = 4_000;

/**
 * Runs `once` (which returns the elapsed ms of one measured run of `count` messages) up to
 * `max` times, fewer once REPEAT_BUDGET_MS is spent; returns each run's msg/s.
 */
export async function measureRuns(max: number, count: number, once: () => Promise<number>): Promise<number[]> {
  const rates: number[] = [];
  let spentMs = 0;
  for (let run = 0; run < max && (run === 0 || spentMs < REPEAT_BUDGET_MS); run++) {
    const elapsedMs = await once();
    spentMs += elapsedMs;
    rates.push(ratePerSec(count, elapsedMs));
  }
  return rates;
}

/** ", median of 123 / 130 / 128" for the progress log when there were several runs. */
export function runsText(rates: number[]): string {
  return rates.length > 1 ? `, median of ${rates.map((r) => formatNumber(r)).join(" / ")}` : "";
}
