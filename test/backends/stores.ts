/**
 * The stores the conformance suite runs on, as `defineStoreSuite` takes them: shared by their
 * test files and by test/conformance/registration.test.ts, which checks that every store and
 * clock mode registers the same tests.
 */
import { journalStore, memoryStore, type Store } from "../../src/index.js";
import type { StoreSuiteOptions } from "../conformance/define-store-suite.js";
import { makeTempDir } from "../helpers/temp-dir.js";

export const memorySuite: StoreSuiteOptions = {
  name: "memory",
  createStore: (clock, random) => memoryStore({ clock, random }),
  supports: memoryStore().capabilities,
};

export const JOURNAL_FSYNC_POLICIES = ["always", "interval", "never"] as const;

/**
 * The journal with one fsync policy; every store it makes gets a fresh data directory, listed in
 * `dirs` for removal. Every policy runs on a ManualClock; the system clock's run, which waits for
 * real time (heartbeats, open circuits, short leases), runs on the default policy, `always`,
 * whose writes take real time too: the other two would add a minute of waiting for what the
 * policy does not change (when a write is durable, not when anything falls due).
 */
export function journalSuite(fsync: (typeof JOURNAL_FSYNC_POLICIES)[number], dirs: string[]): StoreSuiteOptions {
  const dirOf = new WeakMap<Store, string>();
  return {
    name: `journal (fsync ${fsync})`,
    clockModes: fsync === "always" ? ["manual", "system"] : ["manual"],
    createStore: async (clock, random) => {
      const dataDir = await makeTempDir(`spool-journal-${fsync}-`);
      dirs.push(dataDir);
      const store = journalStore({ dataDir, fsync, clock, random });
      dirOf.set(store, dataDir);
      return store;
    },
    // Another opener of the same directory: the journal is one process's, so it is refused.
    openPeer: async (store) => journalStore({ dataDir: dirOf.get(store) as string, fsync, clock: store.clock }),
    supports: journalStore({ dataDir: "unused" }).capabilities,
  };
}
