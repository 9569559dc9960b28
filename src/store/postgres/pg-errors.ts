/**
 * What a PostgreSQL failure means to a caller: a lost or refused connection, a server shutting
 * down or a statement timeout is `unavailable` (try again later; nothing was half-done, since
 * every operation is one transaction); the codes the store's own functions raise map to their
 * SpoolErrors; a deadlock or serialization failure is retried by the store before anyone sees it.
 */
import { NotFoundError, QueueFullError, SpoolError, UnavailableError } from "../../core/errors.js";

interface PgLikeError {
  code?: string;
  message?: string;
  detail?: string;
}

/** SQLSTATE classes and codes that mean "the database is not reachable or not serving now". */
const UNAVAILABLE_CLASSES = ["08", "53", "57"];
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "EAI_AGAIN"]);

export function isRetryable(error: unknown): boolean {
  const code = (error as PgLikeError | undefined)?.code;
  return code === "40P01" || code === "40001";
}

export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof UnavailableError) return true;
  const { code, message } = (error ?? {}) as PgLikeError;
  if (code !== undefined && (NETWORK_CODES.has(code) || UNAVAILABLE_CLASSES.includes(code.slice(0, 2)))) return true;
  return typeof message === "string" && /Connection terminated|connection timeout|Client was closed|Client has encountered a connection error|not queryable/i.test(message);
}

/** The SpoolError a failure of `what` is reported as. */
export function toSpoolError(error: unknown, what: string): unknown {
  if (error instanceof SpoolError) return error;
  const { code, message, detail } = (error ?? {}) as PgLikeError;
  if (code === "SP429") {
    const full = JSON.parse(detail ?? "{}") as { queue: string; maxLength: number; overflow: "reject" | "block" };
    return new QueueFullError(full.queue, full.maxLength, full.overflow);
  }
  if (code === "SP404") return new NotFoundError(message ?? "not found");
  if (isConnectionFailure(error)) return new UnavailableError(`${what}: the PostgreSQL store is unavailable: ${message ?? String(error)}`, error);
  return error;
}
