import { readFileSync } from "node:fs";

/** The `version` of package.json, so the CLI and /openapi.json never disagree with the package. */
export function packageVersion(): string {
  // The same relative path from src/util/ and from dist/util/.
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}
