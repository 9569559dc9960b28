import { TooLargeError, ValidationError } from "./errors.js";

/**
 * Encodes a message body as JSON text once, at the boundary; stores keep its UTF-8 bytes.
 * Rejects what JSON cannot carry (undefined, functions, symbols, BigInt, cycles) and bodies
 * over `maxBytes` (UTF-8), saying where: `path` names the body in the error details (`/3/body`
 * for the fourth item of a batch).
 */
export function encodeBody(body: unknown, maxBytes: number, where: string, path = "/body"): string {
  return tryEncodeBody(body, maxBytes) ?? explainBody(body, maxBytes, where, path);
}

/**
 * The JSON text of a body that is fine, or `undefined` if `encodeBody` would reject it: the hot
 * path, which builds no error context (call `encodeBody` for the error).
 */
export function tryEncodeBody(body: unknown, maxBytes: number): string | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(body);
  } catch {
    return undefined;
  }
  if (json === undefined) return undefined;
  if (json.length * 3 > maxBytes && Buffer.byteLength(json) > maxBytes) return undefined;
  // JSON.stringify can return a rope of string pieces; flatten it once (Number() reads the
  // whole string, which makes V8 flatten it in place), as every later step reads it whole.
  Number(json);
  return json;
}

/** Throws the error that says why `body` cannot be a message body. */
function explainBody(body: unknown, maxBytes: number, where: string, path: string): never {
  let json: string | undefined;
  try {
    json = JSON.stringify(body);
  } catch (error) {
    throw new ValidationError(`${where}: ${path} is not JSON-serialisable (${(error as Error).message})`, [
      { path, message: "not JSON-serialisable" },
    ]);
  }
  if (json === undefined) {
    throw new ValidationError(`${where}: ${path} is not JSON-serialisable, got ${typeof body}`, [
      { path, message: `not JSON-serialisable: ${typeof body}` },
    ]);
  }
  // A UTF-8 character takes at most 3 bytes per UTF-16 unit: skip the count when it cannot matter.
  if (json.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(json);
    if (bytes > maxBytes) {
      throw new TooLargeError(`${where}: ${path} is ${bytes} bytes, over the ${maxBytes}-byte limit`, [
        { path, message: `${bytes} bytes, over the ${maxBytes}-byte limit` },
      ]);
    }
  }
  // Only a body whose encoding changes from call to call (a toJSON with side effects) gets here.
  throw new ValidationError(`${where}: ${path} encodes differently each time it is serialised`, [{ path, message: "unstable JSON encoding" }]);
}
