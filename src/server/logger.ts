/**
 * The server's default logger: pino JSON lines on stdout, for log shippers and `jq`; readable,
 * coloured lines (pino-pretty) when stdout is a terminal, where a person reads them. pino-pretty
 * is loaded only then, and formats in this thread and synchronously, like pino's own stdout
 * destination: nothing is lost when the process exits right after its last line.
 */
import { pino, type Logger, type LoggerOptions } from "pino";

export interface ServerLoggerOptions {
  level: string;
  /** Default: stdout. */
  destination?: NodeJS.WritableStream & { isTTY?: boolean };
}

export async function serverLogger(options: ServerLoggerOptions): Promise<Logger> {
  const settings: LoggerOptions = { level: options.level, name: "spool" };
  const destination = options.destination ?? process.stdout;
  if (destination.isTTY !== true) return options.destination ? pino(settings, destination) : pino(settings);
  const { default: pretty } = await import("pino-pretty");
  // colorize is left to pino-pretty, which honours NO_COLOR and FORCE_COLOR.
  return pino(settings, pretty({ destination, sync: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }));
}
