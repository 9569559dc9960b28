/**
 * Route schemas are TypeBox schemas, checked by TypeBox's compiler (the same checker as library
 * options) so HTTP errors read like library errors: `body /messages/3/priority: expected
 * integer…`, one detail per problem. Query strings and path parameters arrive as text and are
 * converted to the schema's types first.
 */
import type { TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import type { FastifyInstance, FastifySchemaCompiler } from "fastify";
import { schemaErrors } from "../config/validate.js";
import { ValidationError } from "../core/errors.js";

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Text → schema types, refusing lossy readings: `Value.Convert` reads "1.5" and "1e2" as the
 * integer 1, so a number is kept only if the text reads back as exactly that number; otherwise
 * the text stays and fails the check, which then names what came (`?limit=1.5`).
 */
function convertText(schema: TSchema, input: unknown): unknown {
  if (!isRecord(input)) return Value.Convert(schema, input);
  const value = Value.Convert(schema, { ...input }); // converts in place: keep the text to compare
  if (!isRecord(value)) return value;
  let exact: Record<string, unknown> | undefined;
  for (const [key, text] of Object.entries(input)) {
    const converted = value[key];
    if (typeof text !== "string" || converted === text) continue;
    if ((typeof converted === "number" && Number(text) === converted) || typeof converted === "boolean") continue;
    exact ??= { ...value };
    exact[key] = text;
  }
  return exact ?? value;
}

export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const part = httpPart ?? "body";
  const convert = part === "querystring" || part === "params" || part === "headers";
  return (input: unknown) => {
    const value = convert ? convertText(schema, input) : input;
    if (check.Check(value)) return { value };
    const details = schemaErrors(schema, value);
    const first = details[0];
    const more = details.length > 1 ? ` (and ${details.length - 1} more)` : "";
    return { error: new ValidationError(`${part} ${first.path}: ${first.message}${more}`, details) };
  };
};

function isEmptyObject(value: unknown): boolean {
  return isRecord(value) && Object.keys(value).length === 0;
}

/**
 * Two rules for request bodies, applied before validation:
 * - a request with no body at all (no content type, no bytes) reads as `{}`, so a bare POST or
 *   PUT works where every field is optional (lease, queue options) and names the missing field
 *   where one is required;
 * - a route that takes no body refuses one (other than `{}`): what it would ignore is likely a
 *   client's mistake, and must not succeed silently.
 */
export function installBodyRules(app: FastifyInstance): void {
  app.addHook("preValidation", async (request) => {
    if (request.is404) return;
    const takesBody = request.routeOptions.schema?.body !== undefined;
    if (request.body === undefined) {
      if (takesBody) request.body = {};
      return;
    }
    if (!takesBody && !isEmptyObject(request.body)) {
      const got = JSON.stringify(request.body) ?? typeof request.body;
      throw new ValidationError(`body: ${request.method} ${request.routeOptions.url} takes no body, got ${got.length > 80 ? `${got.slice(0, 77)}...` : got}`, [
        { path: "/", message: "expected no body" },
      ]);
    }
  });
}
