import { afterEach, describe } from "vitest";
import { areas } from "./areas.js";
import { makeOpener, type StoreSuiteOptions } from "./suite.js";

export type { StoreSuiteOptions } from "./suite.js";

/** Registers every conformance area for one backend. */
export function defineStoreSuite(suite: StoreSuiteOptions): void {
  describe(`conformance: ${suite.name}`, () => {
    const cleanup: Array<() => Promise<void>> = [];
    afterEach(async () => {
      await Promise.allSettled(cleanup.splice(0).map((close) => close()));
    });
    const open = makeOpener(suite, cleanup);
    for (const [areaName, define] of Object.entries(areas)) {
      describe(areaName, () => define(suite, open));
    }
  });
}
