/** docs/configuration.md documents every key of the schema, and each variable and flag beside its key. */
import { readFileSync } from "node:fs";
import type { TSchema } from "@sinclair/typebox";
import { describe, expect, it } from "vitest";
import { SERVER_SETTINGS } from "../../src/config/load-server-config.js";
import { ServerConfigSchema } from "../../src/config/server-config.js";

const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");

/**
 * The names the doc's tables use: nested objects as dotted paths (`journal.fsync`); the fields of
 * array items and record values (`keys`, `queues`) bare, in their own table.
 */
function documentedNames(schema: TSchema, prefix = ""): string[] {
  const names: string[] = [];
  for (const [key, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
    const name = prefix + key;
    if (property.properties) names.push(...documentedNames(property, `${name}.`));
    else names.push(name);
    const element = (property.items as TSchema | undefined) ?? Object.values((property.patternProperties ?? {}) as Record<string, TSchema>)[0];
    if (element?.properties) names.push(...documentedNames(element));
  }
  return names;
}

/** The table row (a line starting with "| `name` |") that documents `name`. */
function row(name: string): string | undefined {
  return doc.split("\n").find((line) => line.startsWith(`| \`${name}\` |`));
}

describe("docs/configuration.md", () => {
  it("has a row for every key of ServerConfigSchema, nested ones included", () => {
    const names = documentedNames(ServerConfigSchema);
    expect(names).toContain("journal.fsync");
    expect(names).toContain("backoff.baseMs");
    expect(names.filter((name) => row(name) === undefined)).toEqual([]);
  });

  it("names each setting's variable and flag in its row", () => {
    for (const setting of SERVER_SETTINGS) {
      expect(row(setting.path.join(".")), setting.env).toContain(`\`${setting.env}\` | \`${setting.flag}\``);
    }
  });
});
