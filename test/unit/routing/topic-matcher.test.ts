import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { matchesTopic } from "../../../src/routing/topic-matcher.js";

/** The definition, written the slow, obvious way: `*` is one word, `#` zero or more. */
function reference(pattern: string[], words: string[]): boolean {
  if (pattern.length === 0) return words.length === 0;
  const [head, ...rest] = pattern;
  if (head === "#") return reference(rest, words) || (words.length > 0 && reference(pattern, words.slice(1)));
  if (words.length === 0) return false;
  return (head === "*" || head === words[0]) && reference(rest, words.slice(1));
}

// [pattern, routing key, matches?]
const cases: Array<[string, string, boolean]> = [
  // literal words
  ["a.b.c", "a.b.c", true],
  ["a.b.c", "a.b", false],
  ["a.b.c", "a.b.c.d", false],
  ["a.b.c", "a.x.c", false],
  ["orders", "orders", true],
  ["orders", "order", false],
  ["orders", "orders.eu", false],
  ["a.b", "ab", false],
  // `*`: exactly one word
  ["*", "a", true],
  ["*", "a.b", false],
  ["*.b", "a.b", true],
  ["*.b", "b", false],
  ["*.b", "x.a.b", false],
  ["a.*", "a.b", true],
  ["a.*", "a", false],
  ["a.*", "a.b.c", false],
  ["a.*.c", "a.b.c", true],
  ["a.*.c", "a.c", false],
  ["a.*.c", "a.b.b.c", false],
  ["*.*", "a.b", true],
  ["*.*", "a", false],
  ["*.*", "a.b.c", false],
  ["*.*.*", "x.y.z", true],
  ["a.*.b", "a..b", true], // an empty word is still a word
  // `#`: zero or more words
  ["#", "a", true],
  ["#", "a.b.c.d", true],
  ["#", "", true],
  ["a.#", "a", true],
  ["a.#", "a.b", true],
  ["a.#", "a.b.c", true],
  ["a.#", "b.a", false],
  ["a.#", "ab", false],
  ["#.a", "a", true],
  ["#.a", "x.y.a", true],
  ["#.a", "a.x", false],
  ["a.#.b", "a.b", true],
  ["a.#.b", "a.x.b", true],
  ["a.#.b", "a.x.y.b", true],
  ["a.#.b", "a.b.c", false],
  ["a.#.b", "a.b.b", true],
  ["a.#.b", "b.a.b", false],
  ["#.b.#", "b", true],
  ["#.b.#", "a.b.c", true],
  ["#.b.#", "a.c", false],
  ["#.#", "a.b", true],
  ["#.#", "a", true],
  ["a.#.#.b", "a.b", true],
  ["a.#.#.b", "a.x.y.z.b", true],
  // mixing
  ["*.#", "a", true],
  ["*.#", "a.b.c", true],
  ["#.*", "a", true],
  ["#.*", "a.b.c", true],
  ["a.*.#", "a", false],
  ["a.*.#", "a.b", true],
  ["a.*.#", "a.b.c.d", true],
  ["#.*.c", "c", false],
  ["#.*.c", "b.c", true],
  ["#.*.c", "a.b.c", true],
  ["*.#.*", "a", false],
  ["*.#.*", "a.b", true],
  ["*.#.*", "a.b.c.d", true],
  ["stock.*.nyse", "stock.usd.nyse", true],
  ["stock.*.nyse", "stock.nyse", false],
  ["stock.#", "stock.usd.nyse", true],
  ["*.orange.*", "quick.orange.rabbit", true],
  ["*.orange.*", "quick.orange.male.rabbit", false],
  ["*.*.rabbit", "lazy.orange.rabbit", true],
  ["lazy.#", "lazy.orange.male.rabbit", true],
  ["lazy.#", "lazy", true],
  ["lazy.#", "quick.brown.fox", false],
  // `*` and `#` are only wildcards as whole words
  ["a*", "ab", false],
  ["a*", "a*", true],
  ["a#", "a.b", false],
  ["a.b#", "a.b#", true],
];

describe("matchesTopic", () => {
  for (const [pattern, key, expected] of cases) {
    it(`"${pattern}" ${expected ? "matches" : "does not match"} "${key}"`, () => {
      expect(matchesTopic(pattern, key)).toBe(expected);
      expect(matchesTopic(pattern, key), "the cached matcher answers the same").toBe(expected);
    });
  }

  it("agrees with the definition on random patterns and keys", () => {
    const word = fc.constantFrom("a", "b", "c");
    const patternWord = fc.constantFrom("a", "b", "c", "*", "#");
    fc.assert(
      fc.property(fc.array(patternWord, { minLength: 1, maxLength: 7 }), fc.array(word, { minLength: 1, maxLength: 7 }), (pattern, words) => {
        expect(matchesTopic(pattern.join("."), words.join("."))).toBe(reference(pattern, words));
      }),
      { numRuns: 2_000 },
    );
  });

  it("stays correct past its cache limit (many distinct patterns)", () => {
    for (let i = 0; i < 10_100; i++) {
      expect(matchesTopic(`t${i}.*`, `t${i}.x`)).toBe(true);
      expect(matchesTopic(`t${i}.*`, `t${i + 1}.x`)).toBe(false);
    }
    expect(matchesTopic("a.#", "a.b.c")).toBe(true);
  });

  it("answers quickly for patterns with many separated `#` (no exponential backtracking)", () => {
    // With backtracking this takes hours: the test would time out.
    const pattern = Array.from({ length: 20 }, () => "#.a").join(".") + ".b";
    const key = Array.from({ length: 60 }, () => "a").join(".");
    expect(matchesTopic(pattern, key)).toBe(false);
    expect(matchesTopic(pattern, `${key}.b`)).toBe(true);
    expect(matchesTopic(pattern, Array.from({ length: 19 }, () => "a").join(".") + ".b")).toBe(false);
  });

  it("handles many `#` without blowing up", () => {
    const pattern = Array.from({ length: 12 }, () => "#").join(".") + ".z";
    const key = Array.from({ length: 30 }, () => "a").join(".");
    expect(matchesTopic(pattern, key)).toBe(false);
    expect(matchesTopic(pattern, `${key}.z`)).toBe(true);
  });
});
