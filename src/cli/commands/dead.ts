/** `spool dead list|replay|purge <queue>`: inspect and recover dead letters. */
import { Option, type Command } from "commander";
import type { DeadLetter, DeadReason } from "../../core/message.js";

const DEAD_REASONS: DeadReason[] = ["max_attempts", "permanent_error", "expired", "rejected", "overflow"];
import { addJsonOption, addRemoteOptions, integerArg, type RemoteOptions } from "../options.js";
import { formatCount, formatTable, formatTime, printJson, printLine, printNote, truncate } from "../output.js";
import { withClient } from "../remote.js";

type Flags = RemoteOptions & { json?: boolean };
type DeadLetterView = Omit<DeadLetter, "body"> & { body: unknown };

export function registerDead(program: Command): void {
  const dead = program.command("dead").description("dead letters: list, replay, purge");

  const list = dead
    .command("list")
    .description("one page of a queue's dead letters, oldest first")
    .argument("<queue>", "queue name")
    .option("--limit <n>", "dead letters per page (1-1000)", integerArg(1, 1000), 100)
    .option("--cursor <cursor>", "where the previous page ended (printed under it)")
    .addOption(new Option("--reason <reason>", "only those that died for this reason").choices(DEAD_REASONS));
  addRemoteOptions(list);
  addJsonOption(list, "print {items, nextCursor} as JSON");
  list.action(async (queue: string, flags: Flags & { limit: number; cursor?: string; reason?: DeadReason }) => {
    const page: { items: DeadLetterView[]; nextCursor?: string } = await withClient(flags, (client) =>
      client.queue(queue).deadLetters({ limit: flags.limit, ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }), ...(flags.reason === undefined ? {} : { reason: flags.reason }) }),
    );
    if (flags.json) return printJson(page);
    if (page.items.length === 0) printLine(`no dead letters in "${queue}"`);
    else {
      const rows = page.items.map((d) => [d.id, d.reason, String(d.attempt), formatTime(d.deadAt), truncate(d.lastError?.message ?? "", 60)]);
      printLine(formatTable(["id", "reason", "attempts", "dead at", "last error"], rows, new Set([2])));
    }
    if (page.nextCursor !== undefined) printNote(`more: spool dead list ${queue}${flags.reason === undefined ? "" : ` --reason ${flags.reason}`} --cursor ${page.nextCursor}`);
  });

  const replay = dead
    .command("replay")
    .description("put dead letters back as ready, with their attempts reset")
    .argument("<queue>", "queue name")
    .option("--all", "every dead letter of the queue")
    .option("--id <ids...>", "these dead letters (repeatable)");
  addRemoteOptions(replay);
  addJsonOption(replay, "print {replayed} as JSON");
  replay.action(async (queue: string, flags: Flags & { all?: boolean; id?: string[] }, self: Command) => {
    if (Boolean(flags.all) === (flags.id !== undefined)) self.error("give either --all or --id <id...>", { exitCode: 2, code: "spool.usage" });
    const selection = flags.all ? { all: true as const } : { ids: flags.id ?? [] };
    const replayed = await withClient(flags, (client) => client.queue(queue).replayDead(selection));
    if (flags.json) return printJson({ replayed });
    printLine(`replayed ${formatCount(replayed)} dead letter${replayed === 1 ? "" : "s"} in "${queue}"`);
  });

  const purge = dead.command("purge").description("delete every dead letter of a queue").argument("<queue>", "queue name");
  addRemoteOptions(purge);
  addJsonOption(purge, "print {purged} as JSON");
  purge.action(async (queue: string, flags: Flags) => {
    const purged = await withClient(flags, (client) => client.queue(queue).purgeDead());
    if (flags.json) return printJson({ purged });
    printLine(`purged ${formatCount(purged)} dead letter${purged === 1 ? "" : "s"} from "${queue}"`);
  });
}
