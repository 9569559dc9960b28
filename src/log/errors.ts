/**
 * Journal failures as `SpoolError`s. A broken disk or a corrupt log is `unavailable` (503): the
 * data directory cannot serve writes until the medium or the operator fixes it.
 */
import { SpoolError, UnavailableError } from "../core/errors.js";
import { errorCode } from "./journal-fs.js";

/**
 * The log cannot be read back without dropping data that may have been acknowledged: a bad
 * record followed by good ones, a bad record in a segment that is not the last, a missing
 * segment, or a snapshot that does not match the log. `readLog({ repair: true })` truncates there.
 */
export class JournalCorruptError extends SpoolError {
  readonly file: string;
  readonly offset: number;

  constructor(message: string, file: string, offset: number) {
    super("unavailable", message, { details: [{ path: file, message: `offset ${offset}` }] });
    this.name = "JournalCorruptError";
    this.file = file;
    this.offset = offset;
  }
}

/** Wraps a file-system error with what the journal was doing and on which file. */
export function fsFailure(doing: string, file: string, cause: unknown): UnavailableError {
  const code = errorCode(cause);
  const reason = code ?? (cause instanceof Error ? cause.message : String(cause));
  return new UnavailableError(`journal: ${doing} ${file} failed (${reason})`, cause);
}
