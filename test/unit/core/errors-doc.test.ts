import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../../src/index.js";

describe("docs/errors.md", () => {
  const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
  const documented = new Map<string, number>();
  for (const match of doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)) documented.set(match[1], Number(match[2]));

  it("documents every error code with its HTTP status", () => {
    expect(Object.fromEntries(documented)).toEqual({ ...ERROR_CODES });
  });
});
