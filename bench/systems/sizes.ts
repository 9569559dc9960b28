/**
 * How many messages wait in the queue for the backlog scenario's large run. BENCH_BACKLOG sets
 * Spool's (default 1,000,000, the size DESIGN.md §5 names); slow peers fill at most 100,000, as
 * filling a million through them takes minutes (the figure prints its size).
 */
function countFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isInteger(value) || value < 1_000) throw new Error(`${name} must be an integer >= 1000, got "${text}"`);
  return value;
}

export const SPOOL_BACKLOG = countFromEnv("BENCH_BACKLOG", 1_000_000);
export const PEER_BACKLOG = Math.min(SPOOL_BACKLOG, 100_000);
