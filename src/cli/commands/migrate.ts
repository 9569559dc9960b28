/**
 * `spool migrate`: create or upgrade the PostgreSQL store's schema and print its version. The
 * store and schema come from the same places as `spool serve`'s (the config file < SPOOL_STORE,
 * SPOOL_SCHEMA < --store, --schema), so one configuration serves both.
 */
import type { Command } from "commander";
import { loadServerConfig, SERVER_SETTINGS, type ServerConfigFlags } from "../../config/load-server-config.js";
import { storeKind } from "../../config/server-config.js";
import { ValidationError } from "../../core/errors.js";
import { addJsonOption } from "../options.js";
import { printJson, printLine, printNote } from "../output.js";

const MIGRATE_SETTINGS = SERVER_SETTINGS.filter((setting) => setting.option === "store" || setting.option === "schema");

export function registerMigrate(program: Command): void {
  const command = program
    .command("migrate")
    .description("create or upgrade the PostgreSQL store's schema, then print its version (safe to run from many places at once)")
    .option("--config <path>", "config file (default ./spool.config.json if present; env SPOOL_CONFIG)");
  for (const setting of MIGRATE_SETTINGS) command.option(`${setting.flag} ${setting.placeholder}`, `${setting.description} (env ${setting.env})`);
  addJsonOption(command, "print {schema, version, applied} as JSON");
  command.action(async (options: Pick<ServerConfigFlags, "store" | "schema"> & { config?: string; json?: boolean }) => {
    const { config: configPath, json, ...flags } = options;
    const config = loadServerConfig({ configPath, env: process.env, flags, cwd: process.cwd() });
    if (config.store === undefined || storeKind(config.store) !== "postgres") {
      throw new ValidationError("no PostgreSQL store named: give --store postgres://user@host:port/database (or SPOOL_STORE, or store in the config file); the embedded journal needs no migration", [
        { path: "/store", message: "expected a postgres:// URL" },
      ]);
    }
    // Loaded only here: the other commands do not pay for node-postgres.
    const { migratePostgresSchema } = await import("../../index.js");
    const { schema, connectTimeoutMs } = config.postgres ?? {};
    const result = await migratePostgresSchema({ connectionString: config.store, schema, connectTimeoutMs });
    if (result.version > result.latest) printNote(`note: schema "${result.schema}" is at version ${result.version}, newer than this Spool's ${result.latest}: upgrade Spool`);
    if (json) return printJson({ schema: result.schema, version: result.version, applied: result.applied });
    if (result.applied.length === 0) printLine(`schema "${result.schema}" is at version ${result.version}: nothing to do`);
    else printLine(`schema "${result.schema}" migrated to version ${result.version} (applied ${result.applied.join(", ")})`);
  });
}
