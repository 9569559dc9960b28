/**
 * Starts `pg-host.ts` children (Spool servers on one PostgreSQL schema) and stops them: SIGTERM
 * for a graceful close, SIGKILL for a crash. Only the processes started here are ever signalled.
 */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PgHostMessage, PgHostSpec } from "./pg-host.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../../..");
const HOST = path.join(HERE, "pg-host.ts");

export interface PgHost {
  readonly child: ChildProcess;
  readonly url: string;
  readonly pid: number;
  /** Its name in expansion claims (`delivery_expansions.owner`). */
  readonly owner: string;
  readonly stderr: () => string;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
}

const started = new Set<ChildProcess>();

export async function startPgHost(spec: PgHostSpec): Promise<PgHost> {
  const child = fork(HOST, [JSON.stringify(spec)], { cwd: REPO, execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "pipe", "ipc"] });
  started.add(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => started.delete(child));
  const ready = await new Promise<Extract<PgHostMessage, { t: "ready" }>>((resolve, reject) => {
    child.on("message", (message: PgHostMessage) => {
      if (message.t === "ready") resolve(message);
      else reject(new Error(`pg host failed: ${message.message}`));
    });
    void exited.then(() => reject(new Error(`pg host ${child.pid} exited before it was ready; stderr:\n${stderr}`)));
  });
  return { child, url: ready.url, pid: ready.pid, owner: ready.owner, stderr: () => stderr, exited };
}

/** SIGKILL: the process dies mid-whatever, as in a crash. */
export async function killPgHost(host: PgHost): Promise<void> {
  if (host.child.exitCode === null && host.child.signalCode === null) host.child.kill("SIGKILL");
  await host.exited;
}

/** Graceful stop of every host still running (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopPgHosts(graceMs = 10_000): Promise<void> {
  await Promise.all(
    [...started].map(async (child) => {
      const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}
