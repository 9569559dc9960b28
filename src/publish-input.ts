import { defaults } from "./config/defaults.js";
import { limits } from "./config/limits.js";
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

/** What a publish call asks as a whole, apart from its messages' options. */
export interface CallSettings {
  transaction: unknown;
  waitMs: number;
  signal: AbortSignal | undefined;
}

const CALL_KEYS = new Set(["transaction", "waitMs", "signal"]);
const NO_CALL_SETTINGS: CallSettings = Object.freeze({ transaction: undefined, waitMs: defaults.publish.blockWaitMs, signal: undefined });

/**
 * Takes a call's own settings (`transaction`, `waitMs`, `signal`) out of a single publish's
 * options (the message's options are validated without them). Allocates only when there are some.
 */
export function splitCallOptions<O extends object>(options: (O & PublishCallOptions) | undefined, where: string): { options: O | undefined; call: CallSettings } {
  if (options === null || typeof options !== "object" || !("transaction" in options || "waitMs" in options || "signal" in options)) {
    return { options, call: NO_CALL_SETTINGS };
  }
  const { transaction, waitMs, signal, ...rest } = options;
  return { options: rest as O, call: callSettings({ transaction, waitMs, signal }, where) };
}

/** The options of a call that publishes many (`publishMany(items, options)`): only the call's own. */
export function callOptions(options: PublishCallOptions | undefined, where: string): CallSettings {
  if (options === undefined) return NO_CALL_SETTINGS;
  if (options === null || typeof options !== "object") {
    throw new ValidationError(`${where}: options must be an object, got ${options === null ? "null" : typeof options}`, [{ path: "/", message: "expected object" }]);
  }
  for (const key of Object.keys(options)) {
    if (!CALL_KEYS.has(key)) throw new ValidationError(`${where}: unknown option "${key}"`, [{ path: `/${key}`, message: "unknown option" }]);
  }
  return callSettings(options, where);
}

function callSettings({ transaction, waitMs, signal }: PublishCallOptions, where: string): CallSettings {
  if (waitMs !== undefined && (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > limits.maxPublishWaitMs)) {
    throw new ValidationError(`${where}: waitMs must be an integer from 0 to ${limits.maxPublishWaitMs}, got ${JSON.stringify(waitMs)}`, [
      { path: "/waitMs", message: `an integer from 0 to ${limits.maxPublishWaitMs}` },
    ]);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new ValidationError(`${where}: signal must be an AbortSignal`, [{ path: "/signal", message: "not an AbortSignal" }]);
  }
  return { transaction, waitMs: waitMs ?? defaults.publish.blockWaitMs, signal };
}

function toEpochMs(value: number | string | Date): number {
  if (typeof value === "number") return value;
  if (typeof value === "string") return Date.parse(value);
  return value.getTime();
}
