/** Every `spool` command, and how commander reports usage errors. */
import { Command } from "commander";
import { registerBatch } from "./commands/batch.js";
import { registerBench } from "./commands/bench.js";
import { registerDead } from "./commands/dead.js";
import { registerEvents } from "./commands/events.js";
import { registerKeys } from "./commands/keys.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerPublish } from "./commands/publish.js";
import { registerQueues } from "./commands/queues.js";
import { registerSchedules } from "./commands/schedules.js";
import { registerServe } from "./commands/serve.js";
import { packageVersion } from "../util/package-version.js";

export function buildProgram(): Command {
  const program = new Command("spool")
    .description("Spool: a durable message queue. Run a server, or talk to one over HTTP.")
    .version(packageVersion(), "-V, --version")
    // Set before the commands are added: `.command()` copies these settings to each of them.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`spool: ${text.replace(/^error: /, "")}`) })
    .showHelpAfterError("(add --help for usage)");
  registerServe(program);
  registerMigrate(program);
  registerPublish(program);
  registerQueues(program);
  registerDead(program);
  registerEvents(program);
  registerSchedules(program);
  registerKeys(program);
  registerBench(program);
  registerBatch(program);
  return program;
}
