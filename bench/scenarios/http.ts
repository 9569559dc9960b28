/**
 * http: Spool through `spool serve`, run as a child process on the system's store settings
 * (journal, fsync always), with this process as the client: the same load generator as
 * `spool bench` (src/cli/http-load.ts, through SpoolClient). N messages are published in batches
 * of 100 with a few requests in flight, then leased in batches and acked in bulk. Figures: msg/s
 * of each phase, the median of `repeats` runs after an untimed warm-up run.
 *
 * Spool systems with `serveFlags` run it, and so does the baseline, against a bare node:http
 * server that answers the same routes from memory (lib/http-baseline-server.ts): the ceiling of
 * the client, HTTP and JSON alone. Peers have no comparable HTTP front, so there are no ratios.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SpoolClient } from "../../src/client/spool-client.js";
import { HTTP_LOAD_DEFAULTS, HTTP_TARGETS, runHttpLoad, type HttpLoadResult } from "../../src/cli/http-load.js";
import { makeBody } from "../lib/body.js";
import { SPOOL_CLI, startServerChild, type ServerChild } from "../lib/server-child.js";
import { median } from "../lib/stats.js";
import { formatCount, formatNumber } from "../lib/table.js";
import { BENCH_DATA_ROOT } from "../systems/spool.js";
import type { BenchSystem } from "../systems/system.js";
import { atLeast, runsText, value, type Scenario } from "./scenario.js";

const { batch, concurrency, leaseMax } = HTTP_LOAD_DEFAULTS;
const BASELINE_SERVER = fileURLToPath(new URL("../lib/http-baseline-server.ts", import.meta.url));

interface HttpTarget {
  server: ServerChild;
  /** For the notes: what ran in the child. */
  what: string;
  cleanup(): void;
}

/** The child server for `system`, or undefined when it has no HTTP front. */
async function startTarget(system: BenchSystem): Promise<HttpTarget | undefined> {
  if (system.serveFlags !== undefined) {
    mkdirSync(BENCH_DATA_ROOT, { recursive: true });
    const dataDir = mkdtempSync(join(BENCH_DATA_ROOT, `http-${system.name}-`));
    const flags = [...system.serveFlags, "--log-level", "warn"];
    const server = await startServerChild(SPOOL_CLI, ["serve", "--port", "0", "--data-dir", dataDir, ...flags]);
    return { server, what: `\`spool serve ${flags.join(" ")}\``, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  if (system.kind === "baseline") {
    const server = await startServerChild(BASELINE_SERVER, []);
    return { server, what: "a bare node:http server answering the same routes from memory", cleanup: () => {} };
  }
  return undefined;
}

export const http: Scenario = {
  name: "http",
  rows: [
    {
      id: "http-publish",
      label: `HTTP publish, batches of ${batch}`,
      unit: "msg/s",
      better: "higher",
      target: atLeast(HTTP_TARGETS.publishMsgPerSec, "200k"),
      ratios: false,
    },
    {
      id: "http-lease-ack",
      label: "HTTP lease + ack with the client",
      unit: "msg/s",
      better: "higher",
      target: atLeast(HTTP_TARGETS.leaseAckMsgPerSec, "50k"),
      ratios: false,
    },
  ],
  async run(system, context, record) {
    const target = await startTarget(system);
    if (!target) {
      const none = { kind: "none", text: system.kind === "peer" ? "n/a (no HTTP front)" : "n/a" } as const;
      record("http-publish", none);
      record("http-lease-ack", none);
      return;
    }
    const client = new SpoolClient({ url: target.server.url });
    try {
      const once = async (messages: number): Promise<HttpLoadResult> => {
        const result = await runHttpLoad({ client, messages, batch, concurrency, leaseMax, makeBody });
        await client.queue(result.queue).delete();
        return result;
      };
      const n = system.sizes.publishMany;
      // A full-size warm-up: a second process JITs on its own, and a short one left the first
      // measured run half as fast as the next. Every repeat runs (runs are short; the spread is not).
      await once(n);
      const runs: HttpLoadResult[] = [];
      for (let run = 0; run < system.sizes.repeats; run++) runs.push(await once(n));
      const publishRates = runs.map((r) => r.publish.msgPerSec);
      const leaseAckRates = runs.map((r) => r.leaseAck.msgPerSec);
      const detail = `n=${formatCount(n)}`;
      record("http-publish", value(median(publishRates), detail));
      record("http-lease-ack", value(median(leaseAckRates), detail));
      context.log(`http publish: ${formatNumber(median(publishRates))} msg/s (${detail}${runsText(publishRates)})`);
      context.log(`http lease + ack: ${formatNumber(median(leaseAckRates))} msg/s (${detail}${runsText(leaseAckRates)})`);
      context.note(
        `${system.name} http: ${target.what} in a child process; this process publishes ${batch} per request, then leases ${leaseMax} ` +
          `per request with one bulk ack per lease, ${concurrency} requests in flight, through SpoolClient (as \`spool bench\`)`,
      );
    } finally {
      await client.close();
      await target.server.stop();
      target.cleanup();
    }
  },
};
