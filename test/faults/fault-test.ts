/**
 * `it` for a fault test with outside needs (requirements.ts). When this machine lacks them:
 *
 * - with SPOOL_REQUIRE_FAULT_TOOLS=1 (`.ci/run` sets it) the test FAILS, naming what is missing:
 *   CI must never pass without having injected the faults;
 * - otherwise the test is skipped with a note, and `missing-needs-reporter.ts` lists it by name,
 *   with the command that installs what it needs, in the run's last lines: a plain `npm test` on a
 *   fresh machine passes, and nobody mistakes that partial run for a full one.
 */
import { it, type TestContext } from "vitest";
import { missingNeeds, remedyFor, REQUIRE_ENV, type Needs } from "./requirements.js";

type FaultTestBody = (context: TestContext) => Promise<void>;

/**
 * `it` for a test with outside needs: runs it when they are met; otherwise fails it (under
 * SPOOL_REQUIRE_FAULT_TOOLS=1) or skips it with a note naming what is missing.
 */
export function faultTest(needs: Needs): (name: string, body: FaultTestBody, timeoutMs: number) => void {
  const unmet = missingNeeds(needs);
  const summary = `needs ${unmet.missing.join(", ")}; to run it: ${remedyFor([unmet])}`;
  return (name, body, timeoutMs) => {
    if (unmet.missing.length === 0) {
      it(name, body, timeoutMs);
    } else if (process.env[REQUIRE_ENV] === "1") {
      it(name, () => {
        throw new Error(`${REQUIRE_ENV}=1 and this fault test cannot run: it ${summary}`);
      }, timeoutMs);
    } else {
      it(name, (context) => {
        context.task.meta.missingFaultNeeds = unmet;
        context.skip(summary);
      });
    }
  };
}
