/**
 * The outside tools the black-box fault tests drive: strace, fiu-run / fiu-ctrl, mkfs.ext4 and
 * mount. `.ci/run` installs them; `requirements.ts` decides what a test does without them.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const EXTRA_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** The absolute path of `name`, searched in PATH (and the sbin directories), or undefined. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The absolute path of `name`; throws if absent (a test gated by `faultTest` only gets here when it is there). */
export function requireTool(name: string, purpose: string): string {
  const found = findTool(name);
  if (found !== undefined) return found;
  throw new Error(`test/faults needs \`${name}\` (${purpose}) and it is not installed (apt-get install -y strace fiu-utils e2fsprogs, as root).`);
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and collects its output (never throws on a non-zero exit). */
export function runCommand(file: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs a command and throws, with its output, unless it exits 0. */
export async function mustRun(file: string, args: readonly string[], what: string): Promise<CommandResult> {
  const result = await runCommand(file, args);
  if (result.code !== 0) {
    throw new Error(`${what} failed: \`${[file, ...args].join(" ")}\` exited ${result.code ?? result.signal}\n${result.stderr}${result.stdout}`);
  }
  return result;
}
