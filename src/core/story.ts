/**
 * A message's story while it runs and after: its last reported progress, a short log, and the
 * handler's result. Pure rules shared by every store (the PostgreSQL store mirrors `appendLog`
 * in SQL as `append_log`): the bounds below, and how a log grows (oldest lines dropped).
 */

/** The bounds of a message's story. Progress and result are JSON text, measured in UTF-8 bytes. */
export const STORY_LIMITS = {
  /** Largest progress value (`ctx.progress`), as JSON. */
  maxProgressBytes: 4096,
  /** Largest handler result kept with the completed status, as JSON. */
  maxResultBytes: 65_536,
  /** Most log lines kept per message: a longer log drops its oldest lines. */
  maxLogLines: 50,
  /** Longest log line kept, in characters: a longer line is cut there (and ends in "…"). */
  maxLogLineChars: 1000,
  /** Most lines one report may add. */
  maxLogLinesPerReport: 50,
} as const;

/** One line of a message's log, stamped with the store's time when it was written. */
export interface MessageLogEntry {
  at: number;
  line: string;
}

/** A line as the log keeps it: cut at `maxLogLineChars`. */
export function boundLogLine(line: string): string {
  const max = STORY_LIMITS.maxLogLineChars;
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** The log after `lines` were written at `at`: the newest `maxLogLines` lines, oldest first. */
export function appendLog(log: readonly MessageLogEntry[] | undefined, lines: readonly string[], at: number): MessageLogEntry[] {
  const next = log ? [...log] : [];
  for (const line of lines) next.push({ at, line: boundLogLine(line) });
  const excess = next.length - STORY_LIMITS.maxLogLines;
  return excess > 0 ? next.slice(excess) : next;
}
