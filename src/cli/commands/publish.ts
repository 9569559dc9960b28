/** `spool publish <queue> [json-body]`: one message, its body from the argument or stdin. */
import type { Command } from "commander";
import type { PublishOptions } from "../../config/schemas.js";
import { addJsonOption, addRemoteOptions, headerArg, integerArg, type RemoteOptions } from "../options.js";
import { printJson, printLine, printNote } from "../output.js";
import { withClient } from "../remote.js";

interface PublishFlags extends RemoteOptions {
  priority?: number;
  delayMs?: number;
  ttlMs?: number;
  maxAttempts?: number;
  dedupKey?: string;
  idempotencyKey?: string;
  groupKey?: string;
  header?: Record<string, string>;
  json?: boolean;
}

export function registerPublish(program: Command): void {
  const command = program
    .command("publish")
    .description("publish one message; prints its id")
    .argument("<queue>", "queue name (created with default options if new)")
    .argument("[json-body]", "the body as JSON; read from stdin when left out")
    .option("--priority <0-9>", "higher first", integerArg(0, 9))
    .option("--delay-ms <ms>", "ready only after this long", integerArg(0))
    .option("--ttl-ms <ms>", "dead-letter (expired) if not delivered in time", integerArg(1))
    .option("--max-attempts <n>", "deliveries before it goes dead", integerArg(1))
    .option("--dedup-key <key>", "replace a waiting message with the same key")
    .option("--idempotency-key <key>", "publish nothing if this key was seen within the window")
    .option("--group-key <key>", "deliver one at a time, in order, within the group")
    .option("--header <name=value>", "a header (repeatable)", headerArg)
    .addHelpText("after", `\nExamples:\n  spool publish emails '{"to":"a@example.com"}' --priority 5\n  echo '{"to":"b@example.com"}' | spool publish emails --header tenant=acme`);
  addRemoteOptions(command);
  addJsonOption(command, "print {id, replaced, duplicate}");
  command.action(async (queue: string, bodyText: string | undefined, flags: PublishFlags, self: Command) => {
    const text = bodyText ?? (await readStdin(self));
    const body = parseBody(text, bodyText === undefined ? "stdin" : "the json-body argument", self);
    const result = await withClient(flags, (client) => client.publish(queue, body, publishOptions(flags)));
    if (flags.json) return printJson(result);
    printLine(result.id);
    if (result.duplicate) printNote("duplicate: this idempotency key was already published; nothing new was enqueued");
    if (result.replaced) printNote("replaced: a waiting message with this dedup key took the new body (same id)");
  });
}

function publishOptions(flags: PublishFlags): PublishOptions {
  const options: PublishOptions = {};
  if (flags.priority !== undefined) options.priority = flags.priority;
  if (flags.delayMs !== undefined) options.delayMs = flags.delayMs;
  if (flags.ttlMs !== undefined) options.ttlMs = flags.ttlMs;
  if (flags.maxAttempts !== undefined) options.maxAttempts = flags.maxAttempts;
  if (flags.dedupKey !== undefined) options.dedupKey = flags.dedupKey;
  if (flags.idempotencyKey !== undefined) options.idempotencyKey = flags.idempotencyKey;
  if (flags.groupKey !== undefined) options.groupKey = flags.groupKey;
  if (flags.header !== undefined) options.headers = flags.header;
  return options;
}

async function readStdin(command: Command): Promise<string> {
  if (process.stdin.isTTY) command.error("give the body as an argument, or pipe it on stdin", { exitCode: 2, code: "spool.usage" });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseBody(text: string, from: string, command: Command): unknown {
  if (text.trim() === "") command.error(`the body from ${from} is empty: expected JSON`, { exitCode: 2, code: "spool.usage" });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // A bare word was probably meant as a string: say how to send one.
    const hint = /^[^{["\d-]/.test(text.trim()) ? ` (a string body needs quotes: '"${text.trim().slice(0, 20)}"')` : "";
    return command.error(`the body from ${from} is not valid JSON: ${(error as Error).message}${hint}`, { exitCode: 2, code: "spool.usage" });
  }
}
