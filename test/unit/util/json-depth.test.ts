import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonDepthExceeds } from "../../../src/util/json-depth.js";

/** The definition, on the parsed value: arrays and objects inside one another. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

const nested = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

/** Strings full of what the scanner must not take for structure. */
const tricky = fc.string({ unit: fc.constantFrom("[", "]", "{", "}", '"', "\\", "a", "é", "\u0000", "\n"), maxLength: 60 });

const jsonWithTrickyStrings = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.oneof(tricky, fc.integer(), fc.boolean(), fc.constant(null)),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(tricky, tie("value"), { maxKeys: 4 }),
  ),
})).value;

describe("jsonDepthExceeds", () => {
  it("counts arrays and objects inside one another, nothing else", () => {
    expect(jsonDepthExceeds(nested(5), 5)).toBe(false);
    expect(jsonDepthExceeds(nested(6), 5)).toBe(true);
    expect(jsonDepthExceeds(`${'{"a":'.repeat(6)}1${"}".repeat(6)}`, 5)).toBe(true);
    expect(jsonDepthExceeds("[[1],[2],[3],[4],[5],[6],[7]]", 2)).toBe(false); // siblings are not depth
    expect(jsonDepthExceeds('"[[[[[[[[[[[[[["', 2)).toBe(false);
    expect(jsonDepthExceeds('["\\"[[[[[[[[[["]', 2)).toBe(false); // an escaped quote does not end the string
    expect(jsonDepthExceeds('["\\\\", [[[[[[1]]]]]]]', 5)).toBe(true); // an escaped backslash does not escape the quote
    expect(jsonDepthExceeds(`["${"x".repeat(100)}\\"]]]]]]]", [[[[[[1]]]]]]]`, 5)).toBe(true); // the same past the short-string steps
  });

  it("leaves malformed text to the parser", () => {
    expect(jsonDepthExceeds('["unterminated [[[[[[[[[[[[[[[[', 2)).toBe(false);
    expect(jsonDepthExceeds(`["${"y".repeat(40)}`, 2)).toBe(false);
  });

  it("agrees with the depth of the parsed value, compact or indented", () => {
    fc.assert(
      fc.property(jsonWithTrickyStrings, fc.integer({ min: 0, max: 6 }), fc.boolean(), (value, limit, indent) => {
        const text = JSON.stringify(value, null, indent ? 2 : undefined);
        expect(jsonDepthExceeds(text, limit)).toBe(depthOf(value) > limit);
      }),
      { numRuns: 2000 },
    );
  });
});
