/**
 * One transaction on one pooled connection: BEGIN, the caller's statements, COMMIT; a throw rolls
 * back and rethrows, and a connection that was lost is dropped from the pool rather than reused.
 * The queue store and batch delivery's storage both run their multi-statement writes through it.
 */
import type pg from "pg";
import { isConnectionFailure } from "./pg-errors.js";

export async function inTransaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await body(client);
    await client.query("COMMIT");
    client.release();
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    client.release(isConnectionFailure(error) ? (error as Error) : undefined);
    throw error;
  }
}
