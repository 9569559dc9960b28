import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/** The installed version of a package, for the notes under the table. */
export function packageVersion(name: string): string {
  try {
    // Some packages do not export ./package.json: find it beside the resolved entry point.
    let dir = dirname(require.resolve(name));
    for (let depth = 0; depth < 5; depth++, dir = dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version) return pkg.version;
      } catch {
        // not here: look one level up
      }
    }
  } catch {
    // not installed
  }
  return "?";
}
