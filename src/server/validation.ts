/**
 * Route schemas are TypeBox schemas, checked by TypeBox's compiler (the same checker as library
 * options) so HTTP errors read like library errors: `body /messages/3/priority: expected
 * integer…`, one detail per problem. Query strings and path parameters arrive as text and are
 * converted to the schema's types first.
 */
import type { TSchema } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import type { FastifySchemaCompiler } from "fastify";
import { schemaErrors } from "../config/validate.js";
import { ValidationError } from "../core/errors.js";

export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  const part = httpPart ?? "body";
  const convert = part === "querystring" || part === "params" || part === "headers";
  return (input: unknown) => {
    const value = convert ? Value.Convert(schema, input) : input;
    if (check.Check(value)) return { value };
    const details = schemaErrors(schema, value);
    const first = details[0];
    const more = details.length > 1 ? ` (and ${details.length - 1} more)` : "";
    return { error: new ValidationError(`${part} ${first.path}: ${first.message}${more}`, details) };
  };
};
