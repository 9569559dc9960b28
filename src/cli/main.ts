#!/usr/bin/env node
/** The `spool` command line: `spool --help`. */
import { runCli } from "./run-cli.js";

// No process.exit(): a finished command ends when its work does (so output is never cut
// short), and `spool serve` keeps running until a signal stops it.
process.exitCode = await runCli(process.argv.slice(2));
