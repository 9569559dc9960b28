/** `spool keys create`: a new API key, shown once, and the hashed entry for spool.config.json. */
import type { Command } from "commander";
import { generateApiKey, hashApiKey, SCOPES } from "../../auth/api-keys.js";
import { ApiKeyConfigSchema, type ApiKeyEntry } from "../../config/server-config.js";
import { validate } from "../../config/validate.js";
import { choiceCollector, collect } from "../options.js";
import { printJson, printLine, printNote } from "../output.js";

interface CreateFlags {
  name: string;
  scope: string[];
  queue?: string[];
  json?: boolean;
}

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("API keys for spool serve");
  keys
    .command("create")
    .description("make a new API key; the server keeps only its hash")
    .requiredOption("--name <name>", "who the key is for (shown in logs)")
    .requiredOption("--scope <scope>", `${SCOPES.join(" | ")} (repeatable)`, choiceCollector(SCOPES))
    .option("--queue <glob>", "queues the key may reach, * = any characters (repeatable; default every queue)", collect)
    .option("--json", "print {key, entry} as JSON")
    .addHelpText("after", "\nThe key is printed once; only its hash goes into the config, so it cannot be shown again.")
    .action((flags: CreateFlags) => {
      const key = generateApiKey();
      const entry: ApiKeyEntry = validate(
        ApiKeyConfigSchema,
        {
          name: flags.name,
          hash: hashApiKey(key),
          scopes: [...new Set(flags.scope)],
          ...(flags.queue === undefined ? {} : { queues: flags.queue }),
        },
        "the new key",
      );
      if (flags.json) return printJson({ key, entry });
      printLine(key);
      printNote(`\nThat is the key for "${flags.name}": store it now, it is not shown again. Send it as "Authorization: Bearer <key>".`);
      printNote(`Add this entry to the "keys" array in spool.config.json, then restart spool serve:\n`);
      printLine(JSON.stringify(entry, null, 2));
    });
}
