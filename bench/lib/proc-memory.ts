/**
 * Another process's peak resident set size, read from Linux's `/proc/<pid>/status` (`VmHWM`,
 * the kernel's own high-water mark, so no sample between two timer ticks is missed). Undefined
 * where there is no /proc (macOS, Windows) or the process is gone.
 */
import { readFileSync } from "node:fs";

export function peakRssOf(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}
