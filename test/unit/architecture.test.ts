/**
 * The layers of docs/architecture.md, held by the imports themselves: every import in src/ points
 * down (or stays in its own layer), and no two files import each other, type-only imports
 * included. A new import that points up fails here with the file and the line to change.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src");

/**
 * Each module's layer, bottom first; a module may import only from its own layer or lower ones.
 * Folders are matched by their first path segment, top-level files by name.
 */
const LAYERS: Array<{ layer: string; modules: string[] }> = [
  { layer: "utilities", modules: ["util"] },
  { layer: "domain", modules: ["core", "routing"] },
  { layer: "configuration", modules: ["config", "auth"] },
  { layer: "messages", modules: ["message-types.ts", "publish-input.ts"] },
  { layer: "durable log", modules: ["log"] },
  { layer: "engine", modules: ["engine"] },
  { layer: "stores", modules: ["store"] },
  { layer: "tracing", modules: ["observability"] },
  { layer: "workers", modules: ["worker"] },
  { layer: "library", modules: ["runtime.ts", "local-source.ts", "queue-ops.ts", "room-wait.ts", "queue.ts", "scheduler.ts", "queue-event-listeners.ts", "spool.ts"] },
  { layer: "clients and services", modules: ["client", "dashboard", "delivery", "metrics"] },
  { layer: "server", modules: ["server"] },
  { layer: "entry points", modules: ["cli", "entries", "index.ts"] },
];

const rank = new Map<string, number>();
LAYERS.forEach(({ modules }, i) => modules.forEach((m) => rank.set(m, i)));

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

function moduleOf(file: string): string {
  const [first] = path.relative(SRC, file).split(path.sep);
  return first;
}

interface Import {
  from: string;
  to: string;
  line: number;
}

const IMPORT = /^(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']/gms;

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(file, "utf8");
  const found: Import[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const target = path.resolve(path.dirname(file), match[1]).replace(/\.js$/, ".ts");
    found.push({ from: file, to: target, line: text.slice(0, match.index).split("\n").length });
  }
  return found;
}

const files = sourceFiles(SRC);
const imports = files.flatMap(importsOf);
const rel = (file: string) => path.relative(SRC, file);

describe("src/ layers", () => {
  it("every module has a layer", () => {
    const unplaced = [...new Set(files.map(moduleOf))].filter((m) => !rank.has(m));
    expect(unplaced, "add these to LAYERS (and to docs/architecture.md)").toEqual([]);
  });

  it("imports point down or stay in their layer", () => {
    const upward = imports
      .filter(({ from, to }) => (rank.get(moduleOf(to)) ?? 0) > (rank.get(moduleOf(from)) ?? 0))
      .map(({ from, to, line }) => `${rel(from)}:${line} imports ${rel(to)} (${LAYERS[rank.get(moduleOf(from))!].layer} → ${LAYERS[rank.get(moduleOf(to))!].layer})`);
    expect(upward).toEqual([]);
  });

  it("no import cycle, type-only imports included", () => {
    const graph = new Map<string, string[]>();
    for (const { from, to } of imports) graph.set(from, [...(graph.get(from) ?? []), to]);
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, "open");
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next].map(rel).join(" → "));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, "done");
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});
