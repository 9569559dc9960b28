/**
 * The parser of `application/json` request bodies: Fastify's own (which refuses `__proto__` and
 * `constructor.prototype` keys), behind a bound on nesting depth checked on the raw text. A body
 * nested thousands of levels deep parses, but overflows the stack of whatever walks it next; it
 * is refused before parsing with `validation_failed`, on every route, whatever the route takes.
 */
import type { FastifyInstance } from "fastify";
import { ValidationError } from "../core/errors.js";
import { MAX_JSON_DEPTH, jsonDepthExceeds } from "../util/json-depth.js";

export function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body: string, done) => {
    if (jsonDepthExceeds(body, MAX_JSON_DEPTH)) {
      done(
        new ValidationError(`body: JSON nested deeper than ${MAX_JSON_DEPTH} levels (arrays and objects); at most ${MAX_JSON_DEPTH} are accepted`, [
          { path: "/", message: `nested deeper than ${MAX_JSON_DEPTH} levels` },
        ]),
      );
      return;
    }
    void parse(request, body, done);
  });
}
