/** `spool serve`: load the configuration, start the HTTP server, stop cleanly on SIGTERM/SIGINT. */
import type { Command } from "commander";
import { loadServerConfig, SERVER_SETTINGS, type ServerConfigFlags } from "../../config/load-server-config.js";

export function registerServe(program: Command): void {
  const command = program
    .command("serve")
    .description("run the HTTP server; settings come from spool.config.json < SPOOL_* variables < these flags")
    .option("--config <path>", "config file (default ./spool.config.json if present; env SPOOL_CONFIG)");
  for (const setting of SERVER_SETTINGS) {
    // Raw strings: the loader parses them, so an error names the flag as typed.
    command.option(`${setting.flag} ${setting.placeholder}`, `${setting.description} (env ${setting.env})`);
  }
  command.action(async (options: ServerConfigFlags & { config?: string }) => {
    const { config: configPath, ...flags } = options;
    const config = loadServerConfig({ configPath, env: process.env, flags, cwd: process.cwd() });
    // Loaded only here: the other commands do not pay for Fastify's start-up.
    const { startServer, installShutdownSignals, describeStore } = await import("../../server/serve.js");
    const server = await startServer(config);
    installShutdownSignals(server);
    // For people and for whoever started us with --port 0; stdout carries the logs.
    process.stderr.write(`spool: listening on ${server.url} (${describeStore(config)})\n`);
  });
}
