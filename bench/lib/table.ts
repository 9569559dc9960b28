/** Plain-text tables: a header, a rule, and rows whose cells are padded to each column's width. */
export interface Column {
  header: string;
  align: "left" | "right";
}

export function formatTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (columns[i].align === "right" ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join(" | ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("-|-");
  return [line(columns.map((c) => c.header)), rule, ...rows.map((row) => line(columns.map((_, i) => row[i] ?? "")))].join("\n");
}

/** 152301 → "152,301"; 1234.5 → "1,235"; 12.34 → "12.3"; 1.234 → "1.23"; 0.0123 → "0.012". */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString("en-US");
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

/** 100000 → "100k", 1000000 → "1M", 20000 → "20k", 500 → "500". */
export function formatCount(value: number): string {
  if (value >= 1_000_000 && value % 100_000 === 0) return `${value / 1_000_000}M`;
  if (value >= 1_000 && value % 100 === 0) return `${value / 1_000}k`;
  return String(value);
}

/** A ratio as "12.3×", "0.83×", or below 0.1 as "1/40×" (the figure is 40 times smaller). */
export function formatRatio(value: number): string {
  if (!Number.isFinite(value) || value <= 0) return "—";
  if (value >= 100) return `${Math.round(value).toLocaleString("en-US")}×`;
  if (value >= 10) return `${value.toFixed(1)}×`;
  if (value >= 0.1) return `${value.toFixed(2)}×`;
  const inverse = 1 / value;
  return `1/${inverse >= 100 ? Math.round(inverse).toLocaleString("en-US") : inverse.toFixed(1)}×`;
}
