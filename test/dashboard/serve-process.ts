/**
 * `spool serve` as a child process (the CLI through tsx, as test/cli runs it) on a temp data
 * directory, with the API keys given written to its spool.config.json.
 */
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import { hashApiKey, type Scope } from "../../src/auth/api-keys.js";
import { spawnCli } from "../cli/cli-process.js";
import { pollUntil } from "../helpers/poll-until.js";
import { makeTempDir, removeTempDir } from "../helpers/temp-dir.js";

export interface ServeProcess {
  url: string;
  /** Calls the API with `key` (or none); throws on a non-2xx answer. */
  api<T = unknown>(method: string, route: string, body?: unknown, key?: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startServe(keys: Array<{ name: string; key: string; scopes: Scope[] }> = []): Promise<ServeProcess> {
  const dir = await makeTempDir("spool-dashboard-");
  const config = { keys: keys.map(({ name, key, scopes }) => ({ name, hash: hashApiKey(key), scopes })) };
  await writeFile(path.join(dir, "spool.config.json"), JSON.stringify(config));
  const child: ChildProcess = spawnCli(["serve", "--port", "0", "--data-dir", "data", "--log-level", "warn"], { cwd: dir });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = once(child, "exit");
  try {
    const url = await pollUntil(() => /listening on (http:\/\/\S+)/.exec(stderr)?.[1], { timeoutMs: 15_000, what: `spool serve to listen (stderr: ${stderr})` });
    return {
      url,
      async api<T>(method: string, route: string, body?: unknown, key?: string): Promise<T> {
        const headers: Record<string, string> = key === undefined ? {} : { authorization: `Bearer ${key}` };
        if (body !== undefined) headers["content-type"] = "application/json";
        const response = await fetch(url + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await response.text();
        if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
        return (text === "" ? undefined : JSON.parse(text)) as T;
      },
      async stop() {
        // A graceful stop, as in production; a server that does not stop in 10 s is killed, so no test leaves one behind.
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(killer);
        await removeTempDir(dir);
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    await removeTempDir(dir);
    throw error;
  }
}
