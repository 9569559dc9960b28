import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The second reporter lists, last, the fault tests this machine could not run.
    reporters: ["default", "./test/faults/missing-needs-reporter.ts"],
  },
});
