import { TooLargeError, ValidationError } from "./errors.js";

/**
 * Encodes a message body as JSON text once, at the boundary; stores keep the text.
 * Rejects what JSON cannot carry (undefined, functions, symbols, BigInt, cycles) and bodies
 * over `maxBytes` (UTF-8), saying where.
 */
export function encodeBody(body: unknown, maxBytes: number, where: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(body);
  } catch (error) {
    throw new ValidationError(`${where}: body is not JSON-serialisable (${(error as Error).message})`, [
      { path: "/body", message: "not JSON-serialisable" },
    ]);
  }
  if (json === undefined) {
    throw new ValidationError(`${where}: body is not JSON-serialisable, got ${typeof body}`, [
      { path: "/body", message: `not JSON-serialisable: ${typeof body}` },
    ]);
  }
  // A UTF-8 character takes at most 3 bytes per UTF-16 unit: skip the count when it cannot matter.
  if (json.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(json);
    if (bytes > maxBytes) throw new TooLargeError(`${where}: body is ${bytes} bytes, over the ${maxBytes}-byte limit`);
  }
  return json;
}
