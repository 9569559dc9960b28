/**
 * The outside tools the black-box fault tests drive: strace, fiu-run / fiu-ctrl, mkfs.ext4 and
 * mount. `.ci/run` installs them; `requirements.ts` decides what a test does without them.
 */
import fs from "node:fs";
import path from "node:path";

export { mustRun, runCommand, type CommandResult } from "../helpers/run-command.js";

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
