/**
 * The PostgreSQL the bench runs against (pg-boss and Spool's PostgreSQL store share it, so their
 * figures come from the same server): BENCH_PG_URL, else the first local default that accepts a
 * connection. Also: what PostgreSQL's own processes spent on the CPU, read from /proc, so a
 * scenario can say whether the database or the client was the bottleneck.
 */
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { describeError, redactUrl } from "./text.js";

export const DEFAULT_PG_URLS = ["postgres://postgres@127.0.0.1:5432/test", "postgres://root@127.0.0.1:5432/test"];

export function candidatePgUrls(): string[] {
  return process.env.BENCH_PG_URL ? [process.env.BENCH_PG_URL] : DEFAULT_PG_URLS;
}

let resolved: Promise<string> | undefined;

/** The first candidate URL that accepts a connection; rejects with every failure when none does. */
export function resolvePgUrl(): Promise<string> {
  resolved ??= (async () => {
    const failures: string[] = [];
    for (const url of candidatePgUrls()) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
      try {
        await client.connect();
        return url;
      } catch (error) {
        failures.push(`${describeError(error)} (${redactUrl(url)})`);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    resolved = undefined;
    throw new Error(failures.join("; "));
  })();
  return resolved;
}

/** Runs one statement on a short-lived connection. */
export async function pgQuery<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** "PostgreSQL 15.2 (fsync on, synchronous_commit on, shared_buffers 128MB)" */
export async function describePg(url: string): Promise<string> {
  const [row] = await pgQuery<{ v: string; f: string; s: string; b: string }>(
    url,
    "SELECT current_setting('server_version') AS v, current_setting('fsync') AS f, current_setting('synchronous_commit') AS s, current_setting('shared_buffers') AS b",
  );
  return `PostgreSQL ${row.v.split(" ")[0]} at ${redactUrl(url)} (fsync ${row.f}, synchronous_commit ${row.s}, shared_buffers ${row.b})`;
}

/** Bytes of every table and index in `schema`. */
export async function schemaBytes(url: string, schema: string): Promise<number> {
  const [row] = await pgQuery<{ bytes: string }>(
    url,
    `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r'`,
    [schema],
  );
  return Number(row.bytes);
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * CPU time (ms) each process named `postgres` on this machine has used so far (server, backends,
 * WAL writer, checkpointer), by pid. Linux only (undefined elsewhere, or when /proc is not
 * readable); a server on another machine reads as empty.
 */
export function postgresCpuMs(): Map<number, number> | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  const byPid = new Map<number, number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    if (stat.slice(open + 1, close) !== "postgres") continue;
    const fields = stat.slice(close + 2).split(" ");
    // After "(comm) ": state is field 3, utime 14 and stime 15 (1-based over the whole line).
    byPid.set(Number(entry), ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND);
  }
  return byPid;
}

/**
 * What the processes of `after` used since `before` (a process started meanwhile counts from 0;
 * one that exited meanwhile, e.g. another client's backend, is left out, not counted negative).
 */
export function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let ms = 0;
  for (const [pid, used] of after) ms += used - (before.get(pid) ?? 0);
  return ms;
}

/** CPU time (ms) the whole machine has spent busy so far (all cores), from /proc/stat. */
export function machineBusyMs(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return ((user + nice + system + irq + softirq + steal) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}
