/**
 * The systems the bench knows, in column order. A Spool store is one line: a name and a store
 * factory (e.g. `spoolSystem("spool-journal-never", ({ dataDir }) => journalStore({ dataDir, fsync: "never" }))`).
 * Peers load their client libraries only when they run.
 */
import { journalStore, memoryStore, postgresStore } from "../../src/index.js";
import { atLeast, atMost } from "../scenarios/scenario.js";
import { baselineSystem } from "./baseline.js";
import { bullmqSystem } from "./bullmq.js";
import { pgBossSystem } from "./pg-boss.js";
import { rabbitmqSystem } from "./rabbitmq.js";
import { SPOOL_SIZES, spoolSystem } from "./spool.js";
import type { SystemEntry } from "./system.js";

export const systemEntries: SystemEntry[] = [
  spoolSystem("spool-memory", () => memoryStore()),
  spoolSystem("spool-journal-always", ({ dataDir }) => journalStore({ dataDir, fsync: "always" }), { serveFlags: ["--fsync", "always"] }),
  // Its own targets (DESIGN.md §5): every batch is a round trip and a commit; ratios against pg-boss, on the same server.
  spoolSystem("spool-postgres", ({ postgres }) => postgresStore({ connectionString: postgres!.url, schema: postgres!.schema }), {
    postgres: true,
    // At concurrency 1 every message is a lease round trip and an ack commit: a smaller N, as for the peers.
    sizes: { ...SPOOL_SIZES, endToEnd: { 1: 5_000, 64: 100_000 } },
    comparedWith: ["pg-boss"],
    targets: {
      "publish-many": null,
      "end-to-end-c64": atLeast(20_000, "20k"),
      "latency-p99": atMost(10, "10 ms"),
      "rss-ready": null,
      "reopen-ready": null,
    },
  }),
  baselineSystem(),
  bullmqSystem(),
  pgBossSystem(),
  rabbitmqSystem(),
];
