/**
 * Turns what `spool serve` answers on failure (`{"error":{"code","message","details"}}`) back
 * into the library's error classes, so `err instanceof LeaseLostError` and `err.code` read the
 * same whether the queue is in this process or behind HTTP.
 */
import {
  ConflictError,
  ERROR_CODES,
  LeaseLostError,
  NotFoundError,
  QueueFullError,
  SpoolError,
  TooLargeError,
  UnavailableError,
  UnsupportedError,
  ValidationError,
  type ErrorCode,
  type ErrorDetail,
} from "../core/errors.js";

/** Classes whose constructors build their own message: the server's message replaces it. */
function withMessage<E extends SpoolError>(error: E, message: string): E {
  error.message = message;
  return error;
}

function spoolErrorOf(code: ErrorCode, message: string, details: ErrorDetail[]): SpoolError {
  switch (code) {
    case "validation_failed":
      return new ValidationError(message, details);
    case "not_found":
      return new NotFoundError(message);
    case "lease_lost":
      return withMessage(new LeaseLostError(""), message);
    case "queue_full":
      return withMessage(new QueueFullError("", 0), message);
    case "too_large":
      return new TooLargeError(message, details);
    case "unavailable":
      return new UnavailableError(message);
    case "conflict":
      return new ConflictError(message);
    case "unsupported":
      return new UnsupportedError(message, details);
    default:
      return new SpoolError(code, message, { details });
  }
}

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CODES, value);
}

/** A code for a status when the body names none we know (a proxy's page, a newer server). */
function codeForStatus(status: number): ErrorCode {
  if (status >= 500) return "unavailable";
  for (const [code, codeStatus] of Object.entries(ERROR_CODES)) if (codeStatus === status) return code as ErrorCode;
  return "validation_failed";
}

function detailsOf(value: unknown): ErrorDetail[] {
  if (!Array.isArray(value)) return [];
  return value.filter((d): d is ErrorDetail => d !== null && typeof d === "object" && typeof d.path === "string" && typeof d.message === "string");
}

/** The error an HTTP answer with status ≥ 400 stands for. `what`: the request, e.g. `POST /v1/acks`. */
export function errorFromResponse(status: number, payload: unknown, what: string): SpoolError {
  const envelope = payload !== null && typeof payload === "object" ? (payload as { error?: unknown }).error : undefined;
  const error = envelope !== null && typeof envelope === "object" ? (envelope as { code?: unknown; message?: unknown; details?: unknown }) : {};
  const code = isErrorCode(error.code) ? error.code : codeForStatus(status);
  const said = typeof error.message === "string" ? error.message : undefined;
  // A known code carries the server's own words; anything else says where it came from.
  const message = isErrorCode(error.code) && said !== undefined ? said : `${what}: HTTP ${status}${said === undefined ? "" : ` ${said}`}`;
  return spoolErrorOf(code, message, detailsOf(error.details));
}

/** The server could not be reached, or did not answer in time. */
export function unreachable(what: string, cause: unknown): UnavailableError {
  const reason = describeCause(cause);
  return new UnavailableError(`${what}: the server is unreachable (${reason})`, cause);
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = cause.cause as { code?: unknown; message?: unknown } | undefined;
    if (inner && typeof inner.code === "string") return inner.code; // ECONNREFUSED, ECONNRESET, UND_ERR_…
    if (inner && typeof inner.message === "string") return inner.message;
    return cause.message;
  }
  return String(cause);
}

/** `true` unless the call failed with `not_found`: the library answers `false` where HTTP says 404. */
export async function existed(call: Promise<unknown>): Promise<boolean> {
  try {
    await call;
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}
