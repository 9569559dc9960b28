/**
 * `spool events <queue-glob>`: follows the server's queue events (GET /v1/events), one line
 * each — time, event, queue, message id and what changed — until Ctrl-C, or `--count` events.
 */
import type { Command } from "commander";
import type { RemoteEventsOptions } from "../../client/remote-events.js";
import { QUEUE_EVENT_TYPES, type QueueEvent, type QueueEventType } from "../../core/queue-events.js";
import { addJsonOption, addRemoteOptions, choiceCollector, integerArg, type RemoteOptions } from "../options.js";
import { formatTime, printJsonLine, printLine, printNote, truncate } from "../output.js";
import { withClient } from "../remote.js";

type Flags = RemoteOptions & { json?: boolean; type?: QueueEventType[]; count?: number };

export function registerEvents(program: Command): void {
  const events = program
    .command("events")
    .description("follow what happens to messages: published, active, progress, completed, failed, retry, released, dead, replayed")
    .argument("<queue>", "a queue name or a glob (* = any run of characters)")
    .option("--type <type>", `only this event type (repeatable): ${QUEUE_EVENT_TYPES.join(", ")}`, choiceCollector(QUEUE_EVENT_TYPES))
    .option("--count <n>", "stop after n events", integerArg(1));
  addRemoteOptions(events);
  addJsonOption(events, "print each event as one line of JSON");
  events.action(async (queue: string, flags: Flags) => {
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      await withClient(flags, async (client) => {
        // On stderr, so stdout stays the events alone (--json is NDJSON).
        const onOpen = () => printNote(`following events of "${queue}" (Ctrl-C stops)`);
        const options: RemoteEventsOptions = { queue, signal: stop.signal, onOpen, ...(flags.type ? { types: flags.type } : {}) };
        let seen = 0;
        for await (const event of client.events(options)) {
          if (flags.json) printJsonLine(event);
          else if (event.type === "dropped") printNote(`(${event.count} events dropped by the server: over its rate, or read too slowly)`);
          else printLine(formatEvent(event));
          if (event.type !== "dropped" && flags.count !== undefined && ++seen >= flags.count) return;
        }
      });
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  });
}

function formatEvent(event: QueueEvent): string {
  return [formatTime(event.at), event.type.padEnd(9), event.queue, event.id, detail(event)].filter((part) => part !== "").join("  ");
}

function detail(event: QueueEvent): string {
  switch (event.type) {
    case "published":
    case "released":
      return event.availableAt > event.at ? `available ${formatTime(event.availableAt)}` : "";
    case "active":
      return `attempt ${event.attempt}`;
    case "progress":
      return truncate(JSON.stringify(event.progress), 80);
    case "completed":
      return `attempt ${event.attempt}`;
    case "failed":
      return `attempt ${event.attempt}: ${truncate(event.error.message, 120)}`;
    case "retry":
      return `at ${formatTime(event.availableAt)}`;
    case "dead":
      return `${event.reason} after ${event.attempt} attempt${event.attempt === 1 ? "" : "s"}`;
    case "replayed":
      return "";
  }
}
