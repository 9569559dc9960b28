/**
 * Runs the real `spool` CLI (src/cli/main.ts through tsx's loader) as a child process, the way a
 * person or a script would, and collects its exit code and output.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
// An absolute loader URL, so the child may run in any directory.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to stdin (which is closed after it); default: stdin closed at once. */
  input?: string;
  /** Added to an environment without the caller's SPOOL_* variables. */
  env?: Record<string, string>;
  cwd?: string;
}

export function spawnCli(args: readonly string[], options: CliOptions = {}): ChildProcess {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("SPOOL_")) env[name] = value;
  const child = spawn(process.execPath, ["--import", TSX_LOADER, CLI, ...args], {
    cwd: options.cwd,
    env: { ...env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin?.end(options.input);
  return child;
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
