/** Option parsers and the options several commands share. */
import { InvalidArgumentError, Option, type Command } from "commander";

const DEFAULT_URL = "http://127.0.0.1:7400";

/** Strict: "12abc" and "1e3" are typos, not 12 and 1000. */
export function integerArg(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    const number = Number(value);
    if (number < min || number > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return number;
  };
}

/** For repeatable options: `--queue a --queue b` → ["a", "b"]. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--header k=v` (repeatable) → { k: "v" }; the value may contain "=". */
export function headerArg(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const at = value.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError("expected name=value");
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/** One of `choices`, repeatable: `--scope publish --scope admin`. */
export function choiceCollector(choices: readonly string[]): (value: string, previous: string[] | undefined) => string[] {
  return (value, previous) => {
    if (!choices.includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(", ")}`);
    return [...(previous ?? []), value];
  };
}

export interface RemoteOptions {
  url: string;
  key?: string;
}

/** `--url` and `--key`, for every command that talks to a server. */
export function addRemoteOptions(command: Command): Command {
  return command
    .addOption(new Option("--url <url>", "the Spool server").env("SPOOL_URL").default(DEFAULT_URL))
    .addOption(new Option("--key <key>", "API key (sent as Authorization: Bearer)").env("SPOOL_API_KEY"));
}

export function addJsonOption(command: Command, what = "print the result as JSON"): Command {
  return command.option("--json", what);
}
