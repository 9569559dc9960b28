/**
 * Every failure leaves the server as `{"error":{"code","message","details"}}` with the status of
 * its code (core/errors.ts). Fastify's own errors (bad JSON, body too large, wrong content type)
 * are translated; anything unexpected is logged in full and answered as a bare 500, never with
 * a stack trace.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ERROR_CODES, QueueFullError, SpoolError, type ErrorCode, type ErrorDetail } from "../core/errors.js";

export interface ErrorBody {
  error: { code: ErrorCode | "internal"; message: string; details?: ErrorDetail[] };
}

/** Fastify error codes for request problems, and what the client is told. */
const FASTIFY_ERRORS: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "validation_failed",
  FST_ERR_CTP_EMPTY_JSON_BODY: "validation_failed",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "validation_failed",
  FST_ERR_CTP_BODY_TOO_LARGE: "too_large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_CTP_INVALID_TYPE: "unsupported_media_type",
  FST_ERR_VALIDATION: "validation_failed",
};

export function errorBody(code: ErrorCode, message: string, details?: ErrorDetail[]): ErrorBody {
  return { error: details && details.length > 0 ? { code, message, details } : { code, message } };
}

function sendError(reply: FastifyReply, error: SpoolError): FastifyReply {
  // A queue that blocks its producers asks an HTTP producer to come back, as a library one waits.
  if (error instanceof QueueFullError && error.overflow === "block") reply.header("retry-after", "1");
  return reply.code(ERROR_CODES[error.code]).send(errorBody(error.code, error.message, error.details));
}

function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof SpoolError) {
    if (error.code === "unavailable") request.log.warn({ err: error }, "store unavailable");
    return sendError(reply, error);
  }
  const fastifyCode = (error as FastifyError).code;
  const code = fastifyCode === undefined ? undefined : FASTIFY_ERRORS[fastifyCode];
  if (code !== undefined) {
    const message = code === "unsupported_media_type" ? `unsupported content type ${JSON.stringify(request.headers["content-type"] ?? "")}: send application/json` : error.message;
    return reply.code(ERROR_CODES[code]).send(errorBody(code, message));
  }
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // A client error Fastify raised that has no code of ours: keep its status, say what it said.
    return reply.code(status).send(errorBody("validation_failed", error.message));
  }
  request.log.error({ err: error }, "unhandled error");
  return reply.code(500).send({ error: { code: "internal", message: "internal error (logged on the server)" } });
}

/**
 * Longest path parameter the router accepts: a name of 200 characters fits even with every
 * character %-encoded, so the route's schema (not the router) says what is wrong with a long one.
 */
export const MAX_PATH_PARAM_LENGTH = 1000;

/** What the router refuses before any route runs (Fastify's `frameworkErrors`): the same envelope. */
export function handleFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error.code === "FST_ERR_BAD_URL") {
    return reply.code(400).send(errorBody("validation_failed", "path: not a valid URL (malformed %-encoding)"));
  }
  if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    return reply.code(400).send(errorBody("validation_failed", `path: a parameter is too long (over ${MAX_PATH_PARAM_LENGTH} characters)`));
  }
  return handleError(error, request, reply);
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody("not_found", `no route ${request.method} ${request.url.split("?")[0]}`));
  });
}
