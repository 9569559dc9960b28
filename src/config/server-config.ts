/**
 * What `spool serve` reads from `spool.config.json`, `SPOOL_*` variables and flags. One schema
 * validates all three sources (after they are merged) and documents every key.
 */
import { Type, type Static } from "@sinclair/typebox";
import { HASH_PATTERN, SCOPES } from "../auth/api-keys.js";
import { HostCircuitOptionsSchema, JournalOptionsSchema, PostgresStoreOptionsSchema, QueueNameSchema, QueueOptionsSchema } from "./schemas.js";

const Int = (opts: { minimum?: number; maximum?: number; description?: string } = {}) => Type.Integer(opts);

export const ApiKeyConfigSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, description: "Who the key is for (shown in logs)" }),
    hash: Type.String({ pattern: HASH_PATTERN, description: "sha256:<hex> of the key, from `spool keys create`" }),
    scopes: Type.Array(Type.Union(SCOPES.map((scope) => Type.Literal(scope))), { minItems: 1, uniqueItems: true }),
    queues: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 1, description: "Queue-name globs (* = any characters)" })),
  },
  { additionalProperties: false },
);

/** The journal's settings: the same schema as the library's `journal` options (config/schemas.ts). */
export const JournalConfigSchema = JournalOptionsSchema;

/** Batch delivery (docs/batch-delivery.md): channel workers, webhook signing, real-time delivery. */
export const DeliveryConfigSchema = Type.Object(
  {
    webhookSecret: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: "Signs webhooks (X-Spool-Signature) of batches that bring no secret of their own" })),
    webhookTimeoutMs: Type.Optional(Int({ minimum: 1, maximum: 300_000, description: "Default per-request webhook timeout (default 10000)" })),
    concurrency: Type.Optional(
      Type.Object(
        {
          webhook: Type.Optional(Int({ minimum: 1, maximum: 10_000, description: "Webhook requests at once (default 32)" })),
          websocket: Type.Optional(Int({ minimum: 1, maximum: 10_000, description: "WebSocket hand-offs at once (default 32)" })),
          mock: Type.Optional(Int({ minimum: 1, maximum: 10_000, description: "Mock sends at once (default 256)" })),
        },
        { additionalProperties: false },
      ),
    ),
    circuitBreaker: Type.Optional(HostCircuitOptionsSchema),
    expandChunkSize: Type.Optional(Int({ minimum: 1, maximum: 10_000, description: "Recipients per publishMany of the batch expander (default 2000)" })),
    ackTimeoutMs: Type.Optional(Int({ minimum: 1, maximum: 3_600_000, description: "WebSocket: redeliver when no ack arrives within this long (default 30000)" })),
    tokenSecret: Type.Optional(Type.String({ minLength: 16, maxLength: 512, description: "WebSocket: signs recipient tokens (default: a random secret kept in <dataDir>/recipient-token-secret)" })),
    retentionMs: Type.Optional(
      Int({ minimum: 1, maximum: 10 * 366 * 86_400_000, description: "A complete batch (its log, template copy and idempotency key) is forgotten this long after it completed (default 604800000: 7 days)" }),
    ),
  },
  { additionalProperties: false },
);

/**
 * Which store `spool serve` opens: the embedded journal (in `dataDir`, with the `journal`
 * settings), or PostgreSQL at a connection URL (with the `postgres` settings). A password is best
 * left out of the URL and given as PGPASSWORD, which node-postgres reads.
 */
export const StoreConfigSchema = Type.String({
  pattern: "^(journal|postgres(ql)?://.+)$",
  description: "journal (the default: the embedded journal in dataDir) or postgres://user@host:port/database",
});

/** The PostgreSQL store's settings: the library's `postgresStore` options but the connection string, which is `store`. */
export const PostgresConfigSchema = Type.Omit(PostgresStoreOptionsSchema, ["connectionString"]);

/** What `store` names: the journal, or PostgreSQL at this URL. */
export function storeKind(store: string | undefined): "journal" | "postgres" {
  return store === undefined || store === "journal" ? "journal" : "postgres";
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export const ServerConfigSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1, description: "Address to bind; anything but loopback needs keys" })),
    port: Type.Optional(Int({ minimum: 0, maximum: 65_535 })),
    store: Type.Optional(StoreConfigSchema),
    dataDir: Type.Optional(Type.String({ minLength: 1, description: "Where the embedded journal keeps its files (and batch delivery its own, whatever the store)" })),
    journal: Type.Optional(JournalConfigSchema),
    postgres: Type.Optional(PostgresConfigSchema),
    bodyLimitBytes: Type.Optional(Int({ minimum: 1024, maximum: 1024 ** 3, description: "Largest request body" })),
    maxBodyBytes: Type.Optional(Int({ minimum: 1, maximum: 64 * 1024 ** 2, description: "Largest message body" })),
    keys: Type.Optional(Type.Array(ApiKeyConfigSchema)),
    queues: Type.Optional(Type.Record(QueueNameSchema, QueueOptionsSchema, { description: "Queues declared (or updated) at start" })),
    logLevel: Type.Optional(Type.Union(LOG_LEVELS.map((level) => Type.Literal(level)))),
    shutdownTimeoutMs: Type.Optional(Int({ minimum: 0, maximum: 3_600_000, description: "How long SIGTERM waits for in-flight requests" })),
    delivery: Type.Optional(DeliveryConfigSchema),
  },
  { additionalProperties: false },
);

export type ServerConfig = Static<typeof ServerConfigSchema>;
export type ApiKeyEntry = Static<typeof ApiKeyConfigSchema>;
export type DeliveryConfig = Static<typeof DeliveryConfigSchema>;

export const serverDefaults = {
  host: "127.0.0.1",
  port: 7400,
  dataDir: "./data",
  bodyLimitBytes: 32 * 1024 ** 2,
  logLevel: "info",
  shutdownTimeoutMs: 10_000,
} as const;

export type ResolvedServerConfig = ServerConfig & {
  host: string;
  port: number;
  dataDir: string;
  bodyLimitBytes: number;
  logLevel: (typeof LOG_LEVELS)[number];
  shutdownTimeoutMs: number;
};
