/** `spool bench`: an HTTP load generator against a running server (see http-load.ts). */
import type { Command } from "commander";
import { HTTP_LOAD_DEFAULTS as DEFAULTS, HTTP_TARGETS, runHttpLoad, type HttpLoadResult, type PhaseFigures } from "../http-load.js";
import { addRemoteOptions, integerArg, type RemoteOptions } from "../options.js";
import { formatCount, formatDuration, formatRate, printJson, printLine, printNote } from "../output.js";
import { withClient } from "../remote.js";

interface BenchFlags extends RemoteOptions {
  messages: number;
  batch: number;
  concurrency: number;
  leaseMax: number;
  json?: boolean;
}

export function registerBench(program: Command): void {
  const command = program
    .command("bench")
    .description("measure a running server: publish N messages in batches, then lease + ack them (msg/s)")
    .option("--messages <n>", "messages to publish and then consume", integerArg(1, 10_000_000), DEFAULTS.messages)
    .option("--batch <n>", "messages per publish request (1-10000)", integerArg(1, 10_000), DEFAULTS.batch)
    .option("--concurrency <n>", "requests in flight in each phase", integerArg(1, 1000), DEFAULTS.concurrency)
    .option("--lease-max <n>", "messages per lease request (1-1000)", integerArg(1, 1000), DEFAULTS.leaseMax)
    .option("--json", "print the figures as JSON")
    .addHelpText("after", "\nIt publishes into a new queue named bench-…, and deletes it afterwards (with an admin key).");
  addRemoteOptions(command);
  command.action(async (flags: BenchFlags) => {
    if (!flags.json) {
      printNote(`spool bench: ${formatCount(flags.messages)} messages to ${flags.url}, batches of ${flags.batch}, leases of ${flags.leaseMax}, ${flags.concurrency} requests in flight`);
    }
    const result = await withClient(flags, async (client) => {
      const figures = await runHttpLoad({ client, messages: flags.messages, batch: flags.batch, concurrency: flags.concurrency, leaseMax: flags.leaseMax });
      // Empty by now; deleting it needs the admin scope, so a key without it leaves the queue behind.
      await client
        .queue(figures.queue)
        .delete()
        .catch((error: unknown) => printNote(`spool bench: could not delete the queue "${figures.queue}": ${(error as Error).message}`));
      return figures;
    });
    if (flags.json) return printJson({ ...result, settings: settingsOf(flags), targets: HTTP_TARGETS });
    printResult(result, flags);
  });
}

function settingsOf(flags: BenchFlags) {
  return { url: flags.url, messages: flags.messages, batch: flags.batch, concurrency: flags.concurrency, leaseMax: flags.leaseMax };
}

function printResult(result: HttpLoadResult, flags: BenchFlags): void {
  const line = (label: string, phase: PhaseFigures, target: number) =>
    `${label.padEnd(34)} ${formatRate(phase.msgPerSec).padStart(9)} msg/s  (${formatDuration(phase.elapsedMs)}, ${formatCount(phase.requests)} requests; target ≥ ${formatCount(target)})`;
  printLine(line(`publish, batches of ${flags.batch}`, result.publish, HTTP_TARGETS.publishMsgPerSec));
  printLine(line(`lease ${flags.leaseMax} + bulk ack`, result.leaseAck, HTTP_TARGETS.leaseAckMsgPerSec));
}
