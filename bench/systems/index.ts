/**
 * The systems the bench knows, in column order. A Spool store is one line: a name and a store
 * factory (e.g. `spoolSystem("spool-journal-never", ({ dataDir }) => journalStore({ dataDir, fsync: "never" }))`).
 * Peers load their client libraries only when they run.
 */
import { journalStore, memoryStore } from "../../src/index.js";
import { baselineSystem } from "./baseline.js";
import { bullmqSystem } from "./bullmq.js";
import { pgBossSystem } from "./pg-boss.js";
import { rabbitmqSystem } from "./rabbitmq.js";
import { spoolSystem } from "./spool.js";
import type { SystemEntry } from "./system.js";

export const systemEntries: SystemEntry[] = [
  spoolSystem("spool-memory", () => memoryStore()),
  spoolSystem("spool-journal-always", ({ dataDir }) => journalStore({ dataDir, fsync: "always" }), { serveFlags: ["--fsync", "always"] }),
  baselineSystem(),
  bullmqSystem(),
  pgBossSystem(),
  rabbitmqSystem(),
];
