/**
 * Parses the arguments, runs the command, and turns what went wrong into one line on stderr
 * and an exit code: 0 done, 1 the command failed, 2 it was called wrongly (as commander's own
 * usage errors). Expected failures never print a stack trace.
 */
import { CommanderError } from "commander";
import { SpoolError } from "../core/errors.js";
import { buildProgram } from "./program.js";

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT_OK;
  } catch (error) {
    // Commander has already printed its message (see program.ts), and help exits 0.
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    process.stderr.write(`${describeFailure(error)}\n`);
    return EXIT_FAILED;
  }
}

/** `spool: queue "x" not found (not_found)`; a stack trace only for what nobody expected. */
function describeFailure(error: unknown): string {
  if (error instanceof SpoolError) return `spool: ${error.message} (${error.code})`;
  const code = (error as { code?: unknown } | null)?.code;
  // System errors (EADDRINUSE, EACCES, ENOENT…) are the machine's answer, not a bug.
  if (error instanceof Error && typeof code === "string" && /^E[A-Z]+$/.test(code)) {
    return `spool: ${error.message}${error.message.includes(code) ? "" : ` (${code})`}`;
  }
  if (error instanceof Error) return `spool: unexpected error: ${error.stack ?? error.message}`;
  return `spool: unexpected error: ${String(error)}`;
}
