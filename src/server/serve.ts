/**
 * `spool serve`: open the store, build the app, listen, and shut down in order —
 * stop accepting, end long-polls, let in-flight requests finish, close the store cleanly.
 */
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { ApiKeyRing } from "../auth/api-keys.js";
import { storeKind, type ResolvedServerConfig } from "../config/server-config.js";
import { defaults } from "../config/defaults.js";
import { SpoolError } from "../core/errors.js";
import { DeliveryService } from "../delivery/delivery-service.js";
import { SpoolMetrics } from "../metrics/metrics.js";
import { logWorkerEvents } from "./worker-logs.js";
import { Spool, type SpoolOptions } from "../spool.js";
import { postgresStore } from "../store/postgres/postgres-store.js";
import { createApp, type AppOptions } from "./app.js";
import { serverLogger } from "./logger.js";

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly app: FastifyInstance;
  readonly spool: Spool;
  /** Batch delivery: opened after the Spool, closed before it. */
  readonly delivery: DeliveryService;
  readonly logger: Logger;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface StartOptions {
  logger?: Logger;
  /** Metrics for /metrics (default: `SpoolMetrics` over the server's Spool); `false` for none. */
  metrics?: false | ((spool: Spool) => NonNullable<AppOptions["metrics"]> & { close?(): void });
}

export async function startServer(config: ResolvedServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? (await serverLogger({ level: config.logLevel }));
  const keys = new ApiKeyRing(config.keys ?? []);
  if (keys.size === 0 && !isLoopback(config.host)) {
    throw new SpoolError(
      "forbidden",
      `refusing to listen on ${config.host} without API keys: add keys (spool keys create) or bind 127.0.0.1`,
    );
  }
  const spool = await Spool.open({
    ...storeOptions(config, logger),
    ...(config.maxBodyBytes === undefined ? {} : { maxBodyBytes: config.maxBodyBytes }),
  });
  const shutdown = new AbortController();
  logWorkerEvents(spool, logger.child({ component: "workers" }));
  const metrics = options.metrics === false ? undefined : (options.metrics ?? defaultMetrics)(spool);
  let app: FastifyInstance | undefined;
  let delivery: DeliveryService | undefined;
  try {
    for (const [name, queueOptions] of Object.entries(config.queues ?? {})) await spool.queue(name).setOptions(queueOptions);
    delivery = await openDelivery(spool, config, logger);
    app = await createApp({
      spool,
      delivery,
      keys,
      bodyLimitBytes: config.bodyLimitBytes,
      logger: logger.child({ component: "http" }),
      metrics,
      shutdownSignal: shutdown.signal,
    });
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app?.close().catch(() => undefined);
    await delivery?.close().catch(() => undefined);
    await spool.close().catch(() => undefined);
    throw error;
  }
  const openedDelivery = delivery;
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  const store = storeKind(config.store) === "journal" ? { dataDir: config.dataDir, fsync: config.journal?.fsync ?? "always" } : { store: describeStore(config) };
  logger.info({ url, ...store, keys: keys.size }, "spool serving");
  if (keys.size === 0) logger.warn("no API keys configured: listening on loopback only, every request is allowed");

  const listening = app;
  let closing: Promise<void> | undefined;
  const close = async () => {
    shutdown.abort();
    const finished = listening.close(); // stops accepting; waits for in-flight requests
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), config.shutdownTimeoutMs)));
    if ((await Promise.race([finished, timedOut])) === "timeout") {
      logger.warn({ timeoutMs: config.shutdownTimeoutMs }, "requests still running at the shutdown deadline: closing their connections");
      listening.server.closeAllConnections();
      await finished;
    }
    clearTimeout(timer);
    await openedDelivery.close().catch((error: unknown) => logger.error({ err: error }, "closing batch delivery failed"));
    try {
      await spool.close();
    } finally {
      metrics?.close?.();
    }
    logger.info("spool stopped");
  };
  return { url, app: listening, spool, delivery: openedDelivery, logger, close: () => (closing ??= close()) };
}

/** The store the configuration names: the embedded journal (the default), or PostgreSQL. */
function storeOptions(config: ResolvedServerConfig, logger: Logger): Pick<SpoolOptions, "store" | "dataDir" | "journal"> {
  if (config.store !== undefined && storeKind(config.store) === "postgres") {
    return { store: postgresStore({ ...config.postgres, connectionString: config.store }) };
  }
  return {
    dataDir: config.dataDir,
    journal: {
      ...config.journal,
      onWarning: (warning) => logger.warn({ warning }, "journal recovery"),
      onFault: (error, during) => logger.error({ err: error, during }, "journal background work failed"),
    },
  };
}

/**
 * The store in words, for the start-up line and log: `data in ./data, fsync always`, or
 * `store postgres://spool:***@db:5432/app, schema spool` (a password in the URL is never shown).
 */
export function describeStore(config: ResolvedServerConfig): string {
  if (config.store === undefined || storeKind(config.store) === "journal") return `data in ${config.dataDir}, fsync ${config.journal?.fsync ?? "always"}`;
  let shown = config.store;
  try {
    const url = new URL(config.store);
    if (url.password !== "") url.password = "***";
    shown = url.toString();
  } catch {
    shown = config.store.replace(/:[^:@/]*@/, ":***@");
  }
  return `store ${shown}, schema ${config.postgres?.schema ?? defaults.postgres.schema}`;
}

function defaultMetrics(spool: Spool): SpoolMetrics {
  return new SpoolMetrics(spool);
}

function openDelivery(spool: Spool, config: ResolvedServerConfig, logger: Logger): Promise<DeliveryService> {
  const settings = config.delivery ?? {};
  return DeliveryService.open({
    spool,
    dataDir: config.dataDir,
    ...(config.journal?.fsync === undefined ? {} : { fsync: config.journal.fsync }),
    concurrency: settings.concurrency,
    webhookSecret: settings.webhookSecret,
    webhookTimeoutMs: settings.webhookTimeoutMs,
    circuitBreaker: settings.circuitBreaker,
    expandChunkSize: settings.expandChunkSize,
    ackTimeoutMs: settings.ackTimeoutMs,
    retentionMs: settings.retentionMs,
    tokenSecret: settings.tokenSecret,
    logger: logger.child({ component: "delivery" }),
  });
}

/** SIGTERM / SIGINT: shut down gracefully, then exit; a second signal exits at once. */
export function installShutdownSignals(server: RunningServer): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      server.logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    server.logger.info({ signal }, "shutting down");
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
