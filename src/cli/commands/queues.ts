/** `spool queues` and `spool stats <queue>`: what is waiting where. */
import type { Command } from "commander";
import type { QueueStats } from "../../core/message.js";
import { isDeliveryQueue } from "../../delivery/queue-names.js";
import { addJsonOption, addRemoteOptions, type RemoteOptions } from "../options.js";
import { formatCount, formatDuration, formatPairs, formatRate, formatTable, printJson, printLine, printNote } from "../output.js";
import { withClient } from "../remote.js";

type Flags = RemoteOptions & { json?: boolean };
type ListFlags = Flags & { all?: boolean };

/** What the server adds to the store's stats (docs/http-api.md, GET /v1/queues/:q). */
type QueueStatsView = QueueStats & {
  rates?: { publishedPerSec: number; completedPerSec: number };
  /** One per worker on this queue in the server process. */
  circuits?: readonly string[];
};

export function registerQueues(program: Command): void {
  const queues = program
    .command("queues")
    .description("list the queues with their depths")
    .option("--all", "include the server's internal queues (batch delivery's delivery.webhook, delivery.mock, delivery.websocket)");
  addRemoteOptions(queues);
  addJsonOption(queues, "print the stats of the listed queues as JSON");
  queues.action(async (flags: ListFlags) => {
    const every: QueueStatsView[] = await withClient(flags, (client) => client.queues());
    const list = flags.all ? every : every.filter((q) => !isDeliveryQueue(q.name));
    if (flags.json) return printJson(list);
    const rows = list.map((q) => [q.name, formatCount(q.ready), formatCount(q.delayed), formatCount(q.leased), formatCount(q.dead), q.paused ? "paused" : ""]);
    printLine(list.length === 0 ? "no queues" : formatTable(["queue", "ready", "delayed", "leased", "dead", ""], rows, new Set([1, 2, 3, 4])));
    const hidden = every.length - list.length;
    if (hidden > 0) printNote(`(${hidden} internal queue${hidden === 1 ? "" : "s"} of batch delivery not shown: --all shows ${hidden === 1 ? "it" : "them"})`);
  });

  const stats = program.command("stats").description("one queue's depths, totals and rates").argument("<queue>", "queue name");
  addRemoteOptions(stats);
  addJsonOption(stats, "print the stats as JSON");
  stats.action(async (name: string, flags: Flags) => {
    const view: QueueStatsView = await withClient(flags, (client) => client.queue(name).stats());
    if (flags.json) return printJson(view);
    printLine(formatStats(view));
  });
}

function formatStats(q: QueueStatsView): string {
  const rate = (perSec: number | undefined) => (perSec === undefined ? "" : ` (${formatRate(perSec)}/s)`);
  const pairs: Array<[string, string]> = [
    ["queue", q.name + (q.paused ? " (paused)" : "")],
    ["ready", formatCount(q.ready)],
    ["delayed", formatCount(q.delayed)],
    ["leased", formatCount(q.leased)],
    ["dead", formatCount(q.dead)],
    ["oldest ready", q.ready > 0 ? formatDuration(q.oldestReadyAgeMs) : "-"],
    ["published", formatCount(q.totals.published) + rate(q.rates?.publishedPerSec)],
    ["completed", formatCount(q.totals.completed) + rate(q.rates?.completedPerSec)],
    ["retried", formatCount(q.totals.retried)],
    ["dead-lettered", formatCount(q.totals.dead)],
  ];
  if (q.circuits && q.circuits.length > 0) pairs.push(["circuits", q.circuits.join(", ")]);
  return formatPairs(pairs);
}
