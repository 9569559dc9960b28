import { PublishOptionsSchema, type PublishOptions } from "./config/schemas.js";
import { schemaErrors } from "./config/validate.js";
import { encodeBody, tryEncodeBody } from "./core/body.js";
import { ValidationError, type ErrorDetail } from "./core/errors.js";
import type { PublishCallOptions } from "./message-types.js";
import type { PublishInput } from "./core/operations.js";

/**
 * Turns a library publish call into a store `PublishInput`: validates the options against the
 * shared schema, encodes the body once, and resolves availableAt to epoch ms. A delayMs goes to
 * the store as it is: the store measures it from its own publish time (the clock that owns time).
 * Problems are reported with `pathPrefix` (e.g. `/3` for the fourth item of a batch).
 */
export function toPublishInput(
  queue: string,
  body: unknown,
  options: PublishOptions | undefined,
  maxBodyBytes: number,
  pathPrefix = "",
): PublishInput {
  // Most batch items carry only a body: no options to check, no error context to build.
  if (options === undefined) {
    const json = tryEncodeBody(body, maxBodyBytes);
    if (json !== undefined) return { queue, body: json, priority: 0 };
  }
  const where = `publish to "${queue}"`;
  const details: ErrorDetail[] = [];
  if (options !== undefined) {
    if (options === null || typeof options !== "object") {
      throw new ValidationError(`${where}: options must be an object, got ${options === null ? "null" : typeof options}`, [
        { path: pathPrefix || "/", message: "expected object" },
      ]);
    }
    details.push(...schemaErrors(PublishOptionsSchema, options, pathPrefix));
    if (options.delayMs !== undefined && options.availableAt !== undefined) {
      details.push({ path: `${pathPrefix}/availableAt`, message: "give delayMs or availableAt, not both" });
    }
  }
  if (details.length > 0) {
    const first = details[0];
    throw new ValidationError(`${where}: ${first.path} ${first.message}`, details);
  }
  // Errors keep their class (ValidationError / TooLargeError) and name the item's body.
  const encoded = encodeBody(body, maxBodyBytes, where, `${pathPrefix}/body`);
  const input: PublishInput = { queue, body: encoded, priority: options?.priority ?? 0 };
  if (options === undefined) return input;
  if (options.delayMs !== undefined) input.delayMs = options.delayMs;
  else if (options.availableAt !== undefined) input.availableAt = toEpochMs(options.availableAt);
  if (options.headers !== undefined) input.headers = options.headers;
  if (options.ttlMs !== undefined) input.ttlMs = options.ttlMs;
  if (options.maxAttempts !== undefined) input.maxAttempts = options.maxAttempts;
  if (options.dedupKey !== undefined) input.dedupKey = options.dedupKey;
  if (options.idempotencyKey !== undefined) input.idempotencyKey = options.idempotencyKey;
  if (options.groupKey !== undefined) input.groupKey = options.groupKey;
  if (options.correlationId !== undefined) input.correlationId = options.correlationId;
  if (options.causationId !== undefined) input.causationId = options.causationId;
  return input;
}

/**
 * Takes a call's `transaction` out of its options (the messages' options are validated without
 * it). Allocates only when there is one.
 */
export function splitTransaction<O extends object>(options: (O & PublishCallOptions) | undefined): { options: O | undefined; transaction: unknown } {
  if (options === null || typeof options !== "object" || !("transaction" in options)) return { options, transaction: undefined };
  const { transaction, ...rest } = options;
  return { options: rest as O, transaction };
}

/** The options of a call that publishes many (`publishMany(items, options)`): only `transaction`. */
export function callTransaction(options: PublishCallOptions | undefined, where: string): unknown {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object") {
    throw new ValidationError(`${where}: options must be an object, got ${options === null ? "null" : typeof options}`, [{ path: "/", message: "expected object" }]);
  }
  for (const key of Object.keys(options)) {
    if (key !== "transaction") throw new ValidationError(`${where}: unknown option "${key}"`, [{ path: `/${key}`, message: "unknown option" }]);
  }
  return options.transaction;
}

function toEpochMs(value: number | string | Date): number {
  if (typeof value === "number") return value;
  if (typeof value === "string") return Date.parse(value);
  return value.getTime();
}
