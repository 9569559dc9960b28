/** `spool/server`: `spool serve` as a function, with its configuration loader (docs/configuration.md). Kept off `spool` so the library alone never loads Fastify. */
export {
  loadServerConfig,
  SERVER_SETTINGS,
  type LoadServerConfigOptions,
  type ServerConfigFlags,
  type ServerSetting,
} from "../config/load-server-config.js";
export { ServerConfigSchema, type ApiKeyEntry, type ResolvedServerConfig, type ServerConfig } from "../config/server-config.js";
export { installShutdownSignals, startServer, type RunningServer, type StartOptions } from "../server/serve.js";
