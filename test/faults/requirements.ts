/**
 * What a fault test needs from the machine (outside tools, root), and what of it this machine
 * lacks. Free of vitest's runtime, so the reporter can import it too.
 */
import fs from "node:fs";
import { findTool } from "./tools.js";

export const REQUIRE_ENV = "SPOOL_REQUIRE_FAULT_TOOLS";

/** The Debian package that ships each tool the fault tests drive. */
const PACKAGE_OF: Readonly<Record<string, string>> = {
  strace: "strace",
  "fiu-run": "fiu-utils",
  "fiu-ctrl": "fiu-utils",
  "mkfs.ext4": "e2fsprogs",
  mount: "mount",
  umount: "mount",
  pg_ctlcluster: "postgresql-common",
};

export interface Needs {
  /** Executables looked up in PATH and the sbin directories. */
  tools: readonly string[];
  /** Why the test needs root, when it does (e.g. it mounts a file system). */
  root?: string;
}

/** What a skipped fault test was missing; reporters read it from the test's meta. */
export interface MissingNeeds {
  missing: string[];
  /** The Debian packages that provide the missing tools. */
  packages: string[];
  /** The test must run as root, and does not. */
  root: boolean;
}

declare module "vitest" {
  interface TaskMeta {
    missingFaultNeeds?: MissingNeeds;
  }
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** `strace -p` on a process that is not its own child: blocked for non-root when Yama's ptrace_scope is 1 or more. */
function ptraceRestricted(): boolean {
  try {
    return Number(fs.readFileSync("/proc/sys/kernel/yama/ptrace_scope", "utf8").trim()) >= 1;
  } catch {
    return false; // no Yama: same-user tracing is allowed
  }
}

/** What of `needs` this machine lacks; empty when the test can run. */
export function missingNeeds(needs: Needs): MissingNeeds {
  const absent = needs.tools.filter((tool) => findTool(tool) === undefined);
  const missing = absent.map((tool) => `${tool} (Debian package ${PACKAGE_OF[tool] ?? "unknown"})`);
  const packages = [...new Set(absent.map((tool) => PACKAGE_OF[tool] ?? tool))];
  let root = false;
  if (!isRoot()) {
    if (needs.root !== undefined) missing.push(`root: ${needs.root}`);
    else if (needs.tools.includes("strace") && ptraceRestricted()) missing.push("root: strace attaches to a running server (kernel.yama.ptrace_scope >= 1)");
    root = missing.length > absent.length;
  }
  return { missing, packages, root };
}

/** What to do so that tests missing `needs` run: `apt-get install -y … (as root), then run npm test as root`. */
export function remedyFor(needs: ReadonlyArray<Pick<MissingNeeds, "packages" | "root">>): string {
  const packages = [...new Set(needs.flatMap((need) => need.packages))];
  const root = needs.some((need) => need.root);
  const install = packages.length > 0 ? `apt-get install -y ${packages.join(" ")} (as root), then ` : "";
  return `${install}run npm test ${root ? "as root" : "again"}`;
}
