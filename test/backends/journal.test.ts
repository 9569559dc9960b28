import { afterAll } from "vitest";
import { journalStore } from "../../src/index.js";
import { defineStoreSuite } from "../conformance/define-store-suite.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => removeTempDir(dir)));
});

for (const fsync of ["always", "interval", "never"] as const) {
  defineStoreSuite({
    name: `journal (fsync ${fsync})`,
    createStore: async (clock, random) => {
      const dataDir = await makeTempDir(`spool-journal-${fsync}-`);
      dirs.push(dataDir);
      return journalStore({ dataDir, fsync, clock, random });
    },
    supports: { transactionalPublish: false, manualClock: true, snapshots: true },
  });
}
