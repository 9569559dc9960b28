/**
 * Lists, as the run's last lines, every fault test skipped because the machine lacks a tool or
 * root (requirements.ts), with what would make it run: a green `npm test` that skipped some of
 * them must say so. Prints nothing when every fault test ran.
 */
import path from "node:path";
import type { RunnerTask, RunnerTestFile } from "vitest";
import type { Reporter, Vitest } from "vitest/node";
import { remedyFor, REQUIRE_ENV, type MissingNeeds } from "./requirements.js";

interface Skipped extends MissingNeeds {
  /** `file > describe > test`. */
  name: string;
}

/** The skipped fault tests under `task`; `names` are the enclosing describes. */
function skippedUnder(task: RunnerTask, file: string, names: readonly string[]): Skipped[] {
  if (task.type === "suite") {
    const inner = task.file === task ? names : [...names, task.name];
    return task.tasks.flatMap((child) => skippedUnder(child, file, inner));
  }
  const needs = task.meta.missingFaultNeeds;
  if (needs === undefined || task.result?.state !== "skip") return [];
  return [{ ...needs, name: [file, ...names, task.name].join(" > ") }];
}

export default class MissingNeedsReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  // `onFinished`, not `onTestRunEnd`: the default reporter prints its summary in `onFinished`, and
  // reporters run in their configured order, so this list comes after that summary.
  onFinished(files: RunnerTestFile[]): void {
    const skipped = files.flatMap((file) => skippedUnder(file, path.relative(process.cwd(), file.filepath), []));
    if (skipped.length === 0) return;
    const log = (line: string) => (this.vitest ? this.vitest.logger.log(line) : console.log(line));
    const them = skipped.length === 1 ? "it" : "them";
    log(`SKIPPED ${skipped.length} fault-injection test${skipped.length === 1 ? "" : "s"}: this was NOT a full run.`);
    for (const test of skipped) log(`  - ${test.name}\n      needs ${test.missing.join(", ")}`);
    log(`To run ${them}: ${remedyFor(skipped)}.`);
    log(`(.ci/run installs the tools and sets ${REQUIRE_ENV}=1, under which a fault test that cannot run fails.)`);
    log("");
  }
}
