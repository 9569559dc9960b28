/**
 * The dashboard the browser tests load is the one in src/dashboard, and it stays small: the
 * built files (dist/dashboard, from `npm run build:dashboard`) exist, are newer than every source
 * file, and the script and stylesheet stay under their gzip budgets.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DEFAULT_DASHBOARD_DIR } from "../../src/server/routes/dashboard.js";

const SOURCE = fileURLToPath(new URL("../../src/dashboard/", import.meta.url));
const BUDGET_GZIP_BYTES = { "assets/main.js": 40 * 1024, "assets/main.css": 8 * 1024 };

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(path.join(dir, entry.name)) : [path.join(dir, entry.name)]));
}

describe("the built dashboard", () => {
  it("is built from the current sources", () => {
    const built = path.join(DEFAULT_DASHBOARD_DIR, "assets", "main.js");
    let builtAt: number;
    try {
      builtAt = statSync(built).mtimeMs;
    } catch {
      throw new Error(`${built} is missing: run npm run build:dashboard (npm install and npm run build run it too)`);
    }
    const newer = files(SOURCE).filter((file) => statSync(file).mtimeMs > builtAt);
    expect(newer, "changed since the last build: run npm run build:dashboard").toEqual([]);
  });

  it.each(Object.entries(BUDGET_GZIP_BYTES))("keeps %s under its gzip budget", (file, budget) => {
    const gzipped = gzipSync(readFileSync(path.join(DEFAULT_DASHBOARD_DIR, file))).length;
    expect(gzipped).toBeLessThan(budget);
  });
});
