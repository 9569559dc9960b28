/**
 * A Spool server on the PostgreSQL store, run as a child process (`node --import tsx`) so a test
 * can SIGKILL it. argv[2] is a JSON `PgHostSpec`. Modes:
 *   serve      `startServer` with `store: <url>` and `postgres.schema` (what `spool serve --store` runs);
 *   http-only  the same HTTP API and real-time hub with no delivery workers: it never runs a
 *              delivery job, so whatever it pushes was handed over by another process.
 * It tells the parent over IPC `{ t: "ready", url, pid, owner }` (owner: its delivery storage's
 * name in expansion claims), and closes gracefully on SIGTERM.
 */
import os from "node:os";
import path from "node:path";
import { ApiKeyRing } from "../../../src/auth/api-keys.js";
import type { ResolvedServerConfig } from "../../../src/config/server-config.js";
import { DeliveryService } from "../../../src/delivery/delivery-service.js";
import { PostgresDeliveryStorage } from "../../../src/delivery/storage/postgres-storage.js";
import { createApp } from "../../../src/server/app.js";
import { startServer } from "../../../src/server/serve.js";
import { Spool } from "../../../src/spool.js";
import { postgresStore } from "../../../src/store/postgres/postgres-store.js";
import { serverConfig } from "../delivery-server.js";

export interface PgHostSpec {
  mode: "serve" | "http-only";
  connectionString: string;
  schema: string;
  config?: Partial<ResolvedServerConfig>;
}

export type PgHostMessage = { t: "ready"; url: string; pid: number; owner: string } | { t: "error"; message: string };

const spec = JSON.parse(process.argv[2]) as PgHostSpec;

function ownerOf(delivery: DeliveryService): string {
  return delivery.store instanceof PostgresDeliveryStorage ? delivery.store.owner : "";
}

async function main(): Promise<void> {
  let close: () => Promise<void>;
  if (spec.mode === "serve") {
    // The Spool and batch delivery live in the database: nothing is written to the data directory.
    const dataDir = path.join(os.tmpdir(), "spool-pg-host-unused");
    const config = { ...serverConfig(dataDir, spec.config ?? {}), store: spec.connectionString, postgres: { schema: spec.schema } };
    const running = await startServer(config, { metrics: false });
    close = running.close;
    process.send?.({ t: "ready", url: running.url, pid: process.pid, owner: ownerOf(running.delivery) } satisfies PgHostMessage);
  } else {
    const spool = await Spool.open({ store: postgresStore({ connectionString: spec.connectionString, schema: spec.schema }) });
    const delivery = await DeliveryService.open({ spool, workers: false });
    const app = await createApp({ spool, delivery, keys: new ApiKeyRing([]) });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    close = async () => {
      await app.close();
      await delivery.close();
      await spool.close();
    };
    process.send?.({ t: "ready", url: `http://127.0.0.1:${port}`, pid: process.pid, owner: ownerOf(delivery) } satisfies PgHostMessage);
  }
  process.once("SIGTERM", () => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((error: unknown) => {
  process.send?.({ t: "error", message: String((error as Error)?.stack ?? error) } satisfies PgHostMessage);
  process.exit(1);
});
