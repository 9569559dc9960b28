/**
 * Errors are data: every failure Spool reports carries a stable `code` from this table,
 * the HTTP status the server answers with, and optional structured `details`.
 * `docs/errors.md` documents each code; a unit test keeps the two in step.
 */
export const ERROR_CODES = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  lease_lost: 409,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  queue_full: 429,
  unsupported: 501,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorDetail {
  /** Where the problem is: a JSON-pointer-like path (`/priority`, `/3/body`) or an option name. */
  path: string;
  message: string;
}

export class SpoolError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];

  constructor(code: ErrorCode, message: string, options: { details?: ErrorDetail[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SpoolError";
    this.code = code;
    this.details = options.details ?? [];
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code];
  }
}

export class ValidationError extends SpoolError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super("validation_failed", message, { details });
    this.name = "ValidationError";
  }
}

export class NotFoundError extends SpoolError {
  constructor(message: string) {
    super("not_found", message);
    this.name = "NotFoundError";
  }
}

export class LeaseLostError extends SpoolError {
  constructor(messageId: string) {
    super("lease_lost", `message ${messageId}: the lease token is not the current lease (it expired, was acked, or was never issued)`);
    this.name = "LeaseLostError";
  }
}

export class QueueFullError extends SpoolError {
  /** The queue's overflow policy: with `block` a producer may wait for room and try again. */
  readonly overflow: "reject" | "block";

  constructor(queue: string, maxLength: number, overflow: "reject" | "block" = "reject", message?: string) {
    super("queue_full", message ?? `queue "${queue}" is full: maxLength ${maxLength} reached`);
    this.name = "QueueFullError";
    this.overflow = overflow;
  }
}

export class TooLargeError extends SpoolError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super("too_large", message, { details });
    this.name = "TooLargeError";
  }
}

export class UnavailableError extends SpoolError {
  constructor(message: string, cause?: unknown) {
    super("unavailable", message, { cause });
    this.name = "UnavailableError";
  }
}

export class ConflictError extends SpoolError {
  constructor(message: string) {
    super("conflict", message);
    this.name = "ConflictError";
  }
}

/** A call that needs a capability the store does not declare (`Store.capabilities`): refused, never ignored. */
export class UnsupportedError extends SpoolError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super("unsupported", message, { details });
    this.name = "UnsupportedError";
  }
}

/**
 * Thrown by a handler to say "retrying will not help": the message goes dead at once
 * with reason `permanent_error`. Any error with `retryable === false` counts the same.
 */
export class PermanentError extends Error {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PermanentError";
  }
}

/**
 * Thrown by a handler for a passing failure: the message is retried at once, with no
 * backoff delay, and the attempt still counts. With `retryAfterMs` it is retried after that
 * long instead (a `Retry-After`): the worker nacks with that `delayMs`, which overrides the
 * backoff. Any thrown error with a `retryAfterMs` property gets the same treatment.
 */
export class TransientError extends Error {
  readonly retryable = true;
  /** Retry after this long (ms), in place of the backoff; undefined: at once. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TransientError";
    this.retryAfterMs = options?.retryAfterMs;
  }
}
