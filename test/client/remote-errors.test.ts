/** The server's error envelope → the library's error classes, for every code of the table. */
import { expect, it } from "vitest";
import { errorFromResponse } from "../../src/client/remote-errors.js";
import {
  ConflictError,
  ERROR_CODES,
  LeaseLostError,
  NotFoundError,
  QueueFullError,
  SpoolError,
  TooLargeError,
  UnavailableError,
  ValidationError,
  type ErrorCode,
} from "../../src/index.js";

const CLASSES: Partial<Record<ErrorCode, new (...args: never[]) => SpoolError>> = {
  validation_failed: ValidationError,
  not_found: NotFoundError,
  lease_lost: LeaseLostError,
  queue_full: QueueFullError,
  too_large: TooLargeError,
  unavailable: UnavailableError,
  conflict: ConflictError,
};

it("every code comes back with its class, the server's message and its details", () => {
  for (const [code, status] of Object.entries(ERROR_CODES) as Array<[ErrorCode, number]>) {
    const details = [{ path: "/x", message: "bad" }];
    const error = errorFromResponse(status, { error: { code, message: `said ${code}`, details } }, "POST /v1/x");
    expect(error).toBeInstanceOf(CLASSES[code] ?? SpoolError);
    expect(error.code).toBe(code);
    expect(error.message).toBe(`said ${code}`);
    if (code === "validation_failed" || code === "too_large") expect(error.details).toEqual(details);
  }
});

it("an answer without a code we know is classified by its status", () => {
  expect(errorFromResponse(500, { error: { code: "internal", message: "internal error" } }, "GET /v1/queues").code).toBe("unavailable");
  expect(errorFromResponse(502, "<html>Bad Gateway</html>", "GET /v1/queues")).toBeInstanceOf(UnavailableError);
  expect(errorFromResponse(404, undefined, "GET /v1/nope")).toBeInstanceOf(NotFoundError);
  expect(errorFromResponse(429, {}, "POST /v1/queues/q/messages").code).toBe("queue_full");
  expect(errorFromResponse(418, null, "GET /").code).toBe("validation_failed");
  // Malformed details are dropped rather than trusted.
  expect(errorFromResponse(400, { error: { code: "validation_failed", message: "m", details: [{ path: 1 }, "x", { path: "/a", message: "b" }] } }, "x").details).toEqual([
    { path: "/a", message: "b" },
  ]);
});
