/** `spool schedules [list]|show|set|pause|resume|remove`: schedules over the HTTP API. */
import type { Command } from "commander";
import type { ScheduleSpec } from "../../config/schedule-schemas.js";
import type { ScheduleInfo } from "../../scheduler.js";
import { addJsonOption, addRemoteOptions, headerArg, integerArg, type RemoteOptions } from "../options.js";
import { formatCount, formatPairs, formatTable, formatTime, printJson, printLine } from "../output.js";
import { withClient } from "../remote.js";

type Flags = RemoteOptions & { json?: boolean };
type SetFlags = Flags & {
  cron?: string;
  everyMs?: number;
  tz?: string;
  queue: string;
  catchUp?: "one" | "none";
  priority?: number;
  delayMs?: number;
  ttlMs?: number;
  maxAttempts?: number;
  groupKey?: string;
  header?: Record<string, string>;
};

const timing = (s: ScheduleInfo) => (s.cron !== undefined ? `cron ${s.cron}${s.tz ? ` (${s.tz})` : ""}` : `every ${s.everyMs} ms`);
const when = (at: number | null) => (at === null ? "-" : formatTime(at));

export function registerSchedules(program: Command): void {
  const schedules = program.command("schedules").description("schedules (cron or every N ms): list, show, set, pause, resume, remove");

  const list = schedules.command("list", { isDefault: true }).description("every schedule with its next run");
  addRemoteOptions(list);
  addJsonOption(list, "print the schedules as JSON");
  list.action(async (flags: Flags) => {
    const all = await withClient(flags, (client) => client.schedules());
    if (flags.json) return printJson(all);
    const rows = all.map((s) => [s.name, timing(s), s.queue, s.paused ? "paused" : when(s.nextRunAt), formatCount(s.fired)]);
    printLine(all.length === 0 ? "no schedules" : formatTable(["schedule", "when", "queue", "next run", "fired"], rows, new Set([4])));
  });

  const show = schedules.command("show").description("one schedule").argument("<name>", "schedule name");
  addRemoteOptions(show);
  addJsonOption(show, "print the schedule as JSON");
  show.action(async (name: string, flags: Flags, self: Command) => {
    const info = await withClient(flags, (client) => client.getSchedule(name));
    if (info === undefined) return self.error(`schedule "${name}" does not exist`, { exitCode: 1, code: "spool.not_found" });
    if (flags.json) return printJson(info);
    printLine(describe(info));
  });

  const set = schedules
    .command("set")
    .description("create or replace a schedule (the same timing keeps its next run)")
    .argument("<name>", "schedule name")
    .argument("<json-body>", "the body of every message, as JSON")
    .requiredOption("--queue <queue>", "the queue each slot publishes to")
    .option("--cron <pattern>", 'cron: 5 fields, or 6 with seconds first ("*/10 * * * * *")')
    .option("--every-ms <ms>", "fire every this many ms (instead of --cron)", integerArg(10))
    .option("--tz <zone>", "the cron's IANA time zone (default UTC)")
    .option("--catch-up <one|none>", "slots missed while no process ran: one message (default), or none")
    .option("--priority <0-9>", "each message's priority", integerArg(0, 9))
    .option("--delay-ms <ms>", "each message is ready this long after its slot", integerArg(0))
    .option("--ttl-ms <ms>", "each message expires if not delivered in time", integerArg(1))
    .option("--max-attempts <n>", "deliveries before a message goes dead", integerArg(1))
    .option("--group-key <key>", "deliver the schedule's messages one at a time, in order")
    .option("--header <name=value>", "a header on each message (repeatable)", headerArg)
    .addHelpText("after", `\nExamples:\n  spool schedules set nightly '{"report":"daily"}' --queue reports --cron "0 3 * * *" --tz Europe/Paris\n  spool schedules set heartbeat '"ping"' --queue pings --every-ms 30000 --catch-up none`);
  addRemoteOptions(set);
  addJsonOption(set, "print the schedule as JSON");
  set.action(async (name: string, bodyText: string, flags: SetFlags, self: Command) => {
    let body: unknown;
    try {
      body = JSON.parse(bodyText);
    } catch (error) {
      return self.error(`the json-body argument is not valid JSON: ${(error as Error).message}`, { exitCode: 2, code: "spool.usage" });
    }
    // Validation (cron syntax, zone, which of cron / every-ms) is the server's: its errors name the field.
    const spec: ScheduleSpec = { queue: flags.queue, body };
    if (flags.cron !== undefined) spec.cron = flags.cron;
    if (flags.everyMs !== undefined) spec.everyMs = flags.everyMs;
    if (flags.tz !== undefined) spec.tz = flags.tz;
    if (flags.catchUp !== undefined) spec.catchUp = flags.catchUp;
    const options: NonNullable<ScheduleSpec["options"]> = {};
    if (flags.priority !== undefined) options.priority = flags.priority;
    if (flags.delayMs !== undefined) options.delayMs = flags.delayMs;
    if (flags.ttlMs !== undefined) options.ttlMs = flags.ttlMs;
    if (flags.maxAttempts !== undefined) options.maxAttempts = flags.maxAttempts;
    if (flags.groupKey !== undefined) options.groupKey = flags.groupKey;
    if (flags.header !== undefined) options.headers = flags.header;
    if (Object.keys(options).length > 0) spec.options = options;
    const info = await withClient(flags, (client) => client.schedule(name, spec));
    if (flags.json) return printJson(info);
    printLine(`schedule "${info.name}": ${timing(info)} → ${info.queue}, next run ${when(info.nextRunAt)}`);
  });

  for (const verb of ["pause", "resume"] as const) {
    const command = schedules.command(verb).description(verb === "pause" ? "stop firing until resumed" : "fire again from the next slot after now").argument("<name>", "schedule name");
    addRemoteOptions(command);
    addJsonOption(command, "print the schedule as JSON");
    command.action(async (name: string, flags: Flags) => {
      const info = await withClient(flags, (client) => (verb === "pause" ? client.pauseSchedule(name) : client.resumeSchedule(name)));
      if (flags.json) return printJson(info);
      printLine(verb === "pause" ? `schedule "${name}" paused` : `schedule "${name}" resumed, next run ${when(info.nextRunAt)}`);
    });
  }

  const remove = schedules.command("remove").description("delete a schedule (messages it published stay)").argument("<name>", "schedule name");
  addRemoteOptions(remove);
  addJsonOption(remove, "print {removed} as JSON");
  remove.action(async (name: string, flags: Flags, self: Command) => {
    const removed = await withClient(flags, (client) => client.removeSchedule(name));
    if (flags.json) return printJson({ removed });
    if (!removed) return self.error(`schedule "${name}" does not exist`, { exitCode: 1, code: "spool.not_found" });
    printLine(`schedule "${name}" removed`);
  });
}

function describe(s: ScheduleInfo): string {
  return formatPairs([
    ["schedule", s.name + (s.paused ? " (paused)" : "")],
    ["when", timing(s)],
    ["catch-up", s.catchUp],
    ["queue", s.queue],
    ["body", JSON.stringify(s.body)],
    ["next run", s.paused ? "- (paused)" : when(s.nextRunAt)],
    ["last slot", when(s.lastSlotAt)],
    ["fired", formatCount(s.fired)],
    ["skipped", formatCount(s.skipped)],
    ...(s.lastError ? [["last error", s.lastError] as [string, string]] : []),
  ]);
}
