/** Publishing, leasing and settling messages: the hot routes. */
import type { Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { NotFoundError, SpoolError } from "../../core/errors.js";
import { checkQueueAccess, needsQueueLookup } from "../auth.js";
import { leasedMessagesJson } from "../message-json.js";
import { AckBody, AcksBody, ExtendBody, LeaseBody, MessageParams, NackBody, ProgressBody, PublishBatchBody, PublishBody, QueueParams, routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";

/** A full queue with overflow `block` answers at once (429 with Retry-After): the client waits, not the server. */
const NO_WAIT = Object.freeze({ waitMs: 0 });

type QueueRoute<B> = { Params: Static<typeof QueueParams>; Body: B };
type MessageRoute<B> = { Params: Static<typeof MessageParams>; Body: B };

/**
 * `gone` aborts when the client goes away before its answer is sent; `signal` also when the
 * server shuts down. A long-poll stops waiting on either.
 */
function requestSignals(request: FastifyRequest, reply: FastifyReply, shutdown: AbortSignal): { signal: AbortSignal; gone: AbortSignal } {
  const gone = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) gone.abort();
  });
  request.raw.once("aborted", () => gone.abort());
  return { signal: AbortSignal.any([gone.signal, shutdown]), gone: gone.signal };
}

/**
 * The library names a batch item by its index (`/3/body`); in the HTTP body the items sit under
 * `messages`, so the paths become `/messages/3/body`, as the schema's own errors say them.
 */
function inBatchBody(error: unknown): unknown {
  const item = /^\/\d+(\/|$)/;
  if (!(error instanceof SpoolError) || !error.details.some((detail) => item.test(detail.path))) return error;
  const details = error.details.map((detail) => (item.test(detail.path) ? { ...detail, path: `/messages${detail.path}` } : detail));
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : "";
  return new SpoolError(error.code, `body ${details[0].path}: ${details[0].message}${more}`, { details, cause: error });
}

export function messageRoutes(app: FastifyInstance, { spool, shutdown, observer }: ServerContext): void {
  /** A key limited to some queues may settle only messages of those queues. */
  async function checkMessageAccess(request: FastifyRequest, id: string): Promise<void> {
    if (!needsQueueLookup(request)) return;
    const status = await spool.status(id);
    // An unknown id is left to the settle call, which answers lease_lost as it would anyway.
    if (status !== undefined) checkQueueAccess(request, status.queue);
  }

  app.post<QueueRoute<Static<typeof PublishBody>>>(
    "/v1/queues/:q/messages",
    { schema: routeSchema("messages", "Publish one message (an unknown queue is created with defaults)", { params: QueueParams, body: PublishBody }), config: { access: "publish" } },
    async (request, reply) => {
      const { body, ...options } = request.body;
      const result = await spool.queue(request.params.q).publish(body, { ...options, ...NO_WAIT });
      return reply.code(201).send(result);
    },
  );

  app.post<QueueRoute<Static<typeof PublishBatchBody>>>(
    "/v1/queues/:q/messages/batch",
    { schema: routeSchema("messages", "Publish up to 10,000 messages atomically: all or none", { params: QueueParams, body: PublishBatchBody }), config: { access: "publish" } },
    async (request, reply) => {
      const results = await spool.queue(request.params.q).publishMany(request.body.messages, NO_WAIT).catch((error: unknown) => {
        throw inBatchBody(error);
      });
      return reply.code(201).send({ results });
    },
  );

  app.post<QueueRoute<Static<typeof LeaseBody> | undefined>>(
    "/v1/queues/:q/lease",
    { schema: routeSchema("messages", "Lease messages; with waitMs, long-poll until one is leasable", { params: QueueParams, body: LeaseBody }), config: { access: "consume" } },
    async (request, reply) => {
      const { max = 1, leaseMs, waitMs = 0 } = request.body ?? {};
      // Declares the queue (a consumer may start before any producer), like the library's lease.
      const signals = waitMs > 0 ? requestSignals(request, reply, shutdown) : undefined;
      const leased = await spool.queue(request.params.q).leaseStored({ max, leaseMs, waitMs, signal: signals?.signal });
      if (signals?.gone.aborted && leased.length > 0) {
        // Leased in the instant the client hung up: nobody will see them, so give them back
        // at once rather than let them wait out the lease and lose an attempt.
        await Promise.allSettled(leased.map((m) => spool.nack(m.id, m.leaseToken, { release: true })));
        return reply.send({ messages: [] });
      }
      if (leased.length > 0) observer?.leased?.(leased);
      return reply.type("application/json; charset=utf-8").send(leasedMessagesJson(leased));
    },
  );

  app.post<MessageRoute<Static<typeof AckBody>>>(
    "/v1/messages/:id/ack",
    { schema: routeSchema("messages", "Complete a leased message", { params: MessageParams, body: AckBody }), config: { access: "consume" } },
    async (request, reply) => {
      await checkMessageAccess(request, request.params.id);
      const { leaseToken, result } = request.body;
      await (result === undefined ? spool.ack(request.params.id, leaseToken) : spool.ack(request.params.id, leaseToken, { result }));
      observer?.acked?.(request.params.id);
      return reply.code(204).send();
    },
  );

  app.post<MessageRoute<Static<typeof NackBody>>>(
    "/v1/messages/:id/nack",
    { schema: routeSchema("messages", "Fail a delivery: retry with backoff, or dead-letter", { params: MessageParams, body: NackBody }), config: { access: "consume" } },
    async (request) => {
      await checkMessageAccess(request, request.params.id);
      const { leaseToken, ...options } = request.body;
      const outcome = await spool.nack(request.params.id, leaseToken, options);
      observer?.forgetLease?.(request.params.id);
      return outcome;
    },
  );

  app.post<MessageRoute<Static<typeof ProgressBody>>>(
    "/v1/messages/:id/progress",
    { schema: routeSchema("messages", "Report a leased message's progress and add lines to its log (shown by GET /v1/messages/:id)", { params: MessageParams, body: ProgressBody }), config: { access: "consume" } },
    async (request, reply) => {
      await checkMessageAccess(request, request.params.id);
      const { leaseToken, progress, log } = request.body;
      await spool.report(request.params.id, leaseToken, { progress, log });
      return reply.code(204).send();
    },
  );

  app.post<MessageRoute<Static<typeof ExtendBody>>>(
    "/v1/messages/:id/extend",
    { schema: routeSchema("messages", "Extend a lease to now + leaseMs", { params: MessageParams, body: ExtendBody }), config: { access: "consume" } },
    async (request) => {
      await checkMessageAccess(request, request.params.id);
      return spool.extend(request.params.id, request.body.leaseToken, request.body.leaseMs);
    },
  );

  app.post<{ Body: Static<typeof AcksBody> }>(
    "/v1/acks",
    { schema: routeSchema("messages", "Complete many leased messages in one durable write", { body: AcksBody }), config: { access: "consume" } },
    async (request) => {
      for (const { id } of needsQueueLookup(request) ? request.body.acks : []) await checkMessageAccess(request, id);
      const results = await spool.ackMany(request.body.acks);
      if (observer?.acked) for (const result of results) if (result.ok) observer.acked(result.id);
      return { results };
    },
  );

  app.get<{ Params: Static<typeof MessageParams> }>(
    "/v1/messages/:id/body",
    { schema: routeSchema("messages", "A message's body and headers, while kept (waiting, leased, dead)", { params: MessageParams }), config: { access: "admin" } },
    async (request) => {
      const content = await spool.peek(request.params.id);
      if (content === undefined) throw new NotFoundError(`message ${request.params.id}: no body kept (unknown, or completed: a completed message's body is not kept)`);
      checkQueueAccess(request, content.queue);
      return content;
    },
  );

  app.get<{ Params: Static<typeof MessageParams> }>(
    "/v1/messages/:id",
    { schema: routeSchema("messages", "Where a message is in its life", { params: MessageParams }), config: { access: "read" } },
    async (request) => {
      const status = await spool.status(request.params.id);
      if (status === undefined) throw new NotFoundError(`message ${request.params.id} not found (unknown, or completed longer ago than the queue's retention)`);
      checkQueueAccess(request, status.queue);
      return status;
    },
  );
}
