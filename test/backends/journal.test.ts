import { afterAll } from "vitest";
import { defineStoreSuite } from "../conformance/define-store-suite.js";
import { removeTempDir } from "../helpers/temp-dir.js";
import { JOURNAL_FSYNC_POLICIES, journalSuite } from "./stores.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => removeTempDir(dir)));
});

for (const fsync of JOURNAL_FSYNC_POLICIES) defineStoreSuite(journalSuite(fsync, dirs));
