/**
 * An HTTP server in a child process (`spool serve`, or the baseline's), so the load generator and
 * the server do not share one event loop (or one core). The child listens on a free port and says
 * "listening on <url>" on stderr; `stop()` sends SIGTERM and waits for the exit (SIGKILL if it
 * does not come).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The `spool` CLI, run from source as `npm run bench` runs. */
export const SPOOL_CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const STOP_TIMEOUT_MS = 15_000;

export interface ServerChild {
  url: string;
  pid: number;
  /** Graceful stop; resolves with the exit code (or signal name). Idempotent. */
  stop(): Promise<number | string>;
}

/** Runs `script` (TypeScript or JavaScript) with `args` and waits until it listens. */
export async function startServerChild(script: string, args: readonly string[], { timeoutMs = 30_000 } = {}): Promise<ServerChild> {
  // process.execArgv carries tsx's loader flags, so the child runs TypeScript as we do.
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "?")));
  // Never leave a server behind if the bench dies first.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  try {
    const url = await listeningUrl(child, exited, timeoutMs);
    let stopping: Promise<number | string> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        const result = await exited;
        clearTimeout(timer);
        process.removeListener("exit", killOnExit);
        return result;
      })());
    return { url, pid: child.pid ?? -1, stop };
  } catch (error) {
    child.kill("SIGKILL");
    process.removeListener("exit", killOnExit);
    throw error;
  }
}

/** Reads stderr until "listening on <url>"; fails with what the child said if it exits first. */
function listeningUrl(child: ChildProcess, exited: Promise<number | string>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let said = "";
    const timer = setTimeout(() => reject(new Error(`the server did not start within ${timeoutMs} ms: ${said.trim()}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      said += chunk.toString("utf8");
      const match = /listening on (http:\/\/\S+)/.exec(said);
      if (match) {
        clearTimeout(timer);
        // Keep draining stderr, so a chatty server never blocks on a full pipe.
        child.stderr?.removeListener("data", onData);
        child.stderr?.resume();
        resolve(match[1]);
      }
    };
    child.stderr?.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening: ${said.trim()}`));
    });
  });
}
