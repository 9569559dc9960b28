/**
 * rss: memory.
 * - peak RSS of this process while the system's workloads ran (in-process systems: Spool and
 *   the baseline; a peer's messages live in its server, not here);
 * - RSS of a fresh process holding N ready messages (Spool: 1M), and of the same process empty;
 * - what 100k ready messages add where each system keeps them: process RSS for in-process
 *   systems, Redis used_memory for BullMQ, the queue process for RabbitMQ, table size on disk
 *   for pg-boss (printed, but not a ratio: disk is not memory).
 * Run it last: its peak row covers the workloads that ran before it for the same system.
 */
import { formatCount, formatNumber } from "../lib/table.js";
import { atMost, value, type Scenario } from "./scenario.js";

/** MB here is 10^6 bytes (the stricter reading of the "400 MB" target). */
const MEGABYTE = 1_000_000;
const PER = 100_000;

export const rss: Scenario = {
  name: "rss",
  rows: [
    { id: "rss-peak", label: "peak RSS of this process during its workloads", unit: "MB", better: "lower", ratios: false },
    { id: "rss-ready", label: "RSS with 1M ready messages, fresh process", unit: "MB", better: "lower", target: atMost(400, "400 MB"), ratios: false },
    { id: "ready-per-100k", label: "memory per 100k ready messages", unit: "MB", better: "lower" },
    { id: "snapshot-block", label: "snapshot of 1M ready messages: longest event-loop block", unit: "ms", better: "lower", ratios: false },
    { id: "close-ready", label: "close with 1M ready messages (final snapshot)", unit: "ms", better: "lower", ratios: false },
    { id: "reopen-ready", label: "reopen with 1M ready messages", unit: "ms", better: "lower", target: atMost(2000, "2 s"), ratios: false },
  ],
  async run(system, context, record) {
    const inProcess = system.kind !== "peer";
    if (inProcess) {
      record("rss-peak", value(context.peakRssBytes() / MEGABYTE));
    } else {
      record("rss-peak", { kind: "none", text: "n/a (server)" });
      record("rss-ready", { kind: "none", text: "n/a (server)" });
    }
    const n = system.sizes.readyMemory;
    const memory = await system.readyMemory(n);
    const perHundredK = memory.addedBytes / (n / PER) / MEGABYTE;
    if (inProcess && memory.rssBytes !== undefined) {
      const detail = `empty ${formatNumber((memory.emptyRssBytes ?? 0) / MEGABYTE)}${n === 1_000_000 ? "" : `, n=${formatCount(n)}`}`;
      record("rss-ready", value(memory.rssBytes / MEGABYTE, detail));
    } else if (inProcess) {
      record("rss-ready", { kind: "none", text: `n/a (${memory.where})` });
    }
    record("ready-per-100k", value(perHundredK, `${memory.comparable ? "" : "disk, "}n=${formatCount(n)}`, memory.comparable));
    if (memory.snapshot) {
      record("snapshot-block", value(memory.snapshot.maxBlockMs, `snapshot took ${formatNumber(memory.snapshot.ms)} ms${n === 1_000_000 ? "" : `, n=${formatCount(n)}`}`));
      context.log(`rss: snapshot ${formatNumber(memory.snapshot.ms)} ms, longest event-loop block ${formatNumber(memory.snapshot.maxBlockMs)} ms`);
    } else {
      record("snapshot-block", { kind: "none", text: "n/a" });
    }
    if (memory.reopen) {
      const sized = n === 1_000_000 ? "" : `n=${formatCount(n)}, `;
      record("close-ready", value(memory.reopen.closeMs, n === 1_000_000 ? undefined : `n=${formatCount(n)}`));
      record("reopen-ready", value(memory.reopen.reopenMs, `${sized}RSS after ${formatNumber(memory.reopen.rssBytes / MEGABYTE)} MB`));
      context.log(`rss: close ${formatNumber(memory.reopen.closeMs)} ms, reopen ${formatNumber(memory.reopen.reopenMs)} ms, RSS after reopen ${formatNumber(memory.reopen.rssBytes / MEGABYTE)} MB`);
    } else {
      record("close-ready", { kind: "none", text: "n/a" });
      record("reopen-ready", { kind: "none", text: "n/a" });
    }
    context.note(`${system.name}: memory per ready message measured as ${memory.where}`);
    context.log(
      `rss: ${formatNumber(perHundredK)} MB per 100k ready (${memory.where}, n=${formatCount(n)})` +
        (memory.rssBytes !== undefined ? `; process RSS ${formatNumber(memory.rssBytes / MEGABYTE)} MB, empty ${formatNumber((memory.emptyRssBytes ?? 0) / MEGABYTE)} MB, peak ${formatNumber((memory.peakRssBytes ?? 0) / MEGABYTE)} MB` : ""),
    );
  },
};
