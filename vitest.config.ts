import { defineConfig } from "vitest/config";

/** Tests that disturb every other test running beside them (a database restart): run alone, after the rest (vitest.alone.config.ts). */
export const RUN_ALONE = ["test/faults/postgres-restart.test.ts"];

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["**/node_modules/**", ...RUN_ALONE],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The second reporter lists, last, the fault tests this machine could not run.
    reporters: ["default", "./test/faults/missing-needs-reporter.ts"],
  },
});
