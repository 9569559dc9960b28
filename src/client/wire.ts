/**
 * Library arguments → JSON request bodies, where the two differ: JSON has no Date, and a nack's
 * error travels as `{message, kind}`, classified here exactly as the local worker classifies it.
 */
import type { PublishOptions } from "../config/schemas.js";
import type { FailureInfo } from "../core/message.js";
import { classifyError } from "../core/retry-policy.js";
import type { NackOptions } from "../core/operations.js";

/** The route's limit on an error message. */
const MAX_ERROR_MESSAGE = 2000;

export function toWirePublish(body: unknown, options: PublishOptions | undefined): Record<string, unknown> {
  if (options === undefined) return { body };
  const wire: Record<string, unknown> = { ...options, body };
  if (options.availableAt instanceof Date) wire.availableAt = options.availableAt.getTime();
  return wire;
}

function toWireError(error: NackOptions["error"]): FailureInfo | { message: unknown; kind?: unknown } | undefined {
  if (error === undefined) return undefined;
  if (typeof error === "string") return { message: error.slice(0, MAX_ERROR_MESSAGE), kind: "error" };
  if (error instanceof Error) return { message: error.message.slice(0, MAX_ERROR_MESSAGE), kind: classifyError(error) };
  // {message, kind?}: sent as given (truncated), for the server to validate.
  if (error !== null && typeof error === "object" && typeof error.message === "string") return { ...error, message: error.message.slice(0, MAX_ERROR_MESSAGE) };
  return error;
}

export function toWireNack(leaseToken: string, options: NackOptions): Record<string, unknown> {
  const wire: Record<string, unknown> = { leaseToken };
  const error = toWireError(options.error);
  if (error !== undefined) wire.error = error;
  if (options.delayMs !== undefined) wire.delayMs = options.delayMs;
  if (options.release !== undefined) wire.release = options.release;
  if (options.reject !== undefined) wire.reject = options.reject;
  return wire;
}
