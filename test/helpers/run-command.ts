import { spawn } from "node:child_process";

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command (SIGTERM) if it is still running after this long: a bound, not a wait. */
  timeoutMs?: number;
}

/** Runs a command to completion and collects its output (never throws on a non-zero exit). */
export function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], cwd: options.cwd, env: options.env, timeout: options.timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs a command and throws, with its output, unless it exits 0. */
export async function mustRun(file: string, args: readonly string[], what: string, options: RunOptions = {}): Promise<CommandResult> {
  const result = await runCommand(file, args, options);
  if (result.code !== 0) {
    throw new Error(`${what} failed: \`${[file, ...args].join(" ")}\` exited ${result.code ?? result.signal}\n${result.stderr}${result.stdout}`);
  }
  return result;
}
