/**
 * Real-time delivery over HTTP and WebSocket (docs/batch-delivery.md, "Real-time protocol"):
 * recipient tokens, the `GET /v1/stream` feed, and the HTTP acknowledgements.
 *
 * The stream needs no API key: its recipient token is its auth, checked in `onRequest`, so a
 * bad token is answered 401 over plain HTTP and the connection is never upgraded.
 *
 * `POST /v1/messages/:id/delivered` and `/read` take either an API key (consume scope) or the
 * recipient's own token as `Authorization: Bearer <token>` (a browser without WebSocket), good for
 * that recipient's messages only. The two are told apart before routing — a recipient token has
 * dots, an API key never does (`spool_<base64url>`) — by a route constraint, so each variant has
 * its own auth: the API-key one goes through the server's key check as before, the token one
 * checks the token (401 when it is bad) and refuses another recipient's message (403).
 */
import websocket from "@fastify/websocket";
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import { bearerToken } from "../../auth/api-keys.js";
import { SpoolError, ValidationError } from "../../core/errors.js";
import type { ConnectionHub } from "../../delivery/realtime/connection-hub.js";
import { MAX_CLIENT_FRAME_BYTES } from "../../delivery/realtime/protocol.js";
import { MAX_TOKEN_TTL_MS, type RecipientTokens, type TokenRefusal } from "../../delivery/realtime/recipient-tokens.js";
import { deliveryQueueName } from "../../delivery/queue-names.js";
import type { MessageLog } from "../../delivery/types.js";
import { checkQueueAccess } from "../auth.js";
import { MessageParams, routeSchema } from "../route-schemas.js";
import { answerRefusedUpgrades } from "../socket-errors.js";

export interface RealtimeDeps {
  hub: ConnectionHub;
  log: MessageLog;
  tokens: RecipientTokens;
  /** Catches the log up with other processes sharing its storage before an HTTP ack reads it. */
  sync?: () => Promise<void>;
}

const RecipientIdSchema = Type.String({ minLength: 1, maxLength: 200, pattern: "^[^\\u0000-\\u001f]+$", description: "A recipient id, as in a batch's recipients" });
const RecipientParams = Type.Object({ id: RecipientIdSchema });
const TokenBody = Type.Object(
  { ttlMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: MAX_TOKEN_TTL_MS, description: "Lifetime in ms (default 1 hour, at most 30 days)" })) },
  { additionalProperties: false },
);
const TokenAnswer = Type.Object({ token: Type.String(), expiresAt: Type.Integer({ description: "Ms since the epoch" }) });
const StreamQuery = Type.Object({
  token: Type.Optional(Type.String({ description: "The recipient token (or send it as Authorization: Bearer <token>)" })),
  recipient: Type.Optional(Type.String({ description: "If given, must be the token's recipient" })),
});
const AckAnswer = Type.Object({
  id: Type.String(),
  status: Type.String({ description: "The message's status after the call" }),
  changed: Type.Boolean({ description: "false when the message was already at or past this status" }),
});

const REFUSALS: Record<TokenRefusal, string> = {
  malformed: "the recipient token is malformed",
  bad_signature: "the recipient token's signature does not match (tampered, or from another server)",
  expired: "the recipient token has expired: get a new one",
};

export async function realtimeRoutes(app: FastifyInstance, { hub, log, tokens, sync }: RealtimeDeps): Promise<void> {
  /** The recipient each accepted upgrade request authenticated as. */
  const recipients = new WeakMap<FastifyRequest, string>();

  /** The token's recipient; a malformed, tampered or expired token is 401. */
  const verifiedRecipient = (token: string): string => {
    const check = tokens.verify(token);
    if (!check.ok) throw new SpoolError("unauthorized", REFUSALS[check.reason], { details: [{ path: "/token", message: check.reason }] });
    return check.recipientId;
  };

  await app.register(websocket, {
    options: { maxPayload: MAX_CLIENT_FRAME_BYTES },
    // Closing the server closes the hub: every connection gets 1001 and reconnects elsewhere or later.
    preClose: async () => {
      await hub.close();
      await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
    },
  });
  answerRefusedUpgrades(app.websocketServer);

  app.post<{ Params: Static<typeof RecipientParams>; Body: Static<typeof TokenBody> | undefined }>(
    "/v1/recipients/:id/token",
    {
      schema: { ...routeSchema("delivery", "A signed, expiring token for one recipient's real-time connection", { params: RecipientParams, body: TokenBody }), response: { 200: TokenAnswer } },
      // A token opens its recipient's messages of every batch, whatever the channel queue.
      config: { access: "admin", unlimitedOnly: true },
    },
    async (request) => tokens.issue(request.params.id, request.body?.ttlMs),
  );

  app.route<{ Querystring: Static<typeof StreamQuery> }>({
    method: "GET",
    url: "/v1/stream",
    schema: routeSchema("delivery", "WebSocket: a recipient's live feed (token in ?token= or Authorization: Bearer)", { querystring: StreamQuery }),
    config: { access: "none" },
    onRequest: async (request) => {
      const query = request.query as { token?: unknown; recipient?: unknown };
      const token = typeof query.token === "string" ? query.token : bearerToken(request.headers.authorization);
      if (token === undefined) throw new SpoolError("unauthorized", "missing recipient token: connect with ?token=<token> or Authorization: Bearer <token>");
      const recipientId = verifiedRecipient(token);
      if (query.recipient !== undefined && query.recipient !== recipientId) {
        throw new SpoolError("unauthorized", `the recipient token is for another recipient than ${JSON.stringify(query.recipient)}`, { details: [{ path: "/recipient", message: "not the token's recipient" }] });
      }
      recipients.set(request, recipientId);
    },
    handler: async () => {
      throw new ValidationError("GET /v1/stream is a WebSocket endpoint: send a WebSocket upgrade request (new WebSocket(url))");
    },
    wsHandler: (socket: WebSocket, request: FastifyRequest) => {
      const recipientId = recipients.get(request);
      if (recipientId === undefined) {
        socket.close(1008, "not authenticated");
        return;
      }
      attach(hub, recipientId, socket);
    },
  });

  const acknowledge = (to: "delivered" | "read") => async (request: FastifyRequest<{ Params: Static<typeof MessageParams> }>) => {
    await sync?.();
    const entry = log.get(request.params.id);
    if (entry !== undefined) checkQueueAccess(request, deliveryQueueName(entry.channel));
    const { entry: after, changed } = await hub.acknowledge(request.params.id, to);
    return { id: after.logId, status: after.status, changed };
  };
  /** With the recipient's token: only that recipient's messages (another's → 403 forbidden). */
  const acknowledgeAsRecipient = (to: "delivered" | "read") => async (request: FastifyRequest<{ Params: Static<typeof MessageParams> }>) => {
    const recipientId = recipients.get(request);
    if (recipientId === undefined) throw new SpoolError("unauthorized", "missing recipient token");
    await sync?.();
    const { entry: after, changed } = await hub.acknowledge(request.params.id, to, recipientId);
    return { id: after.logId, status: after.status, changed };
  };
  const checkRecipientToken = async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) throw new SpoolError("unauthorized", "missing Authorization: Bearer <recipient token>");
    recipients.set(request, verifiedRecipient(token));
  };

  app.addConstraintStrategy({
    name: RECIPIENT_TOKEN_CONSTRAINT,
    storage: () => constraintStorage(),
    // Runs for every request once a route uses it: one header read and a character search.
    // undefined (typed away: the router accepts it) = no value, so the unconstrained API-key route matches.
    deriveConstraint: (request: { headers: Record<string, string | string[] | undefined> }) => (looksLikeRecipientToken(request.headers.authorization) ? "yes" : undefined) as string,
    mustMatchWhenDerived: false,
  });

  for (const [to, summary] of [
    ["delivered", "A recipient got a message (same as a WebSocket ack)"],
    ["read", "A recipient read a message (implies delivered)"],
  ] as const) {
    const url = `/v1/messages/:id/${to}`;
    const description = `${summary}. Auth: an API key with the consume scope, or the recipient's own token (Authorization: Bearer <recipient token>) for that recipient's messages only`;
    app.post<{ Params: Static<typeof MessageParams> }>(url, { schema: { ...routeSchema("delivery", description, { params: MessageParams }), response: { 200: AckAnswer } }, config: { access: "consume" } }, acknowledge(to));
    app.post<{ Params: Static<typeof MessageParams> }>(
      url,
      {
        constraints: { [RECIPIENT_TOKEN_CONSTRAINT]: "yes" },
        // The same operation in the API description: documented once, above.
        schema: { ...routeSchema("delivery", description, { params: MessageParams }), response: { 200: AckAnswer }, hide: true },
        config: { access: "none" },
        onRequest: checkRecipientToken,
      },
      acknowledgeAsRecipient(to),
    );
  }
}

const RECIPIENT_TOKEN_CONSTRAINT = "recipientToken";

/** The router's handlers per value of the constraint (only "yes" is used). */
function constraintStorage<H>(): { get(value: unknown): H | null; set(value: unknown, handler: H): void } {
  const handlers = new Map<unknown, H>();
  return { get: (value) => handlers.get(value) ?? null, set: (value, handler) => void handlers.set(value, handler) };
}

/** A recipient token is three dot-separated parts; an API key (`spool_<base64url>`) has no dot. */
function looksLikeRecipientToken(header: string | string[] | undefined): boolean {
  return typeof header === "string" && header.includes(".") && bearerToken(header) !== undefined;
}

/** Connects a `ws` socket to the hub: frames, pongs and the close event go in; the hub sends. */
function attach(hub: ConnectionHub, recipientId: string, socket: WebSocket): void {
  const connection = hub.connect(recipientId, {
    send: (frame) => socket.send(frame),
    ping: () => socket.ping(),
    close: (code, reason) => socket.close(code, reason),
    terminate: () => socket.terminate(),
  });
  socket.on("message", (data, isBinary) => connection.receive(isBinary ? "" : data.toString()));
  socket.on("pong", () => connection.pong());
  socket.on("close", () => connection.closed());
  socket.on("error", () => connection.closed());
}

