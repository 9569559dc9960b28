import { afterEach, describe } from "vitest";
import { areas } from "./areas.js";
import { recordTests } from "./registry.js";
import { clockModesOf, makeOpener, type ClockMode, type StoreSuiteOptions, type SuiteContext } from "./suite.js";

export type { ClockMode, StoreSuiteOptions } from "./suite.js";

/** Registers every conformance area for one backend, once per clock mode it runs in. */
export function defineStoreSuite(suite: StoreSuiteOptions): void {
  for (const clockMode of clockModesOf(suite)) {
    describe(`conformance: ${suite.name} (${clockMode} clock)`, () => {
      const cleanup: Array<() => Promise<void>> = [];
      afterEach(async () => {
        await Promise.allSettled(cleanup.splice(0).map((close) => close()));
      });
      const run = { ...suite, clockMode };
      const open = makeOpener(run, cleanup);
      for (const [areaName, define] of Object.entries(areas)) {
        describe(areaName, () => define(run, open));
      }
    });
  }
}

/** The tests `defineStoreSuite` registers for `suite` in `clockMode`, as "area > test", without registering them. */
export function conformanceTests(suite: StoreSuiteOptions, clockMode: ClockMode): string[] {
  const run = { ...suite, clockMode };
  const open = (): Promise<SuiteContext> => Promise.reject(new Error("a recorded suite opens no store"));
  const names: string[] = [];
  for (const [areaName, define] of Object.entries(areas)) {
    for (const name of recordTests(() => define(run, open))) names.push(`${areaName} > ${name}`);
  }
  return names;
}
