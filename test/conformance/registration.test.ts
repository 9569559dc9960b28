/**
 * The conformance suite holds every store to every test: each store registers the same tests in
 * each clock mode it runs in, and memory and the journal run in both modes. A mode or a store
 * that dropped a test (an early return, a bare `if` around an `it`) fails here.
 */
import { describe, expect, it } from "vitest";
import { JOURNAL_FSYNC_POLICIES, journalSuite, memorySuite } from "../backends/stores.js";
import { conformanceTests, type StoreSuiteOptions } from "./define-store-suite.js";
import { clockModesOf } from "./suite.js";

describe("conformance suite registration", () => {
  const suites = [memorySuite, ...JOURNAL_FSYNC_POLICIES.map((fsync) => journalSuite(fsync, []))];

  it("memory and the journal run in both clock modes (the journal's system clock on its default fsync policy)", () => {
    expect(suites.map((suite) => [suite.name, clockModesOf(suite)])).toEqual([
      ["memory", ["manual", "system"]],
      ["journal (fsync always)", ["manual", "system"]],
      ["journal (fsync interval)", ["manual"]],
      ["journal (fsync never)", ["manual"]],
    ]);
  });

  it("every store registers the same tests, none twice, in every clock mode", () => {
    const reference = conformanceTests(memorySuite, "manual");
    expect(new Set(reference).size, "test names are unique").toBe(reference.length);
    for (const suite of suites) {
      for (const mode of clockModesOf(suite)) {
        expect(conformanceTests(suite, mode), `${suite.name}, ${mode} clock`).toEqual(reference);
      }
    }
  });

  it("a store that lacks capabilities registers the same tests: each one it cannot run becomes the test that its use is refused", () => {
    const lacking: StoreSuiteOptions = {
      ...memorySuite,
      name: "a store with no optional capability",
      supports: { manualClock: false, sharedClock: true, transactionalPublish: false, settleFromAnyProcess: false, deadLetterPaging: false, replaceInPlace: false, orderingGroups: false, snapshots: false },
    };
    expect(clockModesOf(lacking)).toEqual(["system"]);
    expect(conformanceTests(lacking, "system")).toEqual(conformanceTests(memorySuite, "manual"));
  });
});
