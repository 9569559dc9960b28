/**
 * Builds the Fastify application for `spool serve`: TypeBox validation, the error envelope,
 * API-key auth, the routes, /openapi.json and /docs. Listening and shutdown live in serve.ts,
 * so tests can build an app around any Spool and any store.
 */
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { ApiKeyRing } from "../auth/api-keys.js";
import { UnavailableError } from "../core/errors.js";
import type { DeliveryService } from "../delivery/delivery-service.js";
import type { Spool } from "../spool.js";
import { packageVersion } from "../util/package-version.js";
import { installAuth } from "./auth.js";
import { MAX_PATH_PARAM_LENGTH, handleFrameworkError, installErrorHandlers } from "./http-errors.js";
import { installJsonParser } from "./json-body.js";
import { answerUnmetExpectations, handleClientError, requireHostHeader } from "./socket-errors.js";
import { QueueRateTracker } from "./queue-rates.js";
import { adminRoutes } from "./routes/admin.js";
import { batchRoutes } from "./routes/batches.js";
import { eventRoutes } from "./routes/events.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { statsStreamRoutes } from "./routes/stats-stream.js";
import { whoamiRoutes } from "./routes/whoami.js";
import { templateRoutes } from "./routes/templates.js";
import { deadLetterRoutes } from "./routes/dead-letters.js";
import { exchangeRoutes } from "./routes/exchanges.js";
import { scheduleRoutes } from "./routes/schedules.js";
import { healthRoutes } from "./routes/health.js";
import { messageRoutes } from "./routes/messages.js";
import { queueRoutes } from "./routes/queues.js";
import { realtimeRoutes, type RealtimeDeps } from "./routes/realtime.js";
import type { ServerContext, ServerObserver } from "./server-context.js";
import { installBodyRules, typeboxValidatorCompiler } from "./validation.js";
import { serverDefaults } from "../config/server-config.js";

export interface AppOptions {
  spool: Spool;
  /** API keys; none (or an empty ring) = no auth, for a loopback-only server. */
  keys?: ApiKeyRing;
  /** Largest request body in bytes (default 32 MiB: a batch of 10,000 messages of ~3 KB). */
  bodyLimitBytes?: number;
  /** A pino logger, or Fastify's logger options; default: no logging. */
  logger?: FastifyServerOptions["loggerInstance"] | boolean;
  /** Metrics: rendered at GET /metrics (admin scope) and told of every request's duration. */
  metrics?: { contentType: string; render(): Promise<string> } & ServerObserver;
  /** Aborting it ends long-polls and fails readiness: the first step of a graceful shutdown. */
  shutdownSignal?: AbortSignal;
  /** Real-time delivery (recipient tokens, GET /v1/stream, delivered/read): its hub, message log and token signer. */
  realtime?: RealtimeDeps;
  /** Batch delivery (templates, batches, the message log, batch events on /v1/events); its routes are absent without it. */
  delivery?: DeliveryService;
  /** Where the built dashboard is (default: dist/dashboard of this checkout or package). */
  dashboardDir?: string;
}

export async function createApp(options: AppOptions): Promise<FastifyInstance> {
  const logger = options.logger;
  const app = Fastify({
    bodyLimit: options.bodyLimitBytes ?? serverDefaults.bodyLimitBytes,
    ...(typeof logger === "object" ? { loggerInstance: logger } : { logger: logger ?? false }),
    // Requests that arrive while closing get our own 503 envelope (below), not Fastify's.
    return503OnClosing: false,
    forceCloseConnections: "idle",
    // Two log lines per request would cost more than a batch publish itself at thousands of
    // requests a second; failures are logged where they are handled (http-errors.ts).
    logController: new LogController({ disableRequestLogging: true }),
    // Names are up to 200 characters: long ones are refused by their schema, which says why.
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    // A path that does not decode, or a parameter over that, gets the error envelope too.
    frameworkErrors: handleFrameworkError,
    // So do requests Node's parser refuses, and HTTP/1.1 requests without Host (checked below).
    clientErrorHandler: handleClientError,
    http: { requireHostHeader: false },
  });
  answerUnmetExpectations(app.server);
  app.setValidatorCompiler(typeboxValidatorCompiler);
  installBodyRules(app);
  // Bodies are JSON only: anything else is refused with 415 rather than read as a string.
  app.removeContentTypeParser("text/plain");
  installJsonParser(app);
  installErrorHandlers(app);
  requireHostHeader(app);
  installAuth(app, options.keys);

  const rates = new QueueRateTracker(options.spool);
  void rates.sample();
  app.addHook("onClose", async () => rates.close());
  const shutdownSignal = options.shutdownSignal;
  if (shutdownSignal) {
    app.addHook("onRequest", async () => {
      if (shutdownSignal.aborted) throw new UnavailableError("the server is shutting down");
    });
  }
  const context: ServerContext = { spool: options.spool, rates, shutdown: shutdownSignal ?? new AbortController().signal, observer: options.metrics };

  const metrics = options.metrics;
  if (metrics?.httpRequest) {
    const observe = metrics.httpRequest.bind(metrics);
    app.addHook("onResponse", async (request, reply) => {
      observe(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  await app.register(swagger, {
    openapi: {
      info: { title: "Spool", version: packageVersion(), description: "Durable message queue: publish, lease, ack. Errors: {error:{code,message,details}}." },
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
      security: [{ apiKey: [] }],
    },
  });
  // The docs page is public, like /openapi.json: every route the UI plugin adds needs no key.
  await app.register(async (docs) => {
    docs.addHook("onRoute", (route) => {
      route.config = { ...route.config, access: "none" };
    });
    await docs.register(swaggerUi, { routePrefix: "/docs", uiConfig: { docExpansion: "list" } });
  });

  healthRoutes(app, context);
  queueRoutes(app, context);
  messageRoutes(app, context);
  deadLetterRoutes(app, context);
  exchangeRoutes(app, context);
  scheduleRoutes(app, context);
  adminRoutes(app, context);
  whoamiRoutes(app);
  statsStreamRoutes(app, context);

  // ── batch delivery (docs/batch-delivery.md) ──
  const delivery = options.delivery;
  if (delivery) {
    templateRoutes(app, delivery);
    batchRoutes(app, delivery);
  }
  eventRoutes(app, context, delivery);
  // ── real-time delivery (routes/realtime.ts): only when the composition provides it ──
  const realtime = options.realtime ?? (delivery ? { hub: delivery.hub, log: delivery.log, tokens: delivery.tokens, sync: () => delivery.sync() } : undefined);
  if (realtime) await realtimeRoutes(app, realtime);

  app.get("/openapi.json", { schema: { hide: true }, config: { access: "none" } }, async () => app.swagger());
  await dashboardRoutes(app, options.dashboardDir);
  if (metrics) {
    // Every queue's numbers: for keys without queue globs.
    app.get("/metrics", { schema: { hide: true }, config: { access: "admin", unlimitedOnly: true } }, async (_request, reply) =>
      reply.type(metrics.contentType).send(await metrics.render()),
    );
  }

  await app.ready();
  return app;
}
