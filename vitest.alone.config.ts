import { defineConfig } from "vitest/config";
import base, { RUN_ALONE } from "./vitest.config.js";

/** The tests that must not share the machine's services with others: one file at a time, after `vitest run`. */
export default defineConfig({ test: { ...base.test, include: RUN_ALONE, exclude: ["**/node_modules/**"], fileParallelism: false } });
