import { FormatRegistry, type TSchema, type Static } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { ValidationError, type ErrorDetail } from "../core/errors.js";

// RFC 3339 date-time: a time zone is required ("Z" or an offset); without one, Date.parse would
// read the time in the server's local zone.
FormatRegistry.Set(
  "date-time",
  (value) => !Number.isNaN(Date.parse(value)) && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(value),
);

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerFor<T extends TSchema>(schema: T): TypeCheck<T> {
  let check = compiled.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check as TypeCheck<T>;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return typeof value;
  }
}

/** "Expected string to match '^[A-Z]+$'" → "expected string to match '^[A-Z]+$'" (patterns keep their case). */
function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/**
 * The rule a schema states for its own errors (`{ errorMessage: "must be …" }`): for a union,
 * TypeBox can only say "expected union value", which tells the reader nothing.
 */
function ruleOf(schema: TSchema): string | undefined {
  const rule: unknown = (schema as { errorMessage?: unknown }).errorMessage;
  return typeof rule === "string" ? rule : undefined;
}

/** The problems `value` has against `schema`, with paths prefixed by `pathPrefix`. */
export function schemaErrors(schema: TSchema, value: unknown, pathPrefix = ""): ErrorDetail[] {
  const check = checkerFor(schema);
  if (check.Check(value)) return [];
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  for (const error of check.Errors(value)) {
    const path = pathPrefix + error.path;
    if (seen.has(path)) continue; // unions report one error per branch; the first says enough
    seen.add(path);
    const unknownKey = error.message.startsWith("Unexpected property");
    const message = unknownKey
      ? `unknown option "${error.path.split("/").pop()}"`
      : `${ruleOf(error.schema) ?? lowerFirst(error.message)}, got ${describe(error.value)}`;
    details.push({ path: path || "/", message });
    if (details.length >= 20) break;
  }
  return details;
}

/**
 * Validates `value` against `schema` and returns it typed, or throws `validation_failed` whose
 * message names the context and the first problem: `queue "emails": /maxAttempts expected integer...`.
 */
export function validate<T extends TSchema>(schema: T, value: unknown, context: string): Static<T> {
  const details = schemaErrors(schema, value);
  if (details.length === 0) return value as Static<T>;
  const first = details[0];
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : "";
  throw new ValidationError(`${context}: ${first.path} ${first.message}${more}`, details);
}
